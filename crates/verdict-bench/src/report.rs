//! The table of results, as Markdown: one line per backend and scenario, then the scale lines.

use std::fmt::Write as _;

use crate::load::Measured;
use crate::scale::Scale;
use crate::scenarios::HTTP_FLOOR;
use crate::script::PgbenchResult;

/// One measured scenario.
#[derive(Debug, Clone)]
pub struct Row {
    /// `PostgreSQL` or `SQLite`.
    pub backend: &'static str,
    /// The scenario.
    pub scenario: String,
    /// The goal ratio, if any.
    pub goal: Option<f64>,
    /// At saturation.
    pub saturated: Measured,
    /// At half the saturating rate.
    pub half: Measured,
    /// pgbench on the same SQL.
    pub pgbench: Option<PgbenchResult>,
    /// Statements the server sent per request.
    pub statements: Option<usize>,
    /// Parameters pgbench replays as constants although they varied.
    pub notes: Vec<String>,
    /// Where the CPU went at saturation.
    pub cpu: CpuPerRequest,
    /// Every round's ratio, when there were several (the line is the median round's).
    pub round_ratios: Vec<f64>,
}

/// CPU at saturation: the server's and the load generator's per request, and what the machine
/// left idle (what neither they nor the database used).
#[derive(Debug, Clone, Copy)]
pub struct CpuPerRequest {
    /// The server's CPU per request, milliseconds.
    pub server_ms: Option<f64>,
    /// The load generator's CPU per request, milliseconds.
    pub load_ms: Option<f64>,
    /// The machine's idle share, per cent.
    pub idle_percent: Option<f64>,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| info.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .map_or_else(String::new, |kib| format!(", {} GiB", kib / 1024 / 1024));
    format!("{cores} cores ({cpu}){memory}")
}

/// `ratio`, and the range of every round's when there were several: `0.78 (0.74–0.80)`.
fn with_range(ratio: f64, rounds: &[f64]) -> String {
    let (low, high) = rounds.iter().fold((ratio, ratio), |(low, high), r| (low.min(*r), high.max(*r)));
    if rounds.len() > 1 { format!("{ratio:.2} ({low:.2}–{high:.2})") } else { format!("{ratio:.2}") }
}

fn number(value: f64) -> String {
    if value >= 100.0 { format!("{value:.0}") } else { format!("{value:.2}") }
}

/// The whole report.
#[must_use]
pub fn render(rows: &[Row], server: &str, scale: Option<&Scale>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# HTTP benchmarks\n");
    let _ = writeln!(
        out,
        "Machine: {}; {server}; measured {}.",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        out,
        "8 keep-alive connections (`verdict serve --no-workers`) for 3 s, then pgbench `-M prepared -c 8 -T 3` on \
         the statements the server sent for the same request (scripts in `target/bench/pgbench/`), in three \
         alternating rounds: each line is its median round, and the ratio's range in brackets spans all three. \
         p99 at half load: the same scenario paced at half the saturating rate, latency from when each request was due. \
         CPU at saturation: the server's and the load generator's per request, and the share of the machine's CPU \
         that nothing used (the rest went to the database and the kernel); pgbench's CPU per transaction is its \
         own client's, the part of its cost a server's database client replaces. \
         Ceiling: the ratio a server would reach if a request cost the machine only what the HTTP floor \
         used (`GET /healthz` through the same load generator: the busy share of the machine over its rate) \
         plus all of the machine over pgbench's rate, floor / (floor + busy × pgbench) in requests per second. \
         It counts no driver and no work of Verdict's: where the machine is saturated (idle near 0 %), \
         a goal above it cannot be met on this machine by any server.\n"
    );
    let _ = writeln!(
        out,
        "| backend | scenario | HTTP req/s | pgbench tps, same SQL | ratio | goal | ceiling | p50 ms | p99 ms | p99 ms at half load | server RSS MiB | server CPU ms/req | pgbench CPU ms/tx | load generator CPU ms/req | machine idle % | statements/req |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(out, "{}", line(row, floor(rows, row.backend)));
    }
    let notes: Vec<String> =
        rows.iter().flat_map(|r| r.notes.iter().map(move |n| format!("- {}: {n}", r.scenario))).collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\nParameters pgbench replays with the first request's value:\n{}", notes.join("\n"));
    }
    if let Some(scale) = scale {
        let _ = writeln!(out, "\n{}", scale.render());
    }
    out
}

/// `backend`'s HTTP floor, once measured.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    /// Requests per second.
    rate: f64,
    /// The share of the machine it kept busy, 0 to 1 (1 when the idle time is unknown).
    busy: f64,
}

/// `backend`'s HTTP floor, once measured.
#[must_use]
pub fn floor(rows: &[Row], backend: &str) -> Option<Floor> {
    rows.iter().find(|r| r.backend == backend && r.scenario == HTTP_FLOOR).map(|r| Floor {
        rate: r.saturated.rate,
        busy: r.cpu.idle_percent.map_or(1.0, |idle| (1.0 - idle / 100.0).clamp(0.0, 1.0)),
    })
}

/// One row of the table; `floor` is the backend's HTTP floor, for the ceiling: per request the
/// floor costs `busy / floor` of the machine and pgbench's SQL `1 / pgbench`.
#[must_use]
pub fn line(row: &Row, floor: Option<Floor>) -> String {
    let ratio = row.pgbench.map(|p| row.saturated.rate / p.tps);
    let ceiling = row.pgbench.zip(floor).map(|(p, floor)| floor.rate / (floor.rate + floor.busy * p.tps));
    let met = match (ratio, row.goal) {
        (Some(ratio), Some(goal)) if ratio >= goal => format!("≥ {goal} ✓"),
        (Some(_), Some(goal)) => format!("≥ {goal} ✗"),
        _ => "—".to_owned(),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} |",
        row.backend,
        row.scenario,
        number(row.saturated.rate),
        row.pgbench.map_or_else(|| "—".to_owned(), |p| number(p.tps)),
        ratio.map_or_else(|| "—".to_owned(), |r| with_range(r, &row.round_ratios)),
        met,
        ceiling.map_or_else(|| "—".to_owned(), |c| format!("{c:.2}")),
        number(row.saturated.p50_ms),
        number(row.saturated.p99_ms),
        number(row.half.p99_ms),
        row.saturated.rss_mib.max(row.half.rss_mib),
        row.cpu.server_ms.map_or_else(|| "—".to_owned(), |c| format!("{c:.3}")),
        row.pgbench.and_then(|p| p.client_ms).map_or_else(|| "—".to_owned(), |c| format!("{c:.3}")),
        row.cpu.load_ms.map_or_else(|| "—".to_owned(), |c| format!("{c:.3}")),
        row.cpu.idle_percent.map_or_else(|| "—".to_owned(), |p| format!("{p:.0}")),
        row.statements.map_or_else(|| "—".to_owned(), |s| s.to_string()),
    )
}
