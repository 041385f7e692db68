//! What a check sees: the run, its provider connection and secret, and the artifacts its
//! finished dependencies produced (e.g. the access token).

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use verdict_core::domain::{CheckKey, ClientSecret, ProviderConnection, RunId, RunIdentity};

/// A value a check hands to the checks that depend on it.
pub type Artifact = Arc<dyn Any + Send + Sync>;

/// The run a flow executes for.
#[derive(Debug, Clone)]
pub struct RunInput {
    /// The run id.
    pub run_id: RunId,
    /// What the run verifies.
    pub identity: RunIdentity,
    /// The provider connection, for flows that need one.
    pub connection: Option<ProviderConnection>,
    /// Its decrypted client secret (redacted `Debug`).
    pub secret: Option<ClientSecret>,
}

/// The context one check runs in.
#[derive(Clone)]
pub struct CheckContext {
    input: Arc<RunInput>,
    artifacts: Arc<BTreeMap<CheckKey, Artifact>>,
}

impl CheckContext {
    /// A context with the artifacts of the checks that finished so far.
    #[must_use]
    pub fn new(input: Arc<RunInput>, artifacts: BTreeMap<CheckKey, Artifact>) -> Self {
        Self { input, artifacts: Arc::new(artifacts) }
    }

    /// The run.
    #[must_use]
    pub fn input(&self) -> &RunInput {
        &self.input
    }

    /// The provider connection, if the flow has one.
    #[must_use]
    pub fn connection(&self) -> Option<&ProviderConnection> {
        self.input.connection.as_ref()
    }

    /// The decrypted client secret, if the flow has one.
    #[must_use]
    pub fn secret(&self) -> Option<&ClientSecret> {
        self.input.secret.as_ref()
    }

    /// The artifact a finished check produced, if it produced one of type `T`.
    #[must_use]
    pub fn artifact<T: Any + Send + Sync>(&self, key: &CheckKey) -> Option<Arc<T>> {
        self.artifacts.get(key).and_then(|a| Arc::clone(a).downcast::<T>().ok())
    }
}

impl fmt::Debug for CheckContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckContext")
            .field("run_id", &self.input.run_id)
            .field("artifacts", &self.artifacts.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
