//! Services own the business sequences: authorize, validate, call the ports in the right order.
//! Handlers and workers call services; they never sequence ports themselves.

mod acknowledgements;
mod audit;
mod connections;
pub(crate) mod events;
mod runner;
mod verifications;

use std::sync::Arc;

pub use acknowledgements::*;
pub use audit::*;
pub use connections::*;
pub use runner::*;
pub use verifications::*;

use crate::flows::FlowCatalog;
use crate::ports::{
    AcknowledgementStore, AuditLog, Clock, ProviderConnectionStore, QueueNotifier, RunStore, SecretCipher, StoreError,
};

/// Everything the services need from the outside world.
#[derive(Clone)]
pub struct Ports {
    /// Runs.
    pub runs: Arc<dyn RunStore>,
    /// Acknowledgements.
    pub acknowledgements: Arc<dyn AcknowledgementStore>,
    /// Provider connections.
    pub connections: Arc<dyn ProviderConnectionStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Secret encryption.
    pub cipher: Arc<dyn SecretCipher>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Known flows.
    pub flows: Arc<FlowCatalog>,
    /// Wakes workers when a run is queued.
    pub queue: Arc<dyn QueueNotifier>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

/// A storage failure as every service reports it.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The store is unavailable: retry later.
    #[error("the store is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A bug or broken invariant.
    #[error("unexpected failure")]
    Unexpected(#[source] anyhow::Error),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(e) => Self::Unavailable(e),
            StoreError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}
