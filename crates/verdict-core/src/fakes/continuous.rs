//! The in-memory [`ScheduleStore`], [`WebhookStore`] and [`DeliveryOutbox`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::InMemoryStore;
use crate::domain::{
    AttemptRecord, ClaimedDelivery, Delivery, DeliveryCursor, DeliveryPage, DeliveryState, LeaseOwner, PageLimit,
    PendingAuditEvent, ProviderConnectionId, Schedule, SecretCiphertext, TenantId, Webhook, WebhookEvent,
    WebhookEventId, WebhookId, WorkspaceId, to_micros,
};
use crate::ports::{DeliveryOutbox, ScheduleStore, StoreError, WebhookStore};

/// A schedule and the claim a scheduler holds on it.
#[derive(Debug, Clone)]
pub(super) struct ScheduleRow {
    schedule: Schedule,
    claim: Option<(LeaseOwner, DateTime<Utc>)>,
}

impl ScheduleRow {
    /// The schedule, as stored.
    pub(super) fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

/// A delivery, its body and the dispatcher that holds it.
#[derive(Debug, Clone)]
pub(super) struct DeliveryRow {
    delivery: Delivery,
    workspace: WorkspaceId,
    payload: String,
    owner: Option<LeaseOwner>,
}

impl DeliveryRow {
    pub(super) fn new(webhook: WebhookId, event: &WebhookEvent) -> Self {
        let at = to_micros(event.occurred_at);
        Self {
            delivery: Delivery {
                webhook_id: webhook,
                event_id: event.id,
                event_type: event.event_type,
                run_id: event.run_id,
                attempts: 0,
                state: DeliveryState::Pending,
                next_attempt_at: Some(at),
                last_status_code: None,
                last_error: None,
                created_at: at,
                last_attempt_at: None,
            },
            workspace: event.workspace_id,
            payload: event.payload.clone(),
            owner: None,
        }
    }
}

fn unexpected(message: &'static str) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(message))
}

#[async_trait]
impl ScheduleStore for InMemoryStore {
    async fn set(&self, mut schedule: Schedule, event: PendingAuditEvent) -> Result<Schedule, StoreError> {
        let mut state = self.lock();
        // The foreign key to the connection, in its workspace and tenant.
        let owned = state
            .connections
            .get(&schedule.provider_connection_id)
            .is_some_and(|c| c.workspace_id == schedule.workspace_id && c.tenant_id == schedule.tenant_id);
        if !owned {
            return Err(unexpected("a schedule must belong to an existing connection of its tenant"));
        }
        schedule.next_run_at = to_micros(schedule.next_run_at);
        schedule.updated_at = to_micros(schedule.updated_at);
        schedule.created_at = state
            .schedules
            .get(&schedule.provider_connection_id)
            .map_or(to_micros(schedule.created_at), |row| row.schedule.created_at);
        state
            .schedules
            .insert(schedule.provider_connection_id, ScheduleRow { schedule: schedule.clone(), claim: None });
        state.append(event);
        Ok(schedule)
    }

    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        connection: ProviderConnectionId,
    ) -> Result<Option<Schedule>, StoreError> {
        let state = self.lock();
        Ok(state
            .schedules
            .get(&connection)
            .filter(|row| row.schedule.workspace_id == workspace && row.schedule.tenant_id == tenant)
            .map(|row| row.schedule.clone()))
    }

    async fn remove(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        connection: ProviderConnectionId,
        event: PendingAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let found = state
            .schedules
            .get(&connection)
            .is_some_and(|row| row.schedule.workspace_id == workspace && row.schedule.tenant_id == tenant);
        if found {
            state.schedules.remove(&connection);
            state.append(event);
        }
        Ok(found)
    }

    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Schedule>, StoreError> {
        let mut state = self.lock();
        let mut due: Vec<&mut ScheduleRow> = state
            .schedules
            .values_mut()
            .filter(|row| row.schedule.next_run_at <= now && row.claim.as_ref().is_none_or(|(_, until)| *until <= now))
            .collect();
        due.sort_by_key(|row| (row.schedule.next_run_at, row.schedule.provider_connection_id));
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|row| {
                row.claim = Some((owner.clone(), to_micros(claim_until)));
                row.schedule.clone()
            })
            .collect())
    }

    async fn rearm(
        &self,
        connection: ProviderConnectionId,
        owner: &LeaseOwner,
        next_run_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(row) = state.schedules.get_mut(&connection) else { return Ok(false) };
        if row.claim.as_ref().is_none_or(|(holder, _)| holder != owner) {
            return Ok(false);
        }
        row.schedule.next_run_at = to_micros(next_run_at);
        row.claim = None;
        Ok(true)
    }
}

