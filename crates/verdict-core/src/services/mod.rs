//! Services own the business sequences: authorize, validate, call the ports in the right order.
//! Handlers and workers call services; they never sequence ports themselves.
//!
//! Authorization comes first (docs/contract.md, "Authorization"): a write is two calls, an
//! `authorize_*` that decides 404/403 from the cheapest look-up and returns a permit, and the
//! action that takes the permit. Only this module can make a permit, so an action cannot run
//! unauthorized, and the HTTP adapter parses a request body only after the permit exists.

mod acknowledgements;
mod audit;
mod connections;
mod dispatcher;
pub(crate) mod events;
mod fleet;
mod runner;
mod scheduler;
mod schedules;
mod verifications;
mod webhooks;

use std::sync::Arc;

pub use acknowledgements::*;
pub use audit::*;
pub use connections::*;
pub use dispatcher::*;
pub use fleet::*;
pub use runner::*;
pub use scheduler::*;
pub use schedules::*;
pub use verifications::*;
pub use webhooks::*;

use crate::domain::OutboundPolicy;
use crate::flows::FlowCatalog;
use crate::ports::{
    AcknowledgementStore, AuditLog, Clock, ContinuousObserver, DeliveryNotifier, DeliveryOutbox, FleetStatusStore,
    NoDeliveryNotifier, NoObserver, ProviderConnectionStore, QueueNotifier, RunQueue, RunStore, ScheduleStore,
    SecretCipher, SystemClock, WebhookStore,
};

/// Everything the services need from the outside world.
#[derive(Clone)]
pub struct Ports {
    /// Runs, as the API reads and starts them.
    pub runs: Arc<dyn RunStore>,
    /// The run queue, as workers drive it.
    pub queue: Arc<dyn RunQueue>,
    /// Acknowledgements.
    pub acknowledgements: Arc<dyn AcknowledgementStore>,
    /// Provider connections.
    pub connections: Arc<dyn ProviderConnectionStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Schedules of provider connections.
    pub schedules: Arc<dyn ScheduleStore>,
    /// Webhook subscriptions.
    pub webhooks: Arc<dyn WebhookStore>,
    /// The webhook delivery outbox.
    pub outbox: Arc<dyn DeliveryOutbox>,
    /// The fleet status.
    pub fleet: Arc<dyn FleetStatusStore>,
    /// Secret encryption.
    pub cipher: Arc<dyn SecretCipher>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Known flows.
    pub flows: Arc<FlowCatalog>,
    /// Wakes workers when a run is queued.
    pub notifier: Arc<dyn QueueNotifier>,
    /// Wakes this process's dispatcher when a completion enqueued webhook events.
    pub delivery_notifier: Arc<dyn DeliveryNotifier>,
    /// What the scheduler and the dispatcher report (metrics).
    pub observer: Arc<dyn ContinuousObserver>,
    /// What webhook URLs may point to.
    pub outbound: OutboundPolicy,
}

/// A store implementing every storage port (the SQLite and PostgreSQL adapters, the in-memory
/// fakes).
pub trait Store:
    RunStore
    + RunQueue
    + AcknowledgementStore
    + ProviderConnectionStore
    + AuditLog
    + ScheduleStore
    + WebhookStore
    + DeliveryOutbox
    + FleetStatusStore
    + Clone
    + 'static
{
}

impl<S> Store for S where
    S: RunStore
        + RunQueue
        + AcknowledgementStore
        + ProviderConnectionStore
        + AuditLog
        + ScheduleStore
        + WebhookStore
        + DeliveryOutbox
        + FleetStatusStore
        + Clone
        + 'static
{
}

impl Ports {
    /// The ports on one store: the one way every process, test and benchmark assembles them.
    /// The clock is the system clock ([`Ports::with_clock`] changes it); nobody is told of
    /// enqueued deliveries and nothing is observed until the `with_*` methods say otherwise;
    /// webhook URLs must be public `https://` URLs unless [`Ports::with_outbound`] relaxes it.
    #[must_use]
    pub fn over<S: Store>(
        store: &S,
        cipher: Arc<dyn SecretCipher>,
        flows: Arc<FlowCatalog>,
        notifier: Arc<dyn QueueNotifier>,
    ) -> Self {
        Self {
            runs: Arc::new(store.clone()),
            queue: Arc::new(store.clone()),
            acknowledgements: Arc::new(store.clone()),
            connections: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            schedules: Arc::new(store.clone()),
            webhooks: Arc::new(store.clone()),
            outbox: Arc::new(store.clone()),
            fleet: Arc::new(store.clone()),
            cipher,
            clock: Arc::new(SystemClock),
            flows,
            notifier,
            delivery_notifier: Arc::new(NoDeliveryNotifier),
            observer: Arc::new(NoObserver),
            outbound: OutboundPolicy::default(),
        }
    }

    /// The same ports with another clock (tests move time by hand).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same ports with another notifier.
    #[must_use]
    pub fn with_notifier(mut self, notifier: Arc<dyn QueueNotifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// The same ports with a dispatcher to wake after completions.
    #[must_use]
    pub fn with_delivery_notifier(mut self, notifier: Arc<dyn DeliveryNotifier>) -> Self {
        self.delivery_notifier = notifier;
        self
    }

    /// The same ports reporting to `observer`.
    #[must_use]
    pub fn with_observer(mut self, observer: Arc<dyn ContinuousObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The same ports with another outbound policy.
    #[must_use]
    pub fn with_outbound(mut self, outbound: OutboundPolicy) -> Self {
        self.outbound = outbound;
        self
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").field("outbound", &self.outbound).finish_non_exhaustive()
    }
}
