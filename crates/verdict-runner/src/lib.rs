//! Verdict's check runner (docs/contract.md#leases-and-attempts, docs/contract.md#provider-flow): the worker pool that drives core's run lifecycle,
//! the flow engine that runs checks concurrently under timeouts, the Entra/Graph client, and the
//! implementation of core's `provider.connection.check` flow. Depends on `verdict-core` only.
//!
//! Wiring, as `verdict serve` does it:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use verdict_core::services::Ports;
//! # async fn serve(mut ports: Ports) -> anyhow::Result<()> {
//! use verdict_runner::{EntraClient, EntraConfig, FlowEngine, LocalWake, WorkerConfig, WorkerPool, builtin_registry};
//!
//! let wake = Arc::new(LocalWake::new());
//! ports.notifier = wake.clone(); // a start wakes a worker at once
//! let entra = Arc::new(EntraClient::new(EntraConfig::default())?);
//! // Every provider call ends by its check's deadline: the check timeout is the only limit.
//! let engine = FlowEngine::new(builtin_registry(entra), verdict_runner::DEFAULT_CHECK_TIMEOUT);
//! let pool = WorkerPool::start(ports, Arc::new(engine), wake, WorkerConfig::default());
//! // … on SIGTERM:
//! pool.shutdown().await;
//! # Ok(()) }
//! ```

pub mod checks;
pub mod engine;
pub mod entra;
#[cfg(feature = "fake-provider")]
pub mod fake;
pub mod worker;

pub use checks::builtin_registry;
pub use engine::{
    Check, CheckContext, CheckOutcome, DEFAULT_CHECK_TIMEOUT, Dependency, FlowEngine, FlowRegistry, Gate, RegistryError,
};
pub use entra::{EntraClient, EntraConfig};
pub use worker::{LocalWake, PollOnly, WakeSource, Worker, WorkerConfig, WorkerPool, stop_channel};

/// An error with its sources on one line, for the log.
pub(crate) struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}
