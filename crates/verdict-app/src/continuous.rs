//! Continuous verification in every `serve` and `worker` process (docs/contract.md#continuous-verification): a scheduler loop
//! that fires due schedules, and a dispatcher loop that sends due webhook deliveries — woken at
//! once by completions in this process, and polling as a fallback (deliveries of other
//! processes, retries, a crash's leftovers). Both are core services; this module only drives
//! them and stops them on shutdown.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::Notify;
use verdict_core::domain::{LeaseOwner, OutboundPolicy};
use verdict_core::ports::{Clock, DeliveryNotifier, SystemClock};
use verdict_core::services::{DELIVERY_BATCH, DispatcherService, Ports, SCHEDULE_BATCH, SchedulerService};
use verdict_webhooks::HttpTransport;

use crate::shutdown::Shutdown;

/// How often the scheduler looks for due schedules: a due schedule starts within this (plus the
/// start itself), well inside the 5 s docs/contract.md#continuous-verification asks for.
pub const SCHEDULER_POLL: Duration = Duration::from_secs(2);

/// The longest an idle dispatcher sleeps before looking again when nobody woke it.
pub const DISPATCHER_POLL: Duration = Duration::from_secs(5);

/// The shortest pause between two dispatcher rounds, so a row that is due "now" but held by
/// another process never turns the loop into a busy one, and a burst of completions (each of
/// which wakes the dispatcher) costs one round per pause instead of one per completion.
const MIN_PAUSE: Duration = Duration::from_millis(50);

/// Webhook settings.
#[derive(Debug, Args, Clone, Default)]
pub struct WebhookArgs {
    /// Allow webhook URLs with `http://` and private, loopback or link-local addresses. For
    /// development and tests only: it turns off the server-side request forgery protection.
    #[arg(long, env = "VERDICT_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: bool,
    /// Do not send webhook deliveries from this process (they wait in the outbox for another).
    #[arg(long, global = true, hide = true)]
    pub no_dispatcher: bool,
}

impl WebhookArgs {
    /// The outbound policy these settings ask for, said loudly when relaxed.
    #[must_use]
    pub fn policy(&self) -> OutboundPolicy {
        if self.webhook_allow_private {
            tracing::warn!(
                "VERDICT_WEBHOOK_ALLOW_PRIVATE=true: webhooks may target http:// and private, loopback and \
                 link-local addresses. Server-side request forgery protection is OFF. Development and tests only."
            );
        }
        OutboundPolicy { allow_private: self.webhook_allow_private }
    }
}

/// Wakes this process's dispatcher when a completion enqueued deliveries. A wake-up with the
/// dispatcher busy is kept for its next wait, so none is lost.
#[derive(Debug, Default)]
pub struct DispatchWake(Notify);

impl DeliveryNotifier for DispatchWake {
    fn deliveries_enqueued(&self) {
        self.0.notify_one();
    }
}

/// The scheduler and the dispatcher of one process, not yet running.
pub struct Continuous {
    ports: Ports,
    wake: Arc<DispatchWake>,
    allow_private: bool,
    dispatch: bool,
}

impl std::fmt::Debug for Continuous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Continuous").field("dispatch", &self.dispatch).finish_non_exhaustive()
    }
}

impl Continuous {
    /// Both loops on `ports` (whose observer receives their metrics); completions of this process
    /// must carry [`Continuous::wake`] as their delivery notifier.
    #[must_use]
    pub fn new(ports: Ports, wake: Arc<DispatchWake>, args: &WebhookArgs) -> Self {
        Self { ports, wake, allow_private: args.webhook_allow_private, dispatch: !args.no_dispatcher }
    }

    /// Starts both loops; they stop when `shutdown` fires (a dispatch round in flight finishes
    /// first, bounded by the 10 s delivery timeout).
    #[must_use]
    pub fn start(self, shutdown: Shutdown) -> RunningContinuous {
        let mut tasks = vec![tokio::spawn(scheduler_loop(SchedulerService::new(self.ports.clone()), shutdown.clone()))];
        if self.dispatch {
            let transport = Arc::new(HttpTransport::new(self.allow_private));
            let dispatcher = DispatcherService::new(self.ports, transport);
            tasks.push(tokio::spawn(dispatcher_loop(dispatcher, self.wake, shutdown)));
        } else {
            tracing::warn!("webhook dispatcher disabled in this process; deliveries wait for another process");
        }
        RunningContinuous { tasks }
    }
}

/// The running loops.
#[derive(Debug)]
pub struct RunningContinuous {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningContinuous {
    /// Waits until both loops have stopped (after the shutdown signal).
    pub async fn stopped(self) {
        for task in self.tasks {
            if task.await.is_err() {
                tracing::error!("a continuous-verification task failed");
            }
        }
    }
}

async fn pause(duration: Duration, shutdown: &Shutdown) -> bool {
    pause_until(tokio::time::Instant::now() + duration, shutdown).await
}

/// Waits until `deadline` (at once when it has passed); `false` when shutdown came first.
async fn pause_until(deadline: tokio::time::Instant, shutdown: &Shutdown) -> bool {
    tokio::select! {
        () = tokio::time::sleep_until(deadline) => true,
        () = shutdown.wait() => false,
    }
}

async fn scheduler_loop(scheduler: SchedulerService, shutdown: Shutdown) {
    let owner = LeaseOwner::generate("scheduler");
    tracing::info!(owner = %owner, "scheduler started");
    loop {
        let more = match scheduler.fire_due(&owner).await {
            Ok(claimed) => claimed >= SCHEDULE_BATCH as usize,
            Err(error) => {
                tracing::warn!(error = %error, "claiming due schedules failed; trying again");
                false
            }
        };
        if !more && !pause(SCHEDULER_POLL, &shutdown).await {
            break;
        }
    }
    tracing::info!("scheduler stopped");
}

async fn dispatcher_loop(dispatcher: DispatcherService, wake: Arc<DispatchWake>, shutdown: Shutdown) {
    let owner = LeaseOwner::generate("dispatcher");
    tracing::info!(owner = %owner, "webhook dispatcher started");
    loop {
        let round = tokio::time::Instant::now();
        let full = match dispatcher.dispatch_due(&owner).await {
            Ok(claimed) => claimed >= DELIVERY_BATCH as usize,
            Err(error) => {
                tracing::warn!(error = %error, "claiming due deliveries failed; trying again");
                false
            }
        };
        if full {
            continue;
        }
        // Sleep until the earliest pending delivery is due, a completion wakes us, or the poll.
        let until_due = match dispatcher.next_due_at().await {
            Ok(Some(at)) => (at - SystemClock.now()).to_std().unwrap_or(Duration::ZERO),
            Ok(None) | Err(_) => DISPATCHER_POLL,
        };
        let sleep = until_due.clamp(MIN_PAUSE, DISPATCHER_POLL);
        tokio::select! {
            () = wake.0.notified() => {
                // Woken at once after a quiet spell; under a stream of completions no sooner
                // than MIN_PAUSE after the last round began (docs/benchmarks.md, "The writes").
                if !pause_until(round + MIN_PAUSE, &shutdown).await {
                    break;
                }
            }
            () = tokio::time::sleep(sleep) => {}
            () = shutdown.wait() => break,
        }
    }
    tracing::info!("webhook dispatcher stopped");
}
