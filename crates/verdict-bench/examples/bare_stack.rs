//! Statements of Verdict's reads and of its blocked start behind the same HTTP server and pool,
//! with nothing of Verdict's own: no token, no logging, no domain, and no JSON but where a route
//! says so. What this serves per second, next to pgbench running the same statements, is the
//! ceiling of this stack for those requests on the machine it runs on (docs/benchmarks.md, "The
//! stack's own ceiling").
//!
//! `BARE_DATABASE_URL=postgres://… cargo run --release -p verdict-bench --example bare_stack`
//! serves, on 127.0.0.1:18081 (`BARE_LISTEN` to change it), on a kept connection
//! (`verdict_sql::kept`, as the server's store does), with rows fetched and not decoded:
//!
//! - `GET /v1/runs/{id}`: the scope, the run and its acknowledgements (the statements of
//!   `crates/verdict-postgres/src/runs.rs`), answered with 1 300 bytes, about a run view's size;
//! - `GET /v1/workspaces/{ws}/tenants/{t}/runs`: the first page of 50 runs
//!   (`verdict_postgres::queries::list_runs`), answered with 16 700 bytes, about such a page's size;
//!   with `?decoded` the least any server on this stack does to answer it with the rows: each row
//!   decoded by position into a tuple of its twelve columns by sqlx, and the page serialized by
//!   serde_json's derive (`axum::Json`), with no domain, no validation and no log;
//! - `POST /v1/workspaces/{ws}/tenants/{t}/verifications`: a blocked start's eight statements as
//!   `verdict serve` sends them for a tenant never started before (the identity's latest run,
//!   then one transaction: the identity's lock, its latest run again, the stub run with its
//!   webhook fan-out, the chain head's lock and the two audit events), answered 201 with
//!   360 bytes, a started run's size. Its texts (the stub report, the webhook payloads,
//!   the audit metadata) are the values `verdict serve` sent, read from the `.defines` file the
//!   HTTP bench wrote beside its pgbench script (`BARE_DEFINES`, e.g.
//!   `target/bench/pgbench/blocked-start--10-workspaces.defines`); the ids and hashes are fresh per
//!   request, the audit events follow the chain head as the server's do. Their hashes are random,
//!   so a workspace's chain no longer verifies once this has written to it: run it on a bench
//!   database only;
//! - `POST /v1/workspaces/{ws}/tenants/{t}/verifications` with a body that names a provider
//!   connection: a deduplicated start's five statements (the connection, then a transaction whose
//!   insert finds the identity's active run, the read of that run, and the rollback), answered 200
//!   with 366 bytes, an active run's size. Its connection, scope, identity hash and
//!   initiator are the ones the bench's deduplicated start sent (`BARE_DEDUP_DEFINES`, e.g.
//!   `target/bench/pgbench/deduplicated-start.defines`), whatever the path and body name; only the
//!   run id is fresh. The body is told apart from a blocked start's by its bytes, not parsed.
//!
//! A failed statement answers 500. With `--sql` it prints the run view's statements as a pgbench
//! script whose variable is `:id` instead.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;
use verdict_core::domain::{PageLimit, RunListQuery, TenantId, WorkspaceId};
use verdict_http::server::{ServerLimits, serve};
use verdict_postgres::queries::{
    ACTIVE_RUN, APPEND_AUDIT_EVENTS, INSERT_COMPLETED, INSERT_QUEUED, LATEST_RUN, LOCK_CHAIN_HEAD, LOCK_IDENTITY,
    RUN_BY_ID, RUN_SCOPE, list_runs,
};
use verdict_sql::kept::{Kept, Lent};
use verdict_sql::statements::{ACKNOWLEDGEMENTS_OF_RUN, SCOPED_CONNECTION};

