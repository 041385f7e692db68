//! With a realistic amount of data the hot queries read their indexes, never the whole table.
//! The test asserts on the plan (node types and index names), not on time.

use serde_json::Value;
use sqlx::AssertSqlSafe;
use verdict_core::domain::{
    FleetCursor, FleetQuery, Overall, PageLimit, ProviderConnectionId, RunCursor, RunId, RunListQuery, TenantId,
    TenantScope, WorkspaceId,
};
use verdict_postgres::queries;

use crate::support::store;

/// 100k runs over 5,000 identities and 50 tenants, created one second apart; the newest 1,000
/// (each of another identity) are still queued, the rest completed with a report.
const SEED: &str = "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, \
     outcome, summary_counts, failure_summary, context, attempt, created_at, started_at, completed_at, overall) \
     SELECT gen_random_uuid(), 1, 1 + g % 50, 'provider.connection.check', \
         encode(sha256(convert_to('identity-' || (g % 5000), 'UTF8')), 'hex'), \
         CASE WHEN g > 99000 THEN 'queued' ELSE 'completed' END, \
         CASE WHEN g > 99000 THEN 'pending' ELSE 'succeeded' END, \
         CASE WHEN g > 99000 THEN NULL ELSE '{\"total\": 0}'::jsonb END, \
         CASE WHEN g > 99000 THEN NULL ELSE '[]'::jsonb END, \
         CASE WHEN g > 99000 THEN '{}'::jsonb ELSE '{\"verification_report\": {\"checks\": []}}'::jsonb END, \
         CASE WHEN g > 99000 THEN 0 ELSE 1 END, \
         now() - (100000 - g) * interval '1 second', \
         CASE WHEN g > 99000 THEN NULL ELSE now() - (100000 - g) * interval '1 second' END, \
         CASE WHEN g > 99000 THEN NULL ELSE now() - (100000 - g) * interval '1 second' END, \
         CASE WHEN g > 99000 THEN NULL ELSE 'ready' END \
     FROM generate_series(1, 100000) AS g";

/// Every (node type, index name) of a JSON plan, depth first.
fn nodes(plan: &Value, out: &mut Vec<(String, Option<String>)>) {
    let text = |key: &str| plan.get(key).and_then(Value::as_str).map(str::to_owned);
    if let Some(kind) = text("Node Type") {
        out.push((kind, text("Index Name")));
    }
    for child in plan.get("Plans").and_then(Value::as_array).into_iter().flatten() {
        nodes(child, out);
    }
}

