//! Ports: the narrow roles core needs from the outside world. Storage adapters implement the
//! store traits; every state-changing call receives the audit event recording the change and
//! must commit both together or neither.

mod acks;
mod audit;
mod cipher;
mod clock;
mod connections;
mod continuous;
mod fleet;
mod notify;
mod queue;
mod runs;
mod schedules;
mod webhooks;

pub use acks::*;
pub use audit::*;
pub use cipher::*;
pub use clock::*;
pub use connections::*;
pub use continuous::*;
pub use fleet::*;
pub use notify::*;
pub use queue::*;
pub use runs::*;
pub use schedules::*;
pub use webhooks::*;

/// A storage failure that is not a business outcome.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store did not answer in time or refused connections: retry later (HTTP 503).
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug or a broken invariant (HTTP 500).
    #[error("unexpected store error")]
    Unexpected(#[source] anyhow::Error),
}

impl From<crate::domain::ParseError> for StoreError {
    /// A value that breaks a domain invariant where none can occur — a stored row holding data
    /// Verdict never writes, or a report that does not assemble: a bug, not a business outcome.
    fn from(error: crate::domain::ParseError) -> Self {
        Self::Unexpected(anyhow::Error::new(error).context("a domain invariant is broken"))
    }
}
