//! HTTP benchmarks of a real `verdict serve` (docs/benchmarks.md): each scenario is sent by 8
//! keep-alive connections for a few seconds on PostgreSQL and on SQLite, and on PostgreSQL
//! pgbench then runs the statements the server sent for that request — recorded by a
//! wire-protocol proxy, not written by hand — so each line is a ratio to the database's own
//! limit on the same machine in the same minute. The table goes to stdout and to
//! `target/bench/http.md`; the pgbench scripts to `target/bench/pgbench/`.
//!
//! `VERDICT_BENCH_FILTER=<text>` runs only the scenarios whose name contains it (and skips the
//! scale measurement unless it matches `scale`), and writes `target/bench/http-filtered.md`
//! instead, leaving the last full table in place.

mod load;
mod report;
mod scale;
mod scenarios;
mod script;
pub mod server;
mod value;
mod wire;

use std::net::ToSocketAddrs as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::load::{Measured, Target};
use crate::report::{CpuPerRequest, Row};
use crate::scenarios::{Fixture, Scenario};
use crate::script::{Capture, PgbenchResult, Script};
use crate::server::Server;
use crate::wire::Proxy;

/// Concurrent connections, for the server and for pgbench.
const CLIENTS: usize = 8;
/// Seconds of each saturating phase, and of each pgbench run.
const SECONDS: u64 = 3;
/// Rounds of the server at saturation, each followed by pgbench on the same SQL (PostgreSQL).
/// Each round's ratio compares two windows seconds apart, and a scenario's line is its median
/// round: one window the machine ran slow in (a disk flush, a noisy neighbour) does not decide
/// it (docs/benchmarks.md, "What the HTTP benchmark measures").
const ROUNDS: usize = 3;
/// Seconds of each phase at half the saturating rate.
const HALF_SECONDS: u64 = 3;
/// Provider connections seeded for the starts with a new identity: enough for the warm-up, the
/// capture, three rounds of 3 s at saturation and 3 s at half of it, at up to 3 000 starts/s.
const CONNECTIONS: usize = 40_000;
/// Blocked runs seeded in tenant 10, to list and acknowledge: as many, for as many
/// acknowledgements.
const BLOCKED_RUNS: usize = 40_000;

/// Where a run's files go.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The `verdict` binary.
    pub binary: PathBuf,
    /// `target/bench`.
    pub out: PathBuf,
}

/// Runs every benchmark and writes the table.
///
/// # Errors
/// Any failed request, server, capture or pgbench run.
pub fn main(binary: &Path, target_tmp: &Path) -> Result<()> {
    let out = target_tmp.parent().context("target directory")?.join("bench");
    std::fs::create_dir_all(out.join("pgbench"))?;
    let paths = Paths { binary: binary.to_owned(), out };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(&paths))
}

/// `VERDICT_BENCH_FILTER`, when set.
fn filter() -> Option<String> {
    std::env::var("VERDICT_BENCH_FILTER").ok()
}

fn selected(name: &str) -> bool {
    filter().is_none_or(|filter| name.contains(&filter))
}

async fn run(paths: &Paths) -> Result<()> {
    let mut rows = Vec::new();
    let database = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
    let server = describe_server(database.url()).await?;
    eprintln!("PostgreSQL server: {server}");
    postgres(paths, database.url(), &mut rows).await.context("PostgreSQL")?;
    let sqlite_dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", sqlite_dir.path().join("verdict.db").display());
    sqlite(paths, &sqlite_url, &mut rows).await.context("SQLite")?;
    let scale = if selected("scale") { Some(scale::measure(paths).await.context("scale")?) } else { None };
    let text = report::render(&rows, &server, scale.as_ref());
    println!("{text}");
    // A filtered run leaves the full table alone: that is the one to quote.
    let file = paths.out.join(if filter().is_some() { "http-filtered.md" } else { "http.md" });
    std::fs::write(&file, &text)?;
    eprintln!("written to {}", file.display());
    Ok(())
}

