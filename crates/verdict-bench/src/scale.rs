//! Latency as the runs table grows (docs/benchmarks.md, "Scale"): a fresh PostgreSQL database
//! gets a generated history — copies of a real blocked run, one in a hundred of its identity (so
//! the viewed run has a previous report), the rest spread over a thousand other tenants — and the blocked start
//! (which reads the previous report), the run view and the `/metrics` scrape are measured at
//! 10³ and at 10⁶ runs.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::Paths;
use crate::load::{self, Measured, Request, Target};
use crate::scenarios::{self, Fixture};
use crate::server::Server;

/// The table sizes measured.
const SIZES: [i64; 2] = [1_000, 1_000_000];

/// One size's measurements.
#[derive(Debug, Clone)]
pub struct Step {
    runs: i64,
    generation: Duration,
    start: Measured,
    view: Measured,
    metrics: Measured,
}

/// Every size.
#[derive(Debug, Clone, Default)]
pub struct Scale {
    steps: Vec<Step>,
}

/// Generates history in `[from, to)`: copies of `template` with fresh ids, older and older.
const GENERATE: &str = "INSERT INTO operation_runs (id, workspace_id, tenant_id, provider_connection_id, type, \
     run_identity_hash, status, outcome, initiator_user_id, summary_counts, failure_summary, context, created_at, \
     completed_at, overall, change_state, credential_expires_at) \
     SELECT gen_random_uuid(), t.workspace_id, CASE WHEN g % 100 = 0 THEN t.tenant_id ELSE 1000 + g % 1000 END, \
     NULL, t.type, CASE WHEN g % 100 = 0 THEN t.run_identity_hash ELSE md5(g::text) || md5((g + 1)::text) END, \
     'completed', t.outcome, t.initiator_user_id, t.summary_counts, t.failure_summary, t.context, \
     t.created_at - make_interval(secs => g), t.completed_at - make_interval(secs => g), t.overall, \
     t.change_state, t.credential_expires_at \
     FROM (SELECT * FROM operation_runs WHERE id = $1::uuid) AS t, generate_series($2::bigint, $3::bigint - 1) AS g";

/// Measures every size on a database of its own.
///
/// # Errors
/// A failed request, server or statement.
pub async fn measure(paths: &Paths) -> Result<Scale> {
    let database = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
    let server = Server::start(&paths.binary, database.url())?;
    let fixture = scenarios::seed(&server, 0).await?;
    let (runs, _) = scenarios::blocked_runs(&server, &fixture, 1).await?;
    let template = runs.first().context("no blocked run")?.clone();
    let pool = sqlx::PgPool::connect(database.url()).await?;
    let mut scale = Scale::default();
    let mut generated: i64 = sqlx::query_scalar("SELECT count(*) FROM operation_runs").fetch_one(&pool).await?;
    for size in SIZES {
        eprintln!("scale: generating history up to {size} runs");
        let began = Instant::now();
        let mut from = generated;
        while from < size {
            let to = (from + 100_000).min(size);
            sqlx::query(GENERATE).bind(&template).bind(from).bind(to).execute(&pool).await?;
            from = to;
        }
        sqlx::query("VACUUM ANALYZE operation_runs").execute(&pool).await?;
        let generation = began.elapsed();
        generated = size;
        scale.steps.push(step(&server, &fixture, &template, size, generation).await?);
    }
    Ok(scale)
}

async fn step(server: &Server, fixture: &Fixture, run: &str, runs: i64, generation: Duration) -> Result<Step> {
    let seconds = Duration::from_secs(3);
    let blocked = scenarios::blocked_start(fixture, 1);
    let started = Target { base: server.base.clone(), pid: server.pid(), expect: &[201] };
    let start = load::run(&started, &blocked.requests, 8, seconds, None).await?;
    let view = scenarios::run_view(fixture, run);
    let read = Target { expect: &[200], ..started.clone() };
    let view = load::run(&read, &view.requests, 8, seconds, None).await?;
    let token = fixture.tokens[0].clone();
    let metrics: load::Requests = Arc::new(move |_| {
        Some(Request { method: reqwest::Method::GET, path: "/metrics".to_owned(), token: token.clone(), body: None })
    });
    let metrics = load::run(&read, &metrics, 1, seconds, None).await?;
    Ok(Step { runs, generation, start, view, metrics })
}

impl Scale {
    /// The scale table.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::from("## Scale (PostgreSQL)\n\n");
        let _ = writeln!(
            out,
            "| runs in the table | generation s | blocked start p50 / p99 ms | run view p50 / p99 ms | `/metrics` p50 / p99 ms |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
        for s in &self.steps {
            let _ = writeln!(
                out,
                "| {} | {:.1} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} |",
                s.runs,
                s.generation.as_secs_f64(),
                s.start.p50_ms,
                s.start.p99_ms,
                s.view.p50_ms,
                s.view.p99_ms,
                s.metrics.p50_ms,
                s.metrics.p99_ms
            );
        }
        if let (Some(small), Some(large)) = (self.steps.first(), self.steps.last()) {
            let _ = writeln!(
                out,
                "\nGrowth from {} to {} runs (p50): blocked start ×{:.2}, run view ×{:.2}, `/metrics` ×{:.2} (goal ≤ 1.5).",
                small.runs,
                large.runs,
                large.start.p50_ms / small.start.p50_ms,
                large.view.p50_ms / small.view.p50_ms,
                large.metrics.p50_ms / small.metrics.p50_ms
            );
        }
        out
    }
}