async fn plan_of(
    pool: &sqlx::PgPool,
    sql: &str,
    binds: impl FnOnce(PlanQuery<'_>) -> PlanQuery<'_>,
) -> Vec<(String, Option<String>)> {
    let explain = format!("EXPLAIN (FORMAT JSON) {sql}");
    let query = binds(sqlx::query_scalar(AssertSqlSafe(explain)));
    let plan: Value = query.fetch_one(pool).await.unwrap();
    let mut out = Vec::new();
    nodes(&plan[0]["Plan"], &mut out);
    out
}

type PlanQuery<'q> = sqlx::query::QueryScalar<'q, sqlx::Postgres, Value, sqlx::postgres::PgArguments>;

fn assert_reads_index(plan: &[(String, Option<String>)], index: &str, what: &str) {
    assert!(
        plan.iter().any(|(kind, name)| kind.starts_with("Index") && name.as_deref() == Some(index)),
        "{what} must read {index}: {plan:?}"
    );
    assert!(!plan.iter().any(|(kind, _)| kind == "Seq Scan"), "{what} must not scan the table: {plan:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_queries_use_their_indexes_on_100k_runs() {
    let (store, _db) = store().await;
    let pool = store.pool();
    sqlx::raw_sql(SEED).execute(pool).await.unwrap();
    sqlx::raw_sql("ANALYZE operation_runs").execute(pool).await.unwrap();
    let identity: String = sqlx::query_scalar("SELECT encode(sha256(convert_to('identity-42', 'UTF8')), 'hex')")
        .fetch_one(pool)
        .await
        .unwrap();
    let now = chrono::Utc::now();

    let previous =
        plan_of(pool, queries::PREVIOUS_REPORT, |q| q.bind(identity.clone()).bind(now).bind(uuid::Uuid::max())).await;
    assert_reads_index(&previous, "operation_runs_identity_recent_idx", "the previous-report look-up");

    let latest = plan_of(pool, queries::LATEST_RUN, |q| q.bind(identity.clone())).await;
    assert_reads_index(&latest, "operation_runs_identity_recent_idx", "the latest-run look-up");

    let claim = plan_of(pool, queries::CLAIM_NEXT, |q| q.bind("worker-1").bind(now).bind(now)).await;
    assert_reads_index(&claim, "operation_runs_queue_idx", "the claim's queued branch");
    assert_reads_index(&claim, "operation_runs_lease_expiry_idx", "the claim's expired-lease branch");

    let listing = RunListQuery {
        workspace_id: WorkspaceId::new(1).unwrap(),
        tenant_id: TenantId::new(11).unwrap(),
        flow: None,
        status: None,
        provider_connection_id: None,
        limit: PageLimit::new(50).unwrap(),
        after: Some(RunCursor {
            created_at: now - chrono::Duration::hours(10),
            id: RunId::from_uuid(uuid::Uuid::max()),
        }),
    };
    let plan: Value =
        queries::list_runs("EXPLAIN (FORMAT JSON) ", &listing).build_query_scalar().fetch_one(pool).await.unwrap();
    let mut page = Vec::new();
    nodes(&plan[0]["Plan"], &mut page);
    assert_reads_index(&page, "operation_runs_listing_idx", "a keyset page");

    // What `/metrics` reads: the active runs through one of the two partial indexes that hold
    // only them, not the 100k history.
    let depth = plan_of(pool, queries::QUEUE_DEPTH, |q| q).await;
    let active_only = ["operation_runs_queue_idx", "operation_runs_active_identity_uidx"];
    assert!(
        depth
            .iter()
            .any(|(kind, name)| kind.contains("Index") && name.as_deref().is_some_and(|n| active_only.contains(&n))),
        "the queue depth must read a partial index of active runs: {depth:?}"
    );
    assert!(!depth.iter().any(|(kind, _)| kind == "Seq Scan"), "the queue depth must not scan the table: {depth:?}");

    let scope = plan_of(pool, queries::RUN_SCOPE, |q| q.bind(uuid::Uuid::max())).await;
    assert_reads_index(&scope, "operation_runs_scope_key", "the run scope (index only, no heap)");
}

/// 10,000 connections of workspace 1 over 50 tenants, each with a schedule and three runs (the
/// newest of every tenth still queued), plus another workspace's 1,000.
const FLEET_SEED: &str = "INSERT INTO provider_connections (id, workspace_id, tenant_id, display_name, entra_tenant_id, \
     client_id, client_secret_ciphertext, secret_updated_at, created_at, updated_at) \
     SELECT md5('connection-' || g)::uuid, CASE WHEN g > 10000 THEN 2 ELSE 1 END, 1 + g % 50, 'Connection ' || g, \
         '6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f', '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', '\\x01', now(), now(), now() \
     FROM generate_series(1, 11000) AS g;
     INSERT INTO verification_schedules (provider_connection_id, workspace_id, tenant_id, flow, schedule_interval, \
         interval_seconds, next_run_at, created_at, updated_at) \
     SELECT id, workspace_id, tenant_id, 'provider.connection.check', 'PT6H', 21600, now(), now(), now() \
     FROM provider_connections;
     INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, run_identity_hash, \
         status, outcome, summary_counts, failure_summary, context, attempt, created_at, started_at, completed_at, \
         overall, change_state) \
     SELECT gen_random_uuid(), c.workspace_id, c.tenant_id, c.id, 'provider.connection.check', \
         encode(sha256(convert_to(c.id::text, 'UTF8')), 'hex'), \
         CASE WHEN n = 3 AND g % 10 = 0 THEN 'queued' ELSE 'completed' END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN 'pending' ELSE 'succeeded' END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN NULL ELSE '{\"total\": 0}'::jsonb END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN NULL ELSE '[]'::jsonb END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN '{}'::jsonb ELSE '{\"verification_report\": {\"checks\": []}}'::jsonb END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN 0 ELSE 1 END, \
         now() - (4 - n) * interval '1 hour', \
         CASE WHEN n = 3 AND g % 10 = 0 THEN NULL ELSE now() - (4 - n) * interval '1 hour' END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN NULL ELSE now() - (4 - n) * interval '1 hour' END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN NULL WHEN g % 7 = 0 THEN 'blocked' ELSE 'ready' END, \
         CASE WHEN n = 3 AND g % 10 = 0 THEN NULL ELSE 'unchanged' END \
     FROM (SELECT c.*, row_number() OVER (ORDER BY id) AS g FROM provider_connections c) c, generate_series(1, 3) AS n";

/// A fleet query of workspace 1: tenants, position, overall, staleness cut-off, a page of 50.
fn fleet_query(
    tenants: Option<Vec<i64>>,
    after: Option<(i64, uuid::Uuid)>,
    overall: Option<Overall>,
    stale_before: Option<chrono::DateTime<chrono::Utc>>,
) -> FleetQuery {
    FleetQuery {
        workspace_id: WorkspaceId::new(1).unwrap(),
        visible: tenants.map_or(TenantScope::All, |t| {
            TenantScope::Only(t.into_iter().map(|t| TenantId::new(t).unwrap()).collect())
        }),
        tenant_id: None,
        overall,
        expiring_before: None,
        stale_before,
        after: after.map(|(tenant, id)| FleetCursor {
            tenant_id: TenantId::new(tenant).unwrap(),
            provider_connection_id: ProviderConnectionId::from_uuid(id),
        }),
        fetch_limit: 51,
    }
}

/// The JSON plan of the fleet query the store would run for `query`, explained with `explain`.
async fn fleet_plan(pool: &sqlx::PgPool, explain: &'static str, query: &FleetQuery) -> Value {
    let plan: Value = queries::fleet_status(explain, query).build_query_scalar().fetch_one(pool).await.unwrap();
    plan[0]["Plan"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_status_of_10k_connections_reads_indexes() {
    let (store, _db) = store().await;
    let pool = store.pool();
    sqlx::raw_sql(FLEET_SEED).execute(pool).await.unwrap();
    sqlx::raw_sql("ANALYZE provider_connections; ANALYZE operation_runs; ANALYZE verification_schedules")
        .execute(pool)
        .await
        .unwrap();
    let stale = Some(chrono::Utc::now() - chrono::Duration::hours(2));
    let cases = [
        ("the first page", fleet_query(None, None, None, None)),
        ("a later page", fleet_query(None, Some((25, uuid::Uuid::max())), None, None)),
        ("an entitled caller's page", fleet_query(Some((1..=10).collect()), None, None, None)),
        ("the blocked ones", fleet_query(None, None, Some(Overall::Blocked), None)),
        ("the stale ones", fleet_query(None, None, None, stale)),
    ];
    for (what, query) in cases {
        let mut plan = Vec::new();
        nodes(&fleet_plan(pool, "EXPLAIN (FORMAT JSON) ", &query).await, &mut plan);
        assert_reads_index(&plan, "provider_connections_fleet_idx", what);
        assert_reads_index(&plan, "operation_runs_connection_recent_idx", what);
        assert_reads_index(&plan, "operation_runs_connection_completed_idx", what);
    }
}

/// A workspace whose statistics PostgreSQL has not gathered yet (a fresh database, or one that
/// grew faster than autovacuum's analyze): 3 000 connections, a run for each, and 5 000 runs of
/// the same tenant naming connections that do not exist (blocked starts).
const UNANALYZED_SEED: &str = "INSERT INTO provider_connections (id, workspace_id, tenant_id, display_name, \
         entra_tenant_id, client_id, client_secret_ciphertext, created_at, updated_at) \
     SELECT gen_random_uuid(), 1, 10, 'C' || g, '00000000-0000-0000-0000-000000000001', \
         '00000000-0000-0000-0000-000000000001', '\\x00', now(), now() FROM generate_series(1, 3000) AS g;
     INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, run_identity_hash, \
         status, outcome, initiator_user_id, created_at) \
     SELECT gen_random_uuid(), 1, 10, id, 'provider.connection.check', md5(id::text) || md5(id::text), \
         'queued', 'pending', 'u', now() FROM provider_connections;
     INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, run_identity_hash, \
         status, outcome, initiator_user_id, created_at) \
     SELECT gen_random_uuid(), 1, 10, gen_random_uuid(), 'provider.connection.check', \
         md5(g::text) || md5((g + 1)::text), 'queued', 'pending', 'u', now() FROM generate_series(1, 5000) AS g";

/// Without statistics the planner once took the tenant's listing index for each connection's
/// newest run (its order for free, the connection as a filter): every connection read every run
/// of its tenant, 16 s for a page of 6 000 connections. The connection index holds the scope
/// columns too, so it is the better match whatever the statistics say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_status_reads_the_connection_index_before_statistics_exist() {
    let (store, _db) = store().await;
    let pool = store.pool();
    sqlx::raw_sql(UNANALYZED_SEED).execute(pool).await.unwrap();
    let query = fleet_query(None, None, None, None);
    let plan = fleet_plan(pool, "EXPLAIN (ANALYZE, FORMAT JSON) ", &query).await;
    let mut found = Vec::new();
    nodes(&plan, &mut found);
    let reads =
        |index: &str| found.iter().any(|(kind, name)| kind.starts_with("Index") && name.as_deref() == Some(index));
    assert!(reads("operation_runs_connection_recent_idx"), "the newest run comes from the connection index: {found:?}");
    assert!(reads("operation_runs_connection_completed_idx"), "the newest completion too: {found:?}");
    assert!(!reads("operation_runs_listing_idx"), "no connection reads its tenant's whole listing: {found:?}");
    // A page joins a page of connections, not the workspace's 3 000 (the planner, without
    // statistics, once joined them all and sorted afterwards).
    let probes = loops_of(&plan, "operation_runs_connection_recent_idx");
    assert!(probes <= 51, "{probes} connections joined for a page of 50: {plan:#}");
}

