//! Setting, reading and removing a provider connection's schedule (docs/contract.md#continuous-verification). Changing a
//! schedule needs `verification.start` — it starts verifications, later — and writes
//! `schedule.set` or `schedule.removed` in the same transaction.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::Ports;
use crate::domain::{
    Actor, AuditAction, Capability, FlowId, PendingAuditEvent, Principal, ProviderConnection, ProviderConnectionId,
    Schedule, ScheduleInterval, Subject, SubjectType, TenantId, UserId, WorkspaceId, format_timestamp, to_micros,
};
use crate::flows::PROVIDER_CONNECTION_CHECK;
use crate::ports::StoreError;
use crate::rules::{AccessDenied, authorize};

/// Why a schedule operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// The connection (or its schedule) is missing, or not visible to the caller.
    #[error("not found")]
    NotFound,
    /// Member without `verification.start`.
    #[error("forbidden")]
    Forbidden,
    /// The connection is disabled: a schedule would only write blocked runs.
    #[error("the provider connection is disabled")]
    Disabled,
    /// `first_run_at` is more than one interval ahead.
    #[error("first_run_at must be at most one interval from now")]
    FirstRunTooLate,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessDenied> for ScheduleError {
    fn from(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotFound => Self::NotFound,
            AccessDenied::Forbidden => Self::Forbidden,
        }
    }
}

/// A schedule as the caller asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetSchedule {
    /// How often.
    pub interval: ScheduleInterval,
    /// The first run; `None` means one interval from now. At most one interval ahead; a time in
    /// the past means "as soon as possible".
    pub first_run_at: Option<DateTime<Utc>>,
}

/// Proof that the caller may change this existing connection's schedule. Made only by
/// [`ScheduleService::authorize_change`].
#[derive(Debug, Clone)]
pub struct SchedulePermit {
    connection: ProviderConnection,
    user: UserId,
}

/// Schedules of provider connections, as the API manages them.
#[derive(Debug, Clone)]
pub struct ScheduleService {
    ports: Ports,
}

impl ScheduleService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    async fn connection(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<ProviderConnection, ScheduleError> {
        authorize(principal, workspace, Some(tenant), None)?;
        self.ports.connections.get(workspace, tenant, id).await?.ok_or(ScheduleError::NotFound)
    }

    /// Decides whether `principal` may change the connection's schedule: a missing connection is
    /// "not found" before a missing capability is "forbidden", exactly as for a foreign one.
    ///
    /// # Errors
    /// [`ScheduleError::NotFound`] or [`ScheduleError::Forbidden`].
    pub async fn authorize_change(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<SchedulePermit, ScheduleError> {
        let connection = self.connection(principal, workspace, tenant, id).await?;
        authorize(principal, workspace, Some(tenant), Some(Capability::VerificationStart))?;
        Ok(SchedulePermit { connection, user: principal.user_id.clone() })
    }

    /// Sets (or replaces) the connection's schedule.
    ///
    /// # Errors
    /// [`ScheduleError::Disabled`], [`ScheduleError::FirstRunTooLate`], or a storage failure.
    #[tracing::instrument(skip_all, fields(connection_id = %permit.connection.id))]
    pub async fn set(&self, permit: SchedulePermit, request: SetSchedule) -> Result<Schedule, ScheduleError> {
        let connection = permit.connection;
        if connection.disabled_at.is_some() {
            return Err(ScheduleError::Disabled);
        }
        let now = self.ports.clock.now();
        let latest_first = now + request.interval.duration();
        let next_run_at = to_micros(request.first_run_at.unwrap_or(latest_first));
        if next_run_at > latest_first {
            return Err(ScheduleError::FirstRunTooLate);
        }
        let flow = FlowId::parse(PROVIDER_CONNECTION_CHECK).map_err(StoreError::from)?;
        let schedule = Schedule {
            provider_connection_id: connection.id,
            workspace_id: connection.workspace_id,
            tenant_id: connection.tenant_id,
            flow,
            interval: request.interval,
            next_run_at,
            created_at: now,
            updated_at: now,
        };
        let mut metadata = Map::new();
        metadata.insert("interval".into(), Value::String(schedule.interval.as_str().to_owned()));
        metadata.insert("next_run_at".into(), Value::String(format_timestamp(next_run_at)));
        metadata.insert("flow".into(), json!(schedule.flow));
        let event = schedule_event(&connection, permit.user, AuditAction::ScheduleSet, now, metadata);
        Ok(self.ports.schedules.set(schedule, event).await?)
    }

    /// The connection's schedule.
    ///
    /// # Errors
    /// [`ScheduleError::NotFound`] when the connection or its schedule is missing or not visible.
    pub async fn get(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<Schedule, ScheduleError> {
        authorize(principal, workspace, Some(tenant), None)?;
        self.ports.schedules.get(workspace, tenant, id).await?.ok_or(ScheduleError::NotFound)
    }

    /// Removes the connection's schedule.
    ///
    /// # Errors
    /// [`ScheduleError::NotFound`] when it has none.
    #[tracing::instrument(skip_all, fields(connection_id = %permit.connection.id))]
    pub async fn remove(&self, permit: SchedulePermit) -> Result<(), ScheduleError> {
        let connection = permit.connection;
        let now = self.ports.clock.now();
        let event = schedule_event(&connection, permit.user, AuditAction::ScheduleRemoved, now, Map::new());
        let removed =
            self.ports.schedules.remove(connection.workspace_id, connection.tenant_id, connection.id, event).await?;
        if removed { Ok(()) } else { Err(ScheduleError::NotFound) }
    }
}

fn schedule_event(
    connection: &ProviderConnection,
    user: UserId,
    action: AuditAction,
    at: DateTime<Utc>,
    mut metadata: Map<String, Value>,
) -> PendingAuditEvent {
    metadata.insert("provider_connection_id".into(), Value::String(connection.id.to_string()));
    PendingAuditEvent::new(
        at,
        connection.workspace_id,
        Some(connection.tenant_id),
        Actor::User(user),
        action,
        Subject { kind: SubjectType::Schedule, id: connection.id.to_string() },
        metadata,
    )
}
