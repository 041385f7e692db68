//! Two numbers, one line each (not a test; `cargo bench -p verdict-runner --bench flow`):
//! 1. how long one `provider.connection.check` run takes when every simulated provider call has
//!    50 ms latency — the checks after the token run in parallel and the registration reads are
//!    shared, so it should be three round trips (token; organization, licence and registration;
//!    Intune after the licence), within four (about 200 ms), although it makes five calls;
//! 2. how many runs per second 4 workers complete on the in-memory store against the simulated
//!    provider without latency.

use std::time::{Duration, Instant};

use verdict_runner::fake::{FakeProvider, FakeTenant, Sandbox};
use verdict_runner::{DEFAULT_CHECK_TIMEOUT, WorkerConfig};

const LATENCY: Duration = Duration::from_millis(50);
const LATENCY_SAMPLES: usize = 7;
const THROUGHPUT_RUNS: i64 = 400;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        one_run_with_latency().await?;
        throughput_of_four_workers().await
    })
}

async fn one_run_with_latency() -> anyhow::Result<()> {
    let provider = FakeProvider::start(FakeTenant::contoso()).await?;
    provider.update(|b| b.latency = LATENCY);
    let sandbox = Sandbox::new(&provider, DEFAULT_CHECK_TIMEOUT)?;
    let pool = sandbox.pool(WorkerConfig { workers: 1, ..WorkerConfig::default() });
    let connection = sandbox.connect(&provider, 1).await?;
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for _ in 0..LATENCY_SAMPLES {
        let started = Instant::now();
        let id = sandbox.start(1, connection).await?;
        let run = sandbox.completed(id, Duration::from_secs(30)).await?;
        samples.push(started.elapsed());
        anyhow::ensure!(run.report.is_some_and(|r| r.summary().counts.pass == 12), "every check should pass");
    }
    pool.shutdown().await;
    samples.sort();
    let median = samples[samples.len() / 2];
    let requests = provider.requests() / LATENCY_SAMPLES;
    println!(
        "flow.one_run_at_50ms_latency: median {} ms over {LATENCY_SAMPLES} runs = {:.1} round trips of 50 ms, \
         budget 4 ({requests} provider requests per run; sequential would be {requests} round trips)",
        median.as_millis(),
        median.as_secs_f64() / LATENCY.as_secs_f64(),
    );
    Ok(())
}

async fn throughput_of_four_workers() -> anyhow::Result<()> {
    let provider = FakeProvider::start(FakeTenant::contoso()).await?;
    let sandbox = Sandbox::new(&provider, DEFAULT_CHECK_TIMEOUT)?;
    // One connection per run: runs of one identity would be deduplicated while active.
    let mut ids = Vec::new();
    for n in 0..THROUGHPUT_RUNS {
        let tenant = 1 + n % 1000;
        let connection = sandbox.connect(&provider, tenant).await?;
        ids.push(sandbox.start(tenant, connection).await?);
    }
    let started = Instant::now();
    let pool = sandbox.pool(WorkerConfig { workers: 4, ..WorkerConfig::default() });
    for id in &ids {
        sandbox.completed(*id, Duration::from_secs(60)).await?;
    }
    let elapsed = started.elapsed();
    pool.shutdown().await;
    println!(
        "workers.throughput: 4 workers completed {THROUGHPUT_RUNS} runs in {:.2} s = {:.0} runs/s \
         (in-memory store, simulated provider on localhost without latency, 5 provider requests per run)",
        elapsed.as_secs_f64(),
        THROUGHPUT_RUNS as f64 / elapsed.as_secs_f64(),
    );
    Ok(())
}
