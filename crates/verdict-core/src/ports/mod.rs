//! Ports: the narrow roles core needs from the outside world. Storage adapters implement the
//! store traits; every state-changing call receives the audit event recording the change and
//! must commit both together or neither.

mod acks;
mod audit;
mod cipher;
mod clock;
mod connections;
mod queue;
mod runs;

pub use acks::*;
pub use audit::*;
pub use cipher::*;
pub use clock::*;
pub use connections::*;
pub use queue::*;
pub use runs::*;

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
