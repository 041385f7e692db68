//! The worker pool's lifecycle: dead workers' leases are re-claimed, exhausted runs are
//! abandoned, starts wake idle workers, shutdown finishes or hands back, store outages pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use verdict_core::domain::{
    CheckStatus, Completion, LeaseOwner, Outcome, Overall, PendingAuditEvent, ReasonCode, Report, Run, RunId, RunStatus,
};
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::keys::{GRAPH_ORGANIZATION, TOKEN_ACQUISITION};
use verdict_core::ports::{Clock, CompleteError, LeaseError, RunQueue, StoreError};
use verdict_runner::WorkerConfig;
use verdict_runner::fake::Reply;

use crate::support::{Backend, Options, check, on_every_backend, quick_workers, report, world, world_with};

fn token_passed(run: &Run) -> bool {
    run.report.as_ref().is_some_and(|r| check(r, TOKEN_ACQUISITION).status == CheckStatus::Pass)
}

async fn an_aborted_worker_leaves_a_lease_that_another_worker_reclaims_and_completes(backend: Backend) {
    let w = world_with(Options { backend, check_timeout: Duration::from_secs(30), ..Options::default() }).await;
    w.provider.update(|b| b.organization = Reply::Hang);
    let config =
        WorkerConfig { lease: Duration::from_secs(1), fallback_poll: Duration::from_millis(100), ..quick_workers() };
    let doomed = w.spawn_worker(config.clone());
    let id = w.start().await;
    w.wait_for(id, Duration::from_secs(10), "token acquisition", token_passed).await;
    doomed.abort();
    assert!(doomed.await.unwrap_err().is_cancelled());
    w.provider.update(|b| b.organization = Reply::Normal);
    let pool = w.pool(config);
    let run = w.wait_completed(id, Duration::from_secs(20)).await;
    pool.shutdown().await;
    assert_eq!(run.attempt, 2);
    assert_eq!(report(&run).summary().overall, Overall::Ready);
}

#[tokio::test]
async fn three_dead_workers_give_the_abandoned_report() {
    let w =
        world_with(Options { manual_clock: true, check_timeout: Duration::from_secs(60), ..Options::default() }).await;
    let clock = w.manual_clock.clone().unwrap();
    w.provider.update(|b| b.organization = Reply::Hang);
    let id = w.start().await;
    for attempt in 1..=verdict_core::services::MAX_ATTEMPTS {
        let doomed = w.spawn_worker(quick_workers());
        let claimed_at = clock.now();
        // This attempt's own live report (written at claim time) shows every check but the
        // hanging one finished.
        let this_attempt = |run: &Run| {
            run.attempt == attempt
                && run.report.as_ref().is_some_and(|r| {
                    r.generated_at() == claimed_at
                        && r.summary().counts.running == 1
                        && check(r, GRAPH_ORGANIZATION).status == CheckStatus::Running
                })
        };
        w.wait_for(id, Duration::from_secs(10), "the attempt's progress", this_attempt).await;
        doomed.abort();
        let _ = doomed.await;
        clock.advance(chrono::Duration::seconds(31));
    }
    let pool = w.pool(quick_workers());
    let run = w.wait_completed(id, Duration::from_secs(20)).await;
    pool.shutdown().await;
    assert_eq!(run.outcome, Outcome::Failed);
    let report = report(&run);
    let organization = check(report, GRAPH_ORGANIZATION);
    assert_eq!((organization.status, organization.reason_code), (CheckStatus::Fail, ReasonCode::RUNNER_ABORTED));
    let aborted = report.checks().iter().filter(|c| c.reason_code == ReasonCode::RUNNER_ABORTED).count();
    assert_eq!(aborted, 1, "what the last attempt finished is kept");
}

async fn a_start_wakes_an_idle_worker_promptly(backend: Backend) {
    let w = world(backend).await;
    // A fallback poll this slow means only the wake-up can explain a quick completion.
    let pool = w.pool(WorkerConfig { fallback_poll: Duration::from_secs(30), ..quick_workers() });
    let first = w.start().await;
    w.wait_completed(first, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await; // the worker looked again and is idle now
    let second = w.start().await;
    w.wait_completed(second, Duration::from_secs(5)).await;
    pool.shutdown().await;
}

async fn shutdown_lets_an_in_flight_run_finish_within_the_grace_period(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.latency = Duration::from_millis(300));
    let pool = w.pool(WorkerConfig { shutdown_grace: Duration::from_secs(10), ..quick_workers() });
    let id = w.start().await;
    w.wait_for(id, Duration::from_secs(10), "the claim", |run| run.status == RunStatus::Running).await;
    pool.shutdown().await;
    let run = w.get(id).await;
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(report(&run).summary().overall, Overall::Ready);
}