/// The server's version and durability settings: figures with `fsync` off are not comparable
/// with a production server's (the harness's throwaway server runs without it; set
/// `DATABASE_URL` to measure a durable one).
async fn describe_server(url: &str) -> Result<String> {
    let pool = sqlx::PgPool::connect(url).await?;
    let (version, fsync, commit): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    Ok(format!("PostgreSQL {version}, fsync {fsync}, synchronous_commit {commit}"))
}

/// The database pgbench runs against, and pgbench.
#[derive(Debug, Clone)]
pub struct Postgres {
    url: String,
    pgbench: PathBuf,
}

async fn postgres(paths: &Paths, url: &str, rows: &mut Vec<Row>) -> Result<()> {
    let pgbench = verdict_pg_harness::pg_bin_dir().map_or_else(|| PathBuf::from("pgbench"), |dir| dir.join("pgbench"));
    let parsed = url::Url::parse(url)?;
    let upstream = (parsed.host_str().context("host")?, parsed.port().unwrap_or(5432))
        .to_socket_addrs()?
        .next()
        .context("database address")?;
    // The scheduler's and the webhook dispatcher's polls run on their own clock, not per request.
    let background = [
        verdict_postgres::queries::CLAIM_SCHEDULES,
        verdict_postgres::queries::CLAIM_DELIVERIES,
        "SELECT next_attempt_at FROM webhook_deliveries",
    ];
    let proxy = Proxy::start(upstream, &background).await?;
    let mut through_proxy = parsed.clone();
    through_proxy.set_port(Some(proxy.address().port())).ok().context("proxy port")?;
    through_proxy.set_host(Some("127.0.0.1"))?;
    through_proxy.query_pairs_mut().append_pair("sslmode", "disable");

    let server = Server::start(&paths.binary, url)?;
    let capture_server = Server::start(&paths.binary, through_proxy.as_str())?;
    let fixture = scenarios::seed(&server, CONNECTIONS).await?;
    let pg = Postgres { url: url.to_owned(), pgbench };
    // No statement to capture: the floor has no pgbench line of its own.
    measure(paths, &server, POSTGRES, None, &scenarios::http_floor(&fixture), rows).await?;
    for scenario in [
        scenarios::blocked_start(&fixture, 1),
        scenarios::blocked_start(&fixture, 10),
        scenarios::blocked_start(&fixture, 50),
    ] {
        measure(paths, &server, POSTGRES, Some((&capture_server, &proxy, &pg)), &scenario, rows).await?;
    }
    for scenario in after_blocked(&server, &fixture).await? {
        measure(paths, &server, POSTGRES, Some((&capture_server, &proxy, &pg)), &scenario, rows).await?;
    }
    report_problems(&server)?;
    Ok(())
}

async fn sqlite(paths: &Paths, url: &str, rows: &mut Vec<Row>) -> Result<()> {
    let server = Server::start(&paths.binary, url)?;
    let fixture = scenarios::seed(&server, CONNECTIONS).await?;
    measure(paths, &server, SQLITE, None, &scenarios::http_floor(&fixture), rows).await?;
    for scenario in [scenarios::blocked_start(&fixture, 1), scenarios::blocked_start(&fixture, 50)] {
        measure(paths, &server, SQLITE, None, &scenario, rows).await?;
    }
    for scenario in after_blocked(&server, &fixture).await? {
        measure(paths, &server, SQLITE, None, &scenario, rows).await?;
    }
    report_problems(&server)
}