/// The server's allocator (`crates/verdict-app/src/main.rs`), so that the two allocate alike.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STATEMENTS: [&str; 3] = [RUN_SCOPE, RUN_BY_ID, ACKNOWLEDGEMENTS_OF_RUN];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|arg| arg == "--sql") {
        for statement in STATEMENTS {
            println!("{};", statement.replace("$1", ":id"));
        }
        return Ok(());
    }
    let url = std::env::var("BARE_DATABASE_URL")?;
    let listen = std::env::var("BARE_LISTEN").unwrap_or_else(|_| "127.0.0.1:18081".to_owned());
    let texts = match std::env::var("BARE_DEFINES") {
        Ok(file) => Some(Arc::new(Texts::read(&file, &START_TEXTS)?)),
        Err(_) => None,
    };
    let dedup = match std::env::var("BARE_DEDUP_DEFINES") {
        Ok(file) => Some(Arc::new(Texts::read(&file, &DEDUP_TEXTS)?)),
        Err(_) => None,
    };
    let pool = PgPoolOptions::new().max_connections(16).test_before_acquire(false).connect(&url).await?;
    let kept = Arc::new(Kept::new(pool, Duration::from_secs(1)));
    let (view_body, page_body) = (Bytes::from(vec![b'x'; 1300]), Bytes::from(vec![b'x'; 16_700]));
    let (start_body, dedup_body) = (Bytes::from(vec![b'x'; 360]), Bytes::from(vec![b'x'; 366]));
    let (list_kept, start_kept) = (Arc::clone(&kept), Arc::clone(&kept));
    let router = axum::Router::new()
        .route(
            "/v1/runs/{id}",
            get(move |Path(id): Path<Uuid>| {
                let (kept, body) = (Arc::clone(&kept), view_body.clone());
                async move { run_view(&kept, id).await.map(|()| body).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR) }
            }),
        )
        .route(
            "/v1/workspaces/{ws}/tenants/{t}/runs",
            get(move |Path((ws, t)): Path<(i64, i64)>, RawQuery(query): RawQuery| {
                let (kept, body) = (Arc::clone(&list_kept), page_body.clone());
                async move {
                    let list = run_list(&kept, ws, t, query.is_some_and(|q| q.contains("decoded"))).await;
                    list.map(|page| page.map_or_else(|| body.into_response(), |page| axum::Json(page).into_response()))
                        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
                }
            }),
        )
        .route(
            "/v1/workspaces/{ws}/tenants/{t}/verifications",
            post(move |Path((ws, t)): Path<(i64, i64)>, request: Bytes| {
                let kept = Arc::clone(&start_kept);
                let (texts, dedup) = (texts.clone(), dedup.clone());
                let (start_body, dedup_body) = (start_body.clone(), dedup_body.clone());
                async move {
                    let blocked = request.windows(NO_CONNECTION.len()).any(|w| w == NO_CONNECTION);
                    let (answer, outcome) = if blocked {
                        let texts = texts.ok_or(StatusCode::NOT_IMPLEMENTED)?;
                        ((StatusCode::CREATED, start_body), blocked_start(&kept, &texts, ws, t).await)
                    } else {
                        let dedup = dedup.ok_or(StatusCode::NOT_IMPLEMENTED)?;
                        ((StatusCode::OK, dedup_body), deduplicated_start(&kept, &dedup).await)
                    };
                    outcome.map(|()| answer).map_err(|error| {
                        eprintln!("start: {error:#}");
                        StatusCode::INTERNAL_SERVER_ERROR
                    })
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    serve(listener, router, ServerLimits::default(), std::future::pending()).await?;
    Ok(())
}

/// The three statements on one kept connection, rows fetched and not decoded.
async fn run_view(kept: &Kept<sqlx::Postgres>, id: Uuid) -> Result<(), sqlx::Error> {
    let mut conn = kept.acquire().await?;
    sqlx::query(RUN_SCOPE).bind(id).fetch_optional(&mut *conn).await?;
    sqlx::query(RUN_BY_ID).bind(id).fetch_optional(&mut *conn).await?;
    sqlx::query(ACKNOWLEDGEMENTS_OF_RUN).bind(id).fetch_all(&mut *conn).await?;
    conn.release();
    Ok(())
}

/// A run as a page lists it: the columns `list_runs` selects, in its order.
type PageColumns = (
    Uuid,
    i64,
    i64,
    Option<Uuid>,
    String,
    String,
    String,
    Option<String>,
    i32,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// A page's run as JSON, its fields named as Verdict's.
#[derive(serde::Serialize)]
struct PageRun {
    id: Uuid,
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<Uuid>,
    flow: String,
    status: String,
    outcome: String,
    attempt: i32,
    initiator_user_id: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
}

/// A page of runs as JSON.
#[derive(serde::Serialize)]
struct Page {
    runs: Vec<PageRun>,
    next_cursor: Option<String>,
}

/// The first page of 50 runs of a tenant, as the server's store selects it; decoded into a
/// [`Page`] when `decoded`, else fetched and not decoded.
async fn run_list(
    kept: &Kept<sqlx::Postgres>,
    workspace: i64,
    tenant: i64,
    decoded: bool,
) -> Result<Option<Page>, anyhow::Error> {
    let query = RunListQuery {
        workspace_id: WorkspaceId::new(workspace)?,
        tenant_id: TenantId::new(tenant)?,
        flow: None,
        status: None,
        provider_connection_id: None,
        limit: PageLimit::new(50)?,
        after: None,
    };
    let mut conn = kept.acquire().await?;
    if !decoded {
        list_runs("", &query).build().fetch_all(&mut *conn).await?;
        conn.release();
        return Ok(None);
    }
    let rows: Vec<PageColumns> = list_runs("", &query).build_query_as().fetch_all(&mut *conn).await?;
    conn.release();
    let more = rows.len() > 50;
    let runs: Vec<PageRun> = rows
        .into_iter()
        .take(50)
        .map(|r| PageRun {
            id: r.0,
            workspace_id: r.1,
            tenant_id: r.2,
            provider_connection_id: r.3,
            flow: r.4,
            status: r.5,
            outcome: r.6,
            initiator_user_id: r.7,
            attempt: r.8,
            created_at: r.9,
            started_at: r.10,
            completed_at: r.11,
        })
        .collect();
    let next_cursor =
        more.then(|| runs.last().map(|r| format!("{}{}", r.created_at.timestamp_micros(), r.id))).flatten();
    Ok(Some(Page { runs, next_cursor }))
}

/// What a body without a provider connection holds: a blocked start's.
const NO_CONNECTION: &[u8] = b"\"provider_connection_id\":null";

/// The values `verdict serve` sent for a request, by the names the HTTP bench gave its
/// parameters (`p<statement>_<parameter>[_<element>]`, statements counted from 0).
struct Texts(HashMap<String, String>);

impl Texts {
    fn read(file: &str, required: &[&str]) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        let pairs = text
            .lines()
            .filter_map(|line| line.strip_prefix("-D ")?.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()));
        let texts = Self(pairs.collect());
        for name in required {
            texts.get(name).with_context(|| format!("{file} has no {name}: is it the right scenario's?"))?;
        }
        Ok(texts)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or_default()
    }

    fn pair(&self, name: &str) -> Vec<&str> {
        vec![self.text(&format!("{name}_1")), self.text(&format!("{name}_2"))]
    }

    fn number(&self, name: &str) -> anyhow::Result<i64> {
        self.text(name).parse().with_context(|| format!("{name} is not a number"))
    }
}

/// What a deduplicated start's statements bind from the server's own values: the connection
/// and its scope, the flow, the identity hash and the initiator.
const DEDUP_TEXTS: [&str; 6] = ["p0_1", "p0_2", "p0_3", "p2_5", "p2_6", "p2_7"];

/// A deduplicated start as the server's store sends it (`crates/verdict-postgres/src/runs.rs`,
/// `try_start`): the connection on one lending, then the insert that finds the active run, the
/// read of that run and the rollback on another.
async fn deduplicated_start(kept: &Kept<sqlx::Postgres>, texts: &Texts) -> anyhow::Result<()> {
    let connection: Uuid = texts.text("p0_1").parse()?;
    let (workspace, tenant) = (texts.number("p0_2")?, texts.number("p0_3")?);
    let mut conn = kept.acquire().await?;
    sqlx::query(SCOPED_CONNECTION).bind(connection).bind(workspace).bind(tenant).fetch_optional(&mut *conn).await?;
    conn.release();
    let mut open = InTransaction(Some(kept.acquire().await?));
    let conn = open.conn();
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
    let inserted = sqlx::query(INSERT_QUEUED)
        .bind(Uuid::now_v7())
        .bind(workspace)
        .bind(tenant)
        .bind(Some(connection))
        .bind(texts.text("p2_5"))
        .bind(texts.text("p2_6"))
        .bind(texts.text("p2_7"))
        .bind(Utc::now())
        .bind("0".repeat(64))
        .fetch_optional(&mut *conn)
        .await?;
    anyhow::ensure!(inserted.is_none(), "the identity had no active run: a start was created, not deduplicated");
    sqlx::query(ACTIVE_RUN).bind(tenant).bind(texts.text("p2_6")).fetch_optional(&mut *conn).await?;
    sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await?;
    if let Some(conn) = open.0.take() {
        conn.release();
    }
    Ok(())
}

/// What a blocked start's statements bind from the server's own texts.
const START_TEXTS: [&str; 20] = [
    "p4_5", "p4_7", "p4_8", "p4_9", "p4_10", "p4_11", "p4_14", "p4_15", "p4_18_1", "p4_18_2", "p4_20_1", "p4_20_2",
    "p6_6_1", "p6_6_2", "p6_8_1", "p6_8_2", "p6_9_1", "p6_9_2", "p6_11_1", "p6_11_2",
];

/// 64 hex digits, fresh per call (an identity hash, an audit hash).
fn fresh_hex() -> String {
    let state = std::hash::RandomState::new();
    (0..4u8).map(|part| format!("{:016x}", state.hash_one((part, Uuid::now_v7())))).collect()
}

/// A blocked start as the server's store sends it (`crates/verdict-postgres/src/runs.rs`,
/// `start_blocked`, and `crates/verdict-core/src/services/verifications.rs` before it): the read
/// on a connection of its own lending, the transaction on another.
async fn blocked_start(kept: &Kept<sqlx::Postgres>, texts: &Texts, workspace: i64, tenant: i64) -> anyhow::Result<()> {
    let (identity, run) = (fresh_hex(), Uuid::now_v7());
    let now: DateTime<Utc> = Utc::now();
    let mut conn = kept.acquire().await?;
    sqlx::query(LATEST_RUN).bind(&identity).fetch_optional(&mut *conn).await?;
    conn.release();
    let mut open = InTransaction(Some(kept.acquire().await?));
    start_transaction(open.conn(), texts, (workspace, tenant), (&identity, run), now).await?;
    if let Some(conn) = open.0.take() {
        conn.release();
    }
    Ok(())
}

/// A connection lent for a transaction. Dropped before the transaction ended (a statement
/// failed, or the client went away and the request was cancelled) it is closed, not reused.
struct InTransaction(Option<Lent<sqlx::Postgres>>);

impl InTransaction {
    fn conn(&mut self) -> &mut sqlx::PgConnection {
        self.0.as_deref_mut().unwrap_or_else(|| unreachable!("taken only when the transaction ended"))
    }
}

impl Drop for InTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.0.as_mut() {
            conn.close_on_drop();
        }
    }
}