#[async_trait]
impl WebhookStore for InMemoryStore {
    async fn create(&self, webhook: Webhook, event: PendingAuditEvent) -> Result<Webhook, StoreError> {
        let mut state = self.lock();
        state.webhooks.insert(webhook.id, webhook.clone());
        state.append(event);
        Ok(webhook)
    }

    async fn get(&self, workspace: WorkspaceId, id: WebhookId) -> Result<Option<Webhook>, StoreError> {
        Ok(self.lock().webhooks.get(&id).filter(|w| w.workspace_id == workspace).cloned())
    }

    async fn list(&self, workspace: WorkspaceId) -> Result<Vec<Webhook>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<Webhook> = state.webhooks.values().filter(|w| w.workspace_id == workspace).cloned().collect();
        rows.sort_by_key(|w| (w.created_at, w.id));
        Ok(rows)
    }

    async fn delete(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
        event: PendingAuditEvent,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state.webhooks.get(&id).is_none_or(|w| w.workspace_id != workspace) {
            return Ok(false);
        }
        state.webhooks.remove(&id);
        state.deliveries.retain(|(webhook, _), _| *webhook != id);
        state.append(event);
        Ok(true)
    }

    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        id: WebhookId,
        ciphertext: SecretCiphertext,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<Option<Webhook>, StoreError> {
        let mut state = self.lock();
        let Some(webhook) = state.webhooks.get_mut(&id).filter(|w| w.workspace_id == workspace) else {
            return Ok(None);
        };
        let at = to_micros(at);
        webhook.secret_ciphertext = ciphertext;
        webhook.secret_rotated_at = at;
        webhook.updated_at = at;
        let row = webhook.clone();
        state.append(event);
        Ok(Some(row))
    }
}

#[async_trait]
impl DeliveryOutbox for InMemoryStore {
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        claim_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let mut state = self.lock();
        let mut due: Vec<(DateTime<Utc>, WebhookEventId, WebhookId)> = state
            .deliveries
            .values()
            .filter(|row| row.delivery.state == DeliveryState::Pending)
            .filter_map(|row| row.delivery.next_attempt_at.map(|at| (at, row)))
            .filter(|(at, _)| *at <= now)
            .map(|(at, row)| (at, row.delivery.event_id, row.delivery.webhook_id))
            .collect();
        due.sort();
        let mut claimed = Vec::new();
        for (_, event, webhook) in due.into_iter().take(limit as usize) {
            let Some(subscription) = state.webhooks.get(&webhook).cloned() else { continue };
            let Some(row) = state.deliveries.get_mut(&(webhook, event)) else { continue };
            row.delivery.attempts += 1;
            row.delivery.next_attempt_at = Some(to_micros(claim_until));
            row.owner = Some(owner.clone());
            debug_assert_eq!(row.workspace, subscription.workspace_id);
            claimed.push(ClaimedDelivery {
                delivery: row.delivery.clone(),
                url: subscription.url,
                secret_ciphertext: subscription.secret_ciphertext,
                payload: row.payload.clone(),
            });
        }
        Ok(claimed)
    }

    async fn record_attempt(
        &self,
        webhook: WebhookId,
        event: WebhookEventId,
        owner: &LeaseOwner,
        attempt: u32,
        record: AttemptRecord,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(row) = state.deliveries.get_mut(&(webhook, event)) else { return Ok(false) };
        let held = row.delivery.state == DeliveryState::Pending
            && row.owner.as_ref() == Some(owner)
            && row.delivery.attempts == attempt;
        if !held {
            return Ok(false);
        }
        row.delivery.state = record.state();
        row.delivery.next_attempt_at = record.next_attempt_at();
        row.delivery.last_status_code = record.status_code();
        row.delivery.last_error = record.error_class();
        row.delivery.last_attempt_at = Some(record.at());
        row.owner = None;
        Ok(true)
    }

    async fn list(
        &self,
        webhook: WebhookId,
        after: Option<DeliveryCursor>,
        limit: PageLimit,
    ) -> Result<DeliveryPage, StoreError> {
        let state = self.lock();
        let mut rows: Vec<Delivery> = state
            .deliveries
            .values()
            .filter(|row| row.delivery.webhook_id == webhook)
            .filter(|row| after.is_none_or(|cursor| row.delivery.event_id < cursor.0))
            .map(|row| row.delivery.clone())
            .collect();
        rows.sort_by_key(|d| std::cmp::Reverse(d.event_id));
        rows.truncate(limit.get() as usize + 1);
        Ok(DeliveryPage::from_overfetched(rows, limit))
    }

    async fn pending_count(&self) -> Result<u64, StoreError> {
        let state = self.lock();
        Ok(state.deliveries.values().filter(|row| row.delivery.state == DeliveryState::Pending).count() as u64)
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let state = self.lock();
        Ok(state
            .deliveries
            .values()
            .filter(|row| row.delivery.state == DeliveryState::Pending)
            .filter_map(|row| row.delivery.next_attempt_at)
            .min())
    }
}