/// The scenarios that need runs of tenant 10 to exist: blocked runs to view, list and
/// acknowledge. (With workers off no run has a previous report; the run view still asks for it.)
async fn after_blocked(server: &Server, fixture: &Fixture) -> Result<Vec<Scenario>> {
    let (runs, check_key) = scenarios::blocked_runs(server, fixture, BLOCKED_RUNS).await?;
    let viewed = runs.last().context("no blocked run")?.clone();
    Ok(vec![
        scenarios::run_view(fixture, &viewed),
        scenarios::run_list(fixture),
        scenarios::creating_start(fixture),
        scenarios::deduplicated_start(fixture),
        scenarios::acknowledgement(fixture, Arc::new(runs), &check_key),
        scenarios::audit_page(fixture),
        scenarios::fleet_status(fixture),
    ])
}

/// Prints how many warnings and errors the server logged (slow statements, for instance), and
/// the first few: they explain a figure, they do not invalidate it.
fn report_problems(server: &Server) -> Result<()> {
    let problems = server.problems();
    if !problems.is_empty() {
        eprintln!("the server logged {} warnings or errors under load; the first:", problems.len());
        for problem in problems.iter().take(3) {
            eprintln!("  {}", problem.chars().take(400).collect::<String>());
        }
    }
    Ok(())
}

const POSTGRES: &str = "PostgreSQL";
const SQLITE: &str = "SQLite";

type Capturing<'a> = Option<(&'a Server, &'a Proxy, &'a Postgres)>;

/// Warms up, captures (PostgreSQL), loads at saturation with pgbench after each of the
/// [`ROUNDS`] (one round without a capture), then at half the median round's rate.
async fn measure(
    paths: &Paths,
    server: &Server,
    backend: &'static str,
    capture: Capturing<'_>,
    scenario: &Scenario,
    rows: &mut Vec<Row>,
) -> Result<()> {
    // Every run measures the floor: each line's ceiling is derived from it.
    if !selected(&scenario.name) && scenario.name != scenarios::HTTP_FLOOR {
        return Ok(());
    }
    eprintln!("{backend}: {}", scenario.name);
    let target = Target { base: server.base.clone(), pid: server.pid(), expect: scenario.expect };
    // One counter across the phases, so no request (a connection's first start, an
    // acknowledgement of a run) is sent twice.
    let counter = Arc::new(AtomicU64::new(0));
    // A phase that runs out of prepared requests ends early; its figures would cover less than
    // the phase, so the scenario fails instead (seed more).
    let ran_out = Arc::new(AtomicBool::new(false));
    let requests: load::Requests = {
        let (requests, counter, ran_out) = (scenario.requests.clone(), counter.clone(), ran_out.clone());
        Arc::new(move |_| {
            let request = requests(counter.fetch_add(1, Ordering::Relaxed));
            ran_out.fetch_or(request.is_none(), Ordering::Relaxed);
            request
        })
    };
    load::run(&target, &requests, 1, Duration::from_millis(200), None).await.context("warm-up")?;
    let script = match capture {
        Some((capture_server, proxy, _)) => Some(capture_script(capture_server, proxy, scenario, &counter).await?),
        None => None,
    };
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..if script.is_some() { ROUNDS } else { 1 } {
        let before = Cpu::now(server);
        let saturated = load::run(&target, &requests, CLIENTS, Duration::from_secs(SECONDS), None).await?;
        let cpu = Cpu::now(server).since(&before, saturated.requests);
        let pgbench = match (capture, &script) {
            (Some((_, _, pg)), Some(script)) => {
                let file = paths.out.join("pgbench").join(format!("{}.sql", slug(&scenario.name)));
                Some(script::pgbench(&pg.pgbench, &pg.url, script, CLIENTS, SECONDS, &file)?)
            }
            _ => None,
        };
        rounds.push(Round { saturated, cpu, pgbench });
    }
    let ratios: Vec<f64> = rounds.iter().filter_map(Round::ratio).collect();
    rounds.sort_by(|a, b| a.ratio().unwrap_or(a.saturated.rate).total_cmp(&b.ratio().unwrap_or(b.saturated.rate)));
    let Round { saturated, cpu, pgbench } = rounds.swap_remove(rounds.len() / 2);
    let half_began = chrono::Utc::now();
    let half = load::run(&target, &requests, CLIENTS, Duration::from_secs(HALF_SECONDS), Some(saturated.rate / 2.0))
        .await
        .context("half load")?;
    // To line a slow half-load phase up with the database's log (its checkpoints, for instance).
    eprintln!("  half load {} to {} UTC", half_began.format("%H:%M:%S%.3f"), chrono::Utc::now().format("%H:%M:%S%.3f"));
    if ran_out.load(Ordering::Relaxed) {
        bail!(
            "{backend}: {}: the scenario ran out of prepared requests; seed more for a server this fast",
            scenario.name
        );
    }
    let mut row = row(backend, scenario, saturated, half, pgbench, script.as_ref(), cpu);
    row.round_ratios = ratios;
    eprintln!("  {}", report::line(&row, report::floor(rows, backend)));
    rows.push(row);
    Ok(())
}

