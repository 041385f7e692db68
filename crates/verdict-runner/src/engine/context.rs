//! What a check sees: the run, its provider connection and secret, the artifacts its finished
//! dependencies produced (e.g. the access token), its deadline, and values shared by all checks
//! of the run (e.g. a Graph read several checks need, made once).

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
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

/// Values every check of one run shares, one per type, created on first use.
#[derive(Default)]
pub(crate) struct RunShared(Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>);

impl RunShared {
    fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut values = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let value = values.entry(TypeId::of::<T>()).or_insert_with(|| Arc::new(T::default()));
        // The entry of `T`'s type id always holds a `T`.
        Arc::clone(value).downcast::<T>().unwrap_or_else(|_| Arc::new(T::default()))
    }
}

/// The context one check runs in.
#[derive(Clone)]
pub struct CheckContext {
    input: Arc<RunInput>,
    artifacts: Arc<BTreeMap<CheckKey, Artifact>>,
    shared: Arc<RunShared>,
    deadline: Instant,
    timeout: Duration,
}

impl CheckContext {
    /// A context with the artifacts of the checks that finished so far, for a check that
    /// started now and may run for `timeout`.
    #[must_use]
    pub(crate) fn new(
        input: Arc<RunInput>,
        artifacts: BTreeMap<CheckKey, Artifact>,
        shared: Arc<RunShared>,
        timeout: Duration,
    ) -> Self {
        Self { input, artifacts: Arc::new(artifacts), shared, deadline: Instant::now() + timeout, timeout }
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

    /// When the engine stops this check (`VERDICT_CHECK_TIMEOUT_MS` after it started).
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// When the check's provider calls should give up: a twentieth of the timeout (at most half
    /// a second) before [`Self::deadline`], so a slow provider is reported with what the call
    /// knew — "timed out", the endpoint's status so far — rather than as a bare runner timeout.
    #[must_use]
    pub fn call_deadline(&self) -> Instant {
        let slack = (self.timeout / 20).min(Duration::from_millis(500));
        self.deadline - slack
    }

    /// The run's shared value of type `T` (created with `T::default()` by the first check that
    /// asks), e.g. a cell holding a provider read several checks use.
    #[must_use]
    pub fn run_shared<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        self.shared.get()
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