/// The blocked start's transaction on `conn`.
async fn start_transaction(
    conn: &mut sqlx::PgConnection,
    texts: &Texts,
    (workspace, tenant): (i64, i64),
    (identity, run): (&str, Uuid),
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
    sqlx::query(LOCK_IDENTITY).bind(identity).execute(&mut *conn).await?;
    sqlx::query(LATEST_RUN).bind(identity).fetch_optional(&mut *conn).await?;
    sqlx::query(INSERT_COMPLETED)
        .bind(run)
        .bind(workspace)
        .bind(tenant)
        .bind(None::<Uuid>)
        .bind(texts.text("p4_5"))
        .bind(identity)
        .bind(texts.text("p4_7"))
        .bind(texts.text("p4_8"))
        .bind(texts.text("p4_9"))
        .bind(texts.text("p4_10"))
        .bind(texts.text("p4_11"))
        .bind(now)
        .bind(now)
        .bind(texts.text("p4_14"))
        .bind(texts.text("p4_15"))
        .bind(None::<DateTime<Utc>>)
        .bind(vec![Uuid::now_v7(), Uuid::now_v7()])
        .bind(texts.pair("p4_18"))
        .bind(vec![run, run])
        .bind(texts.pair("p4_20"))
        .bind(vec![now, now])
        .bind(vec![workspace, workspace])
        .execute(&mut *conn)
        .await?;
    let (seq, hash): (i64, String) =
        sqlx::query_as(LOCK_CHAIN_HEAD).bind(workspace).bind("0".repeat(64)).fetch_one(&mut *conn).await?;
    let (first, second) = (fresh_hex(), fresh_hex());
    let subject = run.to_string();
    sqlx::query(APPEND_AUDIT_EVENTS)
        .bind(workspace)
        .bind(vec![Uuid::now_v7(), Uuid::now_v7()])
        .bind(vec![seq + 1, seq + 2])
        .bind(vec![now, now])
        .bind(vec![tenant, tenant])
        .bind(texts.pair("p6_6"))
        .bind(vec![texts.text("p4_8"), texts.text("p4_8")])
        .bind(texts.pair("p6_8"))
        .bind(texts.pair("p6_9"))
        .bind(vec![subject.as_str(), subject.as_str()])
        .bind(texts.pair("p6_11"))
        .bind(vec![hash.as_str(), first.as_str()])
        .bind(vec![first.as_str(), second.as_str()])
        .execute(&mut *conn)
        .await?;
    sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
    Ok(())
}
