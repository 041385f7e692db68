//! The worker pool: N tasks that claim runs through core's `RunnerService`, execute them with
//! the flow engine while keeping the lease alive, and complete them. Idle workers wait on a
//! [`WakeSource`] or a slow fallback poll; shutdown stops claiming, gives running checks a grace
//! period and hands unfinished runs back.

mod wake;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use verdict_core::domain::LeaseOwner;
use verdict_core::services::{ClaimedRun, Ports, RunnerError, RunnerService};

pub use wake::{LocalWake, PollOnly, WakeSource};

use crate::ErrorChain;
use crate::engine::FlowEngine;

/// How the workers behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Number of worker tasks (`VERDICT_WORKERS`, default 4).
    pub workers: usize,
    /// How long a claim or heartbeat holds a run (`VERDICT_LEASE_SECONDS`, default 30 s); the
    /// lease is extended every third of it.
    pub lease: Duration,
    /// How long an idle worker waits for a wake-up before it looks again anyway (default 5 s).
    pub fallback_poll: Duration,
    /// How long running checks may go on after shutdown began (default 10 s); after it the run
    /// is handed back.
    pub shutdown_grace: Duration,
    /// The longest pause after repeated store failures (default 30 s).
    pub max_store_backoff: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            lease: Duration::from_secs(30),
            fallback_poll: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
            max_store_backoff: Duration::from_secs(30),
        }
    }
}

/// Tells workers to stop; dropping it stops them too.
#[derive(Debug)]
pub struct StopTrigger(watch::Sender<bool>);

impl StopTrigger {
    /// Asks every worker holding the matching [`StopSignal`] to stop.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// What a worker watches to know it should stop.
#[derive(Debug, Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    /// Whether stopping was asked for (or the trigger is gone).
    #[must_use]
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once stopping was asked for (or the trigger is gone).
    pub async fn stopped(&self) {
        let mut receiver = self.0.clone();
        // An error means the trigger was dropped, which also means stop.
        let _ = receiver.wait_for(|stop| *stop).await;
    }
}

/// A connected trigger and signal.
#[must_use]
pub fn stop_channel() -> (StopTrigger, StopSignal) {
    let (sender, receiver) = watch::channel(false);
    (StopTrigger(sender), StopSignal(receiver))
}

/// One worker: a loop of claim, execute, complete. [`WorkerPool`] runs several; running one by
/// hand is useful in tests and tools.
pub struct Worker {
    runner: RunnerService,
    engine: Arc<FlowEngine>,
    wake: Arc<dyn WakeSource>,
    config: WorkerConfig,
    owner: LeaseOwner,
}

impl Worker {
    /// A worker with a fresh lease-owner name.
    #[must_use]
    pub fn new(ports: Ports, engine: Arc<FlowEngine>, wake: Arc<dyn WakeSource>, config: WorkerConfig) -> Self {
        let lease = chrono::Duration::from_std(config.lease).unwrap_or_else(|_| chrono::Duration::seconds(30));
        Self { runner: RunnerService::new(ports, lease), engine, wake, config, owner: LeaseOwner::generate("worker") }
    }

    /// The name this worker holds leases under.
    #[must_use]
    pub fn owner(&self) -> &LeaseOwner {
        &self.owner
    }

    /// Works until `stop` fires. Never returns early on errors: store failures are logged and
    /// backed off from.
    pub async fn run(self, stop: StopSignal) {
        tracing::info!(owner = %self.owner, "worker started");
        let mut backoff = Backoff::new(self.config.max_store_backoff);
        while !stop.is_stopped() {
            match self.runner.claim(&self.owner).await {
                Ok(Some(claimed)) => {
                    backoff.reset();
                    self.work(claimed, &stop).await;
                }
                Ok(None) => {
                    backoff.reset();
                    tokio::select! {
                        () = self.wake.wait() => {}
                        () = tokio::time::sleep(self.config.fallback_poll) => {}
                        () = stop.stopped() => {}
                    }
                }
                // Another worker completed the run while this one prepared it: look again.
                Err(RunnerError::LeaseLost) => {}
                Err(error) => {
                    let pause = backoff.next();
                    tracing::warn!(owner = %self.owner, error = %ErrorChain(&error), pause_ms = pause.as_millis(), "claiming failed; backing off");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = stop.stopped() => {}
                    }
                }
            }
        }
        tracing::info!(owner = %self.owner, "worker stopped");
    }

    #[tracing::instrument(skip_all, fields(run_id = %claimed.run.id, attempt = claimed.run.attempt, owner = %self.owner))]
    async fn work(&self, mut claimed: ClaimedRun, stop: &StopSignal) {
        let heartbeat_every = (self.config.lease / 3).max(Duration::from_millis(10));
        let executed = {
            let execution = self.engine.execute(&self.runner, &mut claimed, heartbeat_every);
            tokio::pin!(execution);
            tokio::select! {
                biased;
                result = &mut execution => Some(result),
                () = grace_over(stop, self.config.shutdown_grace) => None,
            }
        };
        match executed {
            Some(Ok(())) => match self.complete_with_retries(&claimed).await {
                Ok(run) => tracing::debug!(outcome = run.outcome.as_str(), "run completed"),
                Err(RunnerError::LeaseLost) => {
                    tracing::debug!("lease lost before completion; another worker owns the run")
                }
                Err(error) => {
                    tracing::error!(error = %ErrorChain(&error), "the run could not be completed; it runs again once its lease expires");
                }
            },
            Some(Err(RunnerError::LeaseLost)) => tracing::debug!("lease lost; another worker owns the run"),
            Some(Err(error)) => {
                tracing::error!(error = %ErrorChain(&error), "the run could not be executed; it runs again once its lease expires");
            }
            None => {
                tracing::warn!("shutdown grace period over; handing the run back");
                match self.runner.release(&claimed).await {
                    Ok(()) | Err(RunnerError::LeaseLost) => {}
                    Err(error) => {
                        tracing::warn!(error = %ErrorChain(&error), "the lease could not be handed back; it expires on its own");
                    }
                }
            }
        }
    }
}

