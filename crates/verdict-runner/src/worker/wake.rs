//! What wakes an idle worker: a [`WakeSource`]. The in-process [`LocalWake`] is also core's
//! `QueueNotifier`, so a start in the same process wakes a worker at once; a database
//! notification (PostgreSQL `LISTEN/NOTIFY`) can implement the same trait in the app.

use async_trait::async_trait;
use tokio::sync::Notify;
use verdict_core::domain::RunId;
use verdict_core::ports::QueueNotifier;

/// Tells an idle worker that a run may have been queued. Workers also poll slowly, so a lost
/// or spurious wake-up costs latency, never a run.
#[async_trait]
pub trait WakeSource: Send + Sync {
    /// Resolves when a run may have been queued. May resolve spuriously; the worker then finds
    /// nothing to claim and waits again.
    async fn wait(&self);
}

/// The in-process wake source: put the same `Arc` in `Ports::queue` and give it to the pool.
/// Each queued run wakes one waiting worker; a wake-up with no worker waiting is kept for the
/// next one that waits, so none is lost between a failed claim and the wait.
#[derive(Debug, Default)]
pub struct LocalWake {
    notify: Notify,
}

impl LocalWake {
    /// A wake source nobody has signalled yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes one waiting worker (or the next to wait).
    pub fn wake_one(&self) {
        self.notify.notify_one();
    }
}

#[async_trait]
impl WakeSource for LocalWake {
    async fn wait(&self) {
        self.notify.notified().await;
    }
}

impl QueueNotifier for LocalWake {
    fn run_queued(&self, run: RunId) {
        tracing::trace!(run_id = %run, "run queued; waking a worker");
        self.wake_one();
    }
}

/// No wake-ups at all: workers rely on their fallback poll (e.g. `verdict worker` against a
/// store that cannot notify).
#[derive(Debug, Clone, Copy, Default)]
pub struct PollOnly;

#[async_trait]
impl WakeSource for PollOnly {
    async fn wait(&self) {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_wake_up_before_the_wait_is_not_lost() {
        let wake = LocalWake::new();
        wake.run_queued(RunId::generate());
        tokio::time::timeout(Duration::from_secs(5), wake.wait()).await.unwrap();
    }

    #[tokio::test]
    async fn poll_only_never_wakes() {
        assert!(tokio::time::timeout(Duration::from_millis(20), PollOnly.wait()).await.is_err());
    }
}