async fn shutdown_hands_back_a_run_that_outlasts_the_grace_period(backend: Backend) {
    let w = world_with(Options { backend, check_timeout: Duration::from_secs(60), ..Options::default() }).await;
    w.provider.update(|b| b.organization = Reply::Hang);
    let id = w.start().await;
    // Three rolling restarts, each stopping while the run is in flight: a graceful hand-back is
    // not a dead worker, so none of them spends an attempt and the run is never abandoned.
    for restart in 1..=3 {
        let pool = w.pool(WorkerConfig { shutdown_grace: Duration::from_millis(200), ..quick_workers() });
        let claimed_and_working =
            |run: &Run| run.lease_expires_at.is_some_and(|at| at > Utc::now()) && token_passed(run);
        w.wait_for(id, Duration::from_secs(10), "a claim and its token acquisition", claimed_and_working).await;
        pool.shutdown().await;
        let handed_back = w.get(id).await;
        assert_eq!(handed_back.status, RunStatus::Running, "restart {restart}");
        assert!(handed_back.lease_expires_at.unwrap() <= Utc::now(), "the lease was released, not left to run out");
        assert_eq!(handed_back.attempt, 0, "restart {restart}: the hand-back spent no attempt");
    }
    w.provider.update(|b| b.organization = Reply::Normal);
    let pool = w.pool(quick_workers());
    // Far sooner than the 30 s lease could expire: only the release explains it.
    let run = w.wait_completed(id, Duration::from_secs(10)).await;
    pool.shutdown().await;
    assert_eq!((run.attempt, run.outcome, report(&run).summary().overall), (1, Outcome::Succeeded, Overall::Ready));
}

/// A run store whose claims panic once and then fail for a while, and whose live-report writes
/// fail for a while.
struct Flaky {
    inner: InMemoryStore,
    claim_panics: AtomicUsize,
    claim_failures: AtomicUsize,
    write_failures: AtomicUsize,
}

fn outage() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("simulated store outage"))
}

fn take(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[async_trait]
impl RunQueue for Flaky {
    async fn claim_next(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        assert!(!take(&self.claim_panics), "simulated bug in a store adapter");
        if take(&self.claim_failures) {
            return Err(outage());
        }
        self.inner.claim_next(owner, now, until).await
    }
    async fn heartbeat(&self, run: RunId, owner: &LeaseOwner, until: DateTime<Utc>) -> Result<(), LeaseError> {
        self.inner.heartbeat(run, owner, until).await
    }
    async fn release(&self, run: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
        self.inner.release(run, owner, now).await
    }
    async fn write_live_report(&self, run: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError> {
        // The claim's own live report goes through; the progress writes after it fail.
        if report.summary().counts.running < report.summary().counts.total && take(&self.write_failures) {
            return Err(LeaseError::Store(outage()));
        }
        self.inner.write_live_report(run, owner, report).await
    }
    async fn complete(
        &self,
        run: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
        events: Vec<verdict_core::domain::WebhookEvent>,
    ) -> Result<Run, CompleteError> {
        self.inner.complete(run, owner, completion, completed, events).await
    }
}

#[tokio::test]
async fn a_panicking_worker_is_replaced_store_outages_are_backed_off_and_results_survive() {
    let queue = |store: InMemoryStore| -> Arc<dyn RunQueue> {
        Arc::new(Flaky {
            inner: store,
            claim_panics: AtomicUsize::new(1),
            claim_failures: AtomicUsize::new(3),
            write_failures: AtomicUsize::new(5),
        })
    };
    let w = world_with(Options { queue: Some(Box::new(queue)), ..Options::default() }).await;
    let pool = w.pool(quick_workers());
    let id = w.start().await;
    let run = w.wait_completed(id, Duration::from_secs(20)).await;
    pool.shutdown().await;
    assert_eq!(run.attempt, 1, "the outage cost time, not an attempt");
    let report = report(&run);
    assert_eq!((report.summary().overall, report.summary().counts.pass), (Overall::Ready, 12));
}

on_every_backend!(
    an_aborted_worker_leaves_a_lease_that_another_worker_reclaims_and_completes,
    a_start_wakes_an_idle_worker_promptly,
    shutdown_lets_an_in_flight_run_finish_within_the_grace_period,
    shutdown_hands_back_a_run_that_outlasts_the_grace_period,
);