/// How many times the plan node reading `index` ran (`EXPLAIN ANALYZE`'s actual loops).
fn loops_of(plan: &Value, index: &str) -> u64 {
    if plan.get("Index Name").and_then(Value::as_str) == Some(index) {
        return plan.get("Actual Loops").and_then(Value::as_u64).unwrap_or(0);
    }
    plan.get("Plans").and_then(Value::as_array).into_iter().flatten().map(|child| loops_of(child, index)).sum()
}

/// 20 000 events of one workspace, some with a tenant, that PostgreSQL has no statistics for.
const UNANALYZED_AUDIT_SEED: &str =
    "INSERT INTO audit_chain_heads (workspace_id, seq, hash) VALUES (1, 20000, repeat('0', 64));
     INSERT INTO audit_logs (id, workspace_id, seq, occurred_at, tenant_id, actor_type, actor_id, action, \
         subject_type, subject_id, metadata, prev_hash, hash) \
     SELECT gen_random_uuid(), 1, g, now(), CASE WHEN g % 3 = 0 THEN NULL ELSE 10 + g % 5 END, 'system', \
         'scheduler', 'verification.started', 'operation_run', 'r' || g, '{}', repeat('0', 64), repeat('0', 64) \
     FROM generate_series(1, 20000) AS g";

