//! In-memory implementations of every storage port, keeping the same invariants as a database:
//! one active run per identity under any concurrency, one acknowledgement per (run, check),
//! gap-free audit `seq` with a valid hash chain and a chain head moved by every append, one
//! delivery per (subscription, event) fanned out with its completion. One mutex makes every call
//! a transaction. They pass the same conformance suite as the real adapters.

mod continuous;
mod fleet;
mod others;
mod runs;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::domain::{
    Acknowledgement, AuditEvent, ChainHeadRecord, PendingAuditEvent, ProviderConnection, ProviderConnectionId, Run,
    RunId, WebhookEvent, WebhookEventId, WebhookId, WorkspaceId,
};

#[derive(Debug, Default)]
struct State {
    runs: BTreeMap<RunId, Run>,
    acknowledgements: Vec<Acknowledgement>,
    connections: BTreeMap<ProviderConnectionId, ProviderConnection>,
    audit: BTreeMap<WorkspaceId, Vec<AuditEvent>>,
    heads: BTreeMap<WorkspaceId, ChainHeadRecord>,
    schedules: BTreeMap<ProviderConnectionId, continuous::ScheduleRow>,
    webhooks: BTreeMap<WebhookId, crate::domain::Webhook>,
    deliveries: BTreeMap<(WebhookId, WebhookEventId), continuous::DeliveryRow>,
    /// What each completion stored beside the run for the fleet status: the change since the
    /// previous report and the credential expiry the report found.
    completions: BTreeMap<RunId, (crate::domain::ChangeState, Option<chrono::DateTime<chrono::Utc>>)>,
}

impl State {
    fn append(&mut self, event: PendingAuditEvent) {
        let workspace = event.workspace_id;
        let sealed = self.heads.get(&workspace).cloned().unwrap_or_else(ChainHeadRecord::empty).seal_one(event);
        self.heads.insert(workspace, ChainHeadRecord::of(&sealed));
        self.audit.entry(workspace).or_default().push(sealed);
    }

    /// Fans completion events out to the matching subscriptions, as the stores do in the
    /// completion's transaction.
    fn enqueue(&mut self, events: Vec<WebhookEvent>) {
        for event in events {
            let targets: Vec<WebhookId> = self
                .webhooks
                .values()
                .filter(|w| w.workspace_id == event.workspace_id && w.events.contains(event.event_type))
                .map(|w| w.id)
                .collect();
            for webhook in targets {
                self.deliveries.insert((webhook, event.id), continuous::DeliveryRow::new(webhook, &event));
            }
        }
    }
}

/// Every storage port in memory. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct InMemoryStore {
    state: Arc<Mutex<State>>,
}

impl InMemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every mutation
        // is applied after all checks, so the data is still consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Deletes the newest `count` events of a workspace as an attacker with write access to the
    /// database would (the chain head stays), for tests of tamper detection.
    pub fn tamper_delete_newest_events(&self, workspace: WorkspaceId, count: usize) {
        let mut state = self.lock();
        if let Some(chain) = state.audit.get_mut(&workspace) {
            chain.truncate(chain.len().saturating_sub(count));
        }
    }
}
