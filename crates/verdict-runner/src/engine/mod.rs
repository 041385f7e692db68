//! The flow engine: the [`Check`] trait, the registry that maps each flow of core's catalog to
//! its implementations, and the executor that runs a claimed run's checks concurrently where
//! they are independent, each under a timeout and isolated from the others' panics.

mod context;
mod execute;
mod outcome;
mod registry;

use async_trait::async_trait;
use verdict_core::domain::CheckKey;

pub use context::{Artifact, CheckContext, RunInput};
pub use execute::{DEFAULT_CHECK_TIMEOUT, FlowEngine};
pub use outcome::CheckOutcome;
pub use registry::{FlowRegistry, RegistryError};

/// One check of a flow. Title, severity and blocking come from the flow's declaration in core;
/// the check decides status, reason, message, evidence and next steps.
#[async_trait]
pub trait Check: Send + Sync {
    /// The key the flow declares for this check.
    fn key(&self) -> &CheckKey;

    /// The checks that must pass before this one runs; when one does not, this check is
    /// skipped with `ext.provider_connection.prerequisite_failed`.
    fn depends_on(&self) -> &[CheckKey];

    /// Runs the check.
    ///
    /// # Errors
    /// Any unexpected failure. The engine records it as `fail`/`unknown_error` with a generic
    /// message and logs the details, so the error must not carry secrets either.
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome>;
}