/// One round: the server at saturation, then pgbench on the same SQL right after.
struct Round {
    saturated: Measured,
    cpu: CpuPerRequest,
    pgbench: Option<PgbenchResult>,
}

impl Round {
    fn ratio(&self) -> Option<f64> {
        self.pgbench.map(|p| self.saturated.rate / p.tps)
    }
}

/// Where the machine's CPU went at one instant: the server's, the load generator's (this
/// process) and the machine's idle ticks.
struct Cpu {
    server: Option<f64>,
    load: Option<f64>,
    machine: Option<(u64, u64)>,
}

impl Cpu {
    fn now(server: &Server) -> Self {
        Self { server: server.cpu_seconds(), load: load::cpu_seconds("self"), machine: load::machine_ticks() }
    }

    /// Per request of the `requests` answered since `before`.
    fn since(&self, before: &Self, requests: u64) -> CpuPerRequest {
        #[allow(clippy::cast_precision_loss)]
        let per_request = |after: Option<f64>, before: Option<f64>| {
            after.zip(before).map(|(after, before)| (after - before) * 1000.0 / requests.max(1) as f64)
        };
        CpuPerRequest {
            server_ms: per_request(self.server, before.server),
            load_ms: per_request(self.load, before.load),
            idle_percent: self
                .machine
                .zip(before.machine)
                .and_then(|(after, before)| load::idle_percent(before, after)),
        }
    }
}

fn row(
    backend: &'static str,
    scenario: &Scenario,
    saturated: Measured,
    half: Measured,
    pgbench: Option<PgbenchResult>,
    script: Option<&Script>,
    cpu: CpuPerRequest,
) -> Row {
    Row {
        backend,
        scenario: scenario.name.clone(),
        goal: scenario.goal,
        saturated,
        half,
        pgbench,
        statements: script.map(|s| s.statements),
        notes: script.map(|s| s.notes.clone()).unwrap_or_default(),
        cpu,
        round_ratios: Vec::new(),
    }
}

/// Records requests of `scenario` through the capture server until two in a row sent the same
/// statements (a background task of the server may interleave once), and makes the script.
async fn capture_script(server: &Server, proxy: &Proxy, scenario: &Scenario, counter: &AtomicU64) -> Result<Script> {
    let target = Target { base: server.base.clone(), pid: server.pid(), expect: scenario.expect };
    let mut last_error = None;
    for _ in 0..5 {
        let mut captures = Vec::new();
        for _ in 0..3 {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            proxy.record();
            let one = scenario.requests.clone();
            let single: load::Requests = Arc::new(move |i| if i == 0 { one(n) } else { None });
            load::run(&target, &single, 1, Duration::from_secs(5), None).await.context("capture request")?;
            captures.push(Capture { events: proxy.take()?, inputs: (scenario.inputs)(n) });
        }
        // The first request of each attempt warms the capture server's statement cache.
        match script::script(&captures[1], &captures[2]) {
            Ok(script) => return Ok(script),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no capture"))).context("capturing the statements")
}

fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}