impl Worker {
    /// Completing is one store call; a transient failure is retried a few times before the run
    /// is left to its lease (and another attempt).
    async fn complete_with_retries(&self, claimed: &ClaimedRun) -> Result<verdict_core::domain::Run, RunnerError> {
        let mut pause = Duration::from_millis(200);
        let mut tries = 1;
        loop {
            match self.runner.complete(claimed).await {
                Err(RunnerError::Store(error)) if tries < COMPLETE_TRIES => {
                    tracing::warn!(error = %ErrorChain(&error), tries, "completing the run failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }
}

/// How many times a worker tries to store a finished run's completion.
const COMPLETE_TRIES: u32 = 3;

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("owner", &self.owner).field("config", &self.config).finish_non_exhaustive()
    }
}

async fn grace_over(stop: &StopSignal, grace: Duration) {
    stop.stopped().await;
    tokio::time::sleep(grace).await;
}

/// Doubling pauses after store failures, from 100 ms up to a maximum.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);

    fn new(max: Duration) -> Self {
        Self { next: Self::FIRST.min(max), max }
    }

    fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    fn reset(&mut self) {
        self.next = Self::FIRST.min(self.max);
    }
}

/// Runs one worker slot: a fresh worker whenever the previous one panicked, until stopped.
async fn supervise(
    ports: Ports,
    engine: Arc<FlowEngine>,
    wake: Arc<dyn WakeSource>,
    config: WorkerConfig,
    stop: StopSignal,
) {
    /// Aborting the supervisor (shutdown past its deadline) aborts its worker too.
    struct AbortOnDrop(JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    while !stop.is_stopped() {
        let worker = Worker::new(ports.clone(), Arc::clone(&engine), Arc::clone(&wake), config.clone());
        let mut running = AbortOnDrop(tokio::spawn(worker.run(stop.clone())));
        match (&mut running.0).await {
            Err(error) if error.is_panic() => {
                tracing::error!("a worker panicked; replacing it (its run is claimed again when the lease expires)");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.stopped() => {}
                }
            }
            _ => return,
        }
    }
}

/// N workers sharing one engine and wake source.
#[derive(Debug)]
pub struct WorkerPool {
    trigger: StopTrigger,
    workers: Vec<JoinHandle<()>>,
    grace: Duration,
}

impl WorkerPool {
    /// Spawns `config.workers` workers on the current Tokio runtime. A worker that panics (a
    /// bug: checks are isolated already) is replaced after a pause, so the pool keeps its size.
    #[must_use]
    pub fn start(ports: Ports, engine: Arc<FlowEngine>, wake: Arc<dyn WakeSource>, config: WorkerConfig) -> Self {
        let (trigger, signal) = stop_channel();
        let workers = (0..config.workers.max(1))
            .map(|_| {
                tokio::spawn(supervise(
                    ports.clone(),
                    Arc::clone(&engine),
                    Arc::clone(&wake),
                    config.clone(),
                    signal.clone(),
                ))
            })
            .collect();
        Self { trigger, workers, grace: config.shutdown_grace }
    }

    /// Stops claiming, lets running checks finish within the grace period, hands unfinished
    /// runs back, and waits for every worker. A worker stuck past the grace period (e.g. in a
    /// store call that never returns) is aborted; its lease then expires and the run is claimed
    /// again.
    pub async fn shutdown(self) {
        self.trigger.stop();
        let deadline = tokio::time::Instant::now() + self.grace + Duration::from_secs(5);
        for mut worker in self.workers {
            match tokio::time::timeout_at(deadline, &mut worker).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(error = %error, "a worker task ended abnormally"),
                Err(_) => {
                    tracing::warn!("a worker did not stop in time; aborting it (its lease will expire)");
                    worker.abort();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(350));
        let pauses: Vec<u128> = (0..4).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 350, 350]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(100));
    }

    #[tokio::test]
    async fn a_dropped_trigger_stops_workers() {
        let (trigger, signal) = stop_channel();
        assert!(!signal.is_stopped());
        drop(trigger);
        assert!(signal.is_stopped());
        signal.stopped().await;
    }
}
