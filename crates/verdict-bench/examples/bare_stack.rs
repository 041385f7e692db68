//! The run view's and the run list's statements behind the same HTTP server and pool, with
//! nothing of Verdict's own: no token, no logging, no domain, no JSON. What this serves per
//! second, next to pgbench running the same statements, is the ceiling of this stack for those
//! reads on the machine it runs on (docs/benchmarks.md, "The stack's own ceiling").
//!
//! `BARE_DATABASE_URL=postgres://… cargo run --release -p verdict-bench --example bare_run_view`
//! serves, on 127.0.0.1:18081 (`BARE_LISTEN` to change it), on a kept connection
//! (`verdict_sql::kept`, as the server's store does), with rows fetched and not decoded:
//!
//! - `GET /v1/runs/{id}`: the scope, the run and its acknowledgements (the statements of
//!   `crates/verdict-postgres/src/runs.rs`), answered with 1 300 bytes, about a run view's size;
//! - `GET /v1/workspaces/{ws}/tenants/{t}/runs`: the first page of 50 runs
//!   (`verdict_postgres::queries::list_runs`), answered with 16 700 bytes, about such a page's size.
//!
//! A failed statement answers 500. With `--sql` it prints the run view's statements as a pgbench
//! script whose variable is `:id` instead.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use sqlx::postgres::PgPoolOptions;
use verdict_core::domain::{PageLimit, RunListQuery, TenantId, WorkspaceId};
use verdict_http::server::{ServerLimits, serve};
use verdict_postgres::queries::{RUN_BY_ID, RUN_SCOPE, list_runs};
use verdict_sql::kept::Kept;
use verdict_sql::statements::ACKNOWLEDGEMENTS_OF_RUN;

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
    let pool = PgPoolOptions::new().max_connections(16).test_before_acquire(false).connect(&url).await?;
    let kept = Arc::new(Kept::new(pool, Duration::from_secs(1)));
    let (view_body, page_body) = (Bytes::from(vec![b'x'; 1300]), Bytes::from(vec![b'x'; 16_700]));
    let list_kept = Arc::clone(&kept);
    let router = axum::Router::new()
        .route(
            "/v1/runs/{id}",
            get(move |Path(id): Path<uuid::Uuid>| {
                let (kept, body) = (Arc::clone(&kept), view_body.clone());
                async move { run_view(&kept, id).await.map(|()| body).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR) }
            }),
        )
        .route(
            "/v1/workspaces/{ws}/tenants/{t}/runs",
            get(move |Path((ws, t)): Path<(i64, i64)>| {
                let (kept, body) = (Arc::clone(&list_kept), page_body.clone());
                async move { run_list(&kept, ws, t).await.map(|()| body).map_err(|_| StatusCode::INTERNAL_SERVER_ERROR) }
            }),
        );
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    serve(listener, router, ServerLimits::default(), std::future::pending()).await?;
    Ok(())
}

/// The three statements on one kept connection, rows fetched and not decoded.
async fn run_view(kept: &Kept<sqlx::Postgres>, id: uuid::Uuid) -> Result<(), sqlx::Error> {
    let mut conn = kept.acquire().await?;
    sqlx::query(RUN_SCOPE).bind(id).fetch_optional(&mut *conn).await?;
    sqlx::query(RUN_BY_ID).bind(id).fetch_optional(&mut *conn).await?;
    sqlx::query(ACKNOWLEDGEMENTS_OF_RUN).bind(id).fetch_all(&mut *conn).await?;
    conn.release();
    Ok(())
}

/// The first page of 50 runs of a tenant, as the server's store selects it.
async fn run_list(kept: &Kept<sqlx::Postgres>, workspace: i64, tenant: i64) -> Result<(), anyhow::Error> {
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
    list_runs("", &query).build().fetch_all(&mut *conn).await?;
    conn.release();
    Ok(())
}
