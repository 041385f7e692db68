//! Query plans SQLite chooses on its own (no `ANALYZE` statistics, as in every embedded install).

use sqlx::Row as _;

use crate::support::TestDb;

/// 3 000 connections of one tenant, a run for each, and 5 000 runs of the same tenant naming
/// connections that do not exist (blocked starts).
const SEED: &str = "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 3000) \
     INSERT INTO provider_connections (id, workspace_id, tenant_id, display_name, entra_tenant_id, client_id, \
         client_secret_ciphertext, created_at, updated_at) \
     SELECT printf('00000000-0000-4000-8000-%012d', g), 1, 10, 'C' || g, '00000000-0000-0000-0000-000000000001', \
         '00000000-0000-0000-0000-000000000001', x'00', '2026-12-02T00:00:00.000000Z', '2026-12-02T00:00:00.000000Z' \
     FROM n;
     WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 8000) \
     INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, run_identity_hash, \
         status, outcome, initiator_user_id, created_at) \
     SELECT printf('00000000-0000-4000-9000-%012d', g), 1, 10, printf('00000000-0000-4000-8000-%012d', g), \
         'provider.connection.check', printf('%064d', g), 'queued', 'pending', 'u', '2026-12-02T00:00:00.000000Z' \
     FROM n";

/// SQLite once took the tenant's listing index for each connection's newest run (its order for
/// free, the connection as a filter): every connection read every run of its tenant, over a
/// second for a page of 6 000 connections. The connection indexes hold the scope columns too.
#[tokio::test]
async fn fleet_status_reads_the_connection_indexes() {
    let db = TestDb::new();
    let _store = db.open().await;
    let mut raw = db.raw().await;
    sqlx::raw_sql(SEED).execute(&mut raw).await.unwrap();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", verdict_sqlite::FLEET_STATUS)))
        .bind(1_i64)
        .bind(None::<String>)
        .bind(None::<i64>)
        .bind(0_i64)
        .bind("00000000-0000-0000-0000-000000000000")
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(51_i64)
        .fetch_all(&mut raw)
        .await
        .unwrap();
    let plan: Vec<String> = rows.iter().map(|row| row.get::<String, _>("detail")).collect();
    let reads = |index: &str| plan.iter().any(|step| step.contains(index));
    assert!(reads("operation_runs_connection_recent_idx"), "the newest run comes from the connection index: {plan:?}");
    assert!(reads("operation_runs_connection_completed_idx"), "the newest completion too: {plan:?}");
    assert!(!reads("operation_runs_listing_idx"), "no connection reads its tenant's whole listing: {plan:?}");
}
