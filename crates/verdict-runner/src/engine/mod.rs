//! The flow engine: the [`Check`] trait, the registry that maps each flow of core's catalog to
//! its implementations, and the executor that runs a claimed run's checks concurrently where
//! they are independent, each under a timeout and isolated from the others' panics.

mod context;
mod execute;
mod outcome;
mod registry;

use async_trait::async_trait;
use verdict_core::domain::CheckKey;
pub use verdict_core::flows::Gate;

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

    /// The checks that must finish before this one starts, each with what it must have found;
    /// when one did not, this check is skipped with `ext.provider_connection.prerequisite_failed`.
    fn waits_for(&self) -> &[Dependency];

    /// Runs the check.
    ///
    /// # Errors
    /// Any unexpected failure. The engine records it as `fail`/`unknown_error` with a generic
    /// message and logs the details, so the error must not carry secrets either.
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome>;
}

/// A check another one waits for, and what it must have found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The check waited for.
    pub key: CheckKey,
    /// What it must have found for the waiting check to run.
    pub gate: Gate,
}

impl Dependency {
    /// A dependency that must pass.
    #[must_use]
    pub fn passed(key: CheckKey) -> Self {
        Self { key, gate: Gate::Passed }
    }

    /// Whether a dependency that finished with `status` lets the waiting check run.
    #[must_use]
    pub fn admits(&self, status: verdict_core::domain::CheckStatus) -> bool {
        use verdict_core::domain::CheckStatus;
        match self.gate {
            Gate::Passed => status == CheckStatus::Pass,
            Gate::NotFailed => status != CheckStatus::Fail,
            Gate::Finished => true,
        }
    }
}
