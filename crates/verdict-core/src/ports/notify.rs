//! Telling workers that a run was queued, so they wake promptly instead of polling.

use crate::domain::RunId;

/// Receives "a run was queued" after the start committed. Implementations must be cheap and
/// must not fail the start: waking workers is an optimisation, workers also poll slowly.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait QueueNotifier: Send + Sync {
    /// A run was queued.
    fn run_queued(&self, run: RunId);
}

/// A notifier that tells nobody: for API-only processes whose workers run elsewhere (they learn
/// of new runs from the database, e.g. PostgreSQL `LISTEN/NOTIFY`, or their fallback poll).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoQueueNotifier;

impl QueueNotifier for NoQueueNotifier {
    fn run_queued(&self, _run: RunId) {}
}
