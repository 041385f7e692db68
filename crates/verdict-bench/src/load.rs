//! The load generator: `clients` keep-alive HTTP/1.1 connections (hyper's client connection, one
//! per task, as wrk keeps one per connection) sending requests back to back
//! for a fixed time (the saturating rate), or at a fixed total rate (latency at a given load,
//! measured from when each request was due, so a slow server cannot hide its queueing), while
//! the server's resident memory is sampled.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt as _, Full};
use hyper::Method;
use hyper::body::Bytes;
use hyper::header;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// One request of a scenario.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// The bearer token.
    pub token: Arc<str>,
    /// A JSON body.
    pub body: Option<Vec<u8>>,
}

/// Makes request `n` of a scenario; `None` when the scenario has no more.
pub type Requests = Arc<dyn Fn(u64) -> Option<Request> + Send + Sync>;

/// What one load phase measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Requests answered with an expected status.
    pub requests: u64,
    /// Requests per second.
    pub rate: f64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// The server's largest resident set seen during the phase, MiB.
    pub rss_mib: f64,
}

/// The target of a load phase.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port`.
    pub base: String,
    /// The server's pid, for its memory.
    pub pid: u32,
    /// Statuses that count as success.
    pub expect: &'static [u16],
}

/// Sends requests as fast as `clients` connections can for `duration`, or at `rate` per second
/// in total when given. Any unexpected status fails the phase with the server's answer.
///
/// # Errors
/// An unexpected status, or a request that could not be sent.
pub async fn run(
    target: &Target,
    requests: &Requests,
    clients: usize,
    duration: Duration,
    rate: Option<f64>,
) -> Result<Measured> {
    let authority: Arc<str> =
        target.base.strip_prefix("http://").context("the load generator speaks plain HTTP only")?.into();
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + duration;
    let sampler = tokio::spawn(sample_rss(target.pid, end));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (next, requests, target, authority) = (next.clone(), requests.clone(), target.clone(), authority.clone());
        tasks.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let stream = TcpStream::connect(&*authority).await.with_context(|| format!("connecting to {authority}"))?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            // The connection is driven by this task, not one of its own: a request and its
            // answer cross no task or thread inside the load generator, as in wrk.
            let send = async {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    // Paced: request n is due at start + n / rate, whichever connection sends it.
                    #[allow(clippy::cast_precision_loss)]
                    let due = rate.map_or_else(Instant::now, |r| start + Duration::from_secs_f64(n as f64 / r));
                    if due >= end {
                        break;
                    }
                    // Only a paced request waits. tokio's timer rounds a deadline up to its next
                    // millisecond tick, even one already past, so a wait before every saturating
                    // request held each connection about a millisecond and capped 8 connections
                    // near 4 000 requests/s whatever the server could do.
                    if rate.is_some() && due > Instant::now() {
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let Some(request) = requests(n) else { break };
                    let mut builder = hyper::Request::builder()
                        .method(request.method)
                        .uri(request.path)
                        .header(header::HOST, &*authority)
                        .header(header::AUTHORIZATION, format!("Bearer {}", request.token));
                    if request.body.is_some() {
                        builder = builder.header(header::CONTENT_TYPE, "application/json");
                    }
                    let body = Full::new(Bytes::from(request.body.unwrap_or_default()));
                    sender.ready().await?;
                    let response = sender.send_request(builder.body(body)?).await?;
                    let status = response.status().as_u16();
                    let body = response.into_body().collect().await?.to_bytes();
                    if !target.expect.contains(&status) {
                        bail!("request {n}: status {status}: {}", String::from_utf8_lossy(&body));
                    }
                    let micros = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
                    histogram.saturating_record(micros.max(1));
                }
                Ok::<_, anyhow::Error>(())
            };
            tokio::select! {
                sent = send => sent?,
                closed = connection => {
                    closed?;
                    bail!("the server closed the connection");
                }
            }
            Ok::<_, anyhow::Error>(histogram)
        }));
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        total.add(task.await??)?;
    }
    let elapsed = start.elapsed().min(duration).as_secs_f64();
    let rss_mib = sampler.await?;
    #[allow(clippy::cast_precision_loss)]
    let measured = Measured {
        requests: total.len(),
        rate: total.len() as f64 / elapsed,
        p50_ms: total.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: total.value_at_quantile(0.99) as f64 / 1000.0,
        rss_mib,
    };
    Ok(measured)
}

/// The largest `VmRSS` of `pid` until `end`, sampled every 20 ms, in MiB.
async fn sample_rss(pid: u32, end: Instant) -> f64 {
    let mut peak = 0u64;
    loop {
        if let Some(kib) = rss_kib(pid) {
            peak = peak.max(kib);
        }
        if Instant::now() >= end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    #[allow(clippy::cast_precision_loss)]
    let mib = peak as f64 / 1024.0;
    mib
}

/// The resident set of `pid` in KiB, from `/proc`.
#[must_use]
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds (user + system) process `pid` (a number, or `self`) has used so far, from `/proc`.
#[must_use]
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    process_stat(pid).map(|(_, seconds)| seconds)
}

/// Process `pid`'s state letter (`Z` once it exited and waits to be reaped, its CPU time then
/// final) and CPU seconds, from `/proc`.
#[must_use]
pub fn process_stat(pid: &str) -> Option<(char, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((state, ticks / 100.0))
}

/// The machine's CPU time so far, from the first line of `/proc/stat`: (idle, total), in ticks
/// summed over the cores. Idle counts time waiting for I/O too.
#[must_use]
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> =
        stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    // user nice system idle iowait irq softirq steal guest guest_nice; guest time is counted in
    // user already.
    let idle = fields.get(3)? + fields.get(4)?;
    let total = fields.iter().take(8).sum();
    Some((idle, total))
}

/// The share of the machine's CPU left idle between two [`machine_ticks`] readings, per cent.
#[must_use]
pub fn idle_percent(before: (u64, u64), after: (u64, u64)) -> Option<f64> {
    let total = after.1.checked_sub(before.1).filter(|t| *t > 0)?;
    let idle = after.0.checked_sub(before.0)?;
    #[allow(clippy::cast_precision_loss)]
    Some(idle as f64 * 100.0 / total as f64)
}