/// The plan PostgreSQL caches for a prepared statement after five executions is generic: it
/// cannot fold a `$n IS NULL OR …` filter, and on a table without statistics such a plan read and
/// sorted the workspace's whole trail for every page. The page query holds only the filters asked
/// for, so even its generic plan walks `seq` and stops after one page (the old query's read all
/// 20 000). Not covered: an entitled caller's page, whose tenant filter a statistics-less generic
/// plan still answers through the tenant index and a sort (12 000 rows read here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_page_reads_one_page_even_with_a_generic_plan() {
    let (store, _db) = store().await;
    let pool = store.pool();
    sqlx::raw_sql(UNANALYZED_AUDIT_SEED).execute(pool).await.unwrap();
    let query = verdict_core::ports::AuditQuery {
        workspace: WorkspaceId::new(1).unwrap(),
        visible: TenantScope::All,
        tenant: None,
        action: None,
        after_seq: None,
        limit: 50,
    };
    // An administrator's first page: workspace, position and limit.
    let plan = generic_plan(pool, queries::audit_events(&query).sql().as_str(), "1, 0, 50").await;
    let read = rows_read_from(&plan, "audit_logs");
    assert!(read <= 200, "{read} events read for a page of 50: {plan:#}");
}

/// `EXPLAIN ANALYZE` of `sql`, which must hold only the filters asked for (three `bigint`
/// parameters), executed with `arguments` under the generic plan PostgreSQL gives a prepared
/// statement after five executions.
async fn generic_plan(pool: &sqlx::PgPool, sql: &str, arguments: &str) -> Value {
    assert_eq!(sql.matches('$').count(), 3, "only the filters asked for: {sql}");
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE page(bigint, bigint, bigint) AS {sql}"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    let explain = format!("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE page({arguments})");
    let plan: Value = sqlx::query_scalar(AssertSqlSafe(explain)).fetch_one(&mut *conn).await.unwrap();
    plan[0]["Plan"].clone()
}

/// The rows the plan's scans of `table` returned (`EXPLAIN ANALYZE`'s actual rows times loops).
fn rows_read_from(plan: &Value, table: &str) -> u64 {
    let own = if plan.get("Relation Name").and_then(Value::as_str) == Some(table) {
        let rows = plan.get("Actual Rows").and_then(Value::as_u64).unwrap_or(0);
        rows * plan.get("Actual Loops").and_then(Value::as_u64).unwrap_or(1)
    } else {
        0
    };
    own + plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| rows_read_from(c, table))
        .sum::<u64>()
}

/// A tenant's first page of runs, under the generic plan a prepared statement gets after five
/// executions and without statistics (100k runs over 50 tenants): it walks the listing index and
/// stops after a page. (The former `$n IS NULL OR …` query also did, here; this keeps it so.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_list_page_reads_one_page_even_with_a_generic_plan() {
    let (store, _db) = store().await;
    let pool = store.pool();
    sqlx::raw_sql(SEED).execute(pool).await.unwrap();
    let listing = RunListQuery {
        workspace_id: WorkspaceId::new(1).unwrap(),
        tenant_id: TenantId::new(11).unwrap(),
        flow: None,
        status: None,
        provider_connection_id: None,
        limit: PageLimit::new(50).unwrap(),
        after: None,
    };
    let plan = generic_plan(pool, queries::list_runs("", &listing).sql().as_str(), "1, 11, 51").await;
    let read = rows_read_from(&plan, "operation_runs");
    assert!(read <= 200, "{read} runs read for a page of 50: {plan:#}");
}
