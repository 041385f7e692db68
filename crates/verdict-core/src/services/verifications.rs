//! Starting verifications and reading runs, reports and what changed. Reads use stored data
//! only: no outbound call, no job, no recomputation of checks.

use chrono::{DateTime, Utc};

use super::{Ports, events};
use crate::domain::{
    Acknowledgement, Actor, Capability, Completion, Ending, FlowId, NewRun, PageLimit, Principal, ProviderConnectionId,
    Report, Run, RunCursor, RunId, RunIdentity, RunListQuery, RunPage, RunScope, RunStatus, TenantId, UserId,
    WorkspaceId,
};
use crate::ports::{BlockedReuse, BlockedStart, QueueDepth, RunInContext, StartOutcome, StoreError};
use crate::rules::{
    AccessDenied, ChangeState, ReportChange, authorize, blocked_stub_report, compare_reports, completion_events,
    missing_prerequisite,
};

/// Why a start was refused.
#[derive(Debug, thiserror::Error)]
pub enum StartVerificationError {
    /// Not a member, not entitled: indistinguishable from a missing tenant.
    #[error("not found")]
    NotFound,
    /// Member without `verification.start`.
    #[error("forbidden")]
    Forbidden,
    /// The flow is not known to this deployment.
    #[error("unknown flow")]
    UnknownFlow,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessDenied> for StartVerificationError {
    fn from(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotFound => Self::NotFound,
            AccessDenied::Forbidden => Self::Forbidden,
        }
    }
}

/// Why a run could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadRunError {
    /// Missing, or not visible to the caller: indistinguishable.
    #[error("not found")]
    NotFound,
    /// The run is queued: it has no report yet.
    #[error("the report is not ready")]
    ReportNotReady,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessDenied> for ReadRunError {
    fn from(_: AccessDenied) -> Self {
        // Viewing needs no capability, so every denial is a not-found.
        Self::NotFound
    }
}

/// Proof that a start in this tenant is allowed, and by whom. Made only by
/// [`VerificationService::authorize_start`] (or by core for system-started runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartPermit {
    workspace_id: WorkspaceId,
    tenant_id: TenantId,
    initiator: Option<UserId>,
}

impl StartPermit {
    /// A start by Verdict itself (the scheduler): no initiating user, so the run's events name
    /// the system actor `scheduler` and `initiator_user_id` stays null.
    pub(crate) fn system(workspace_id: WorkspaceId, tenant_id: TenantId) -> Self {
        Self { workspace_id, tenant_id, initiator: None }
    }
}

/// An acknowledgement as shown beside its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcknowledgementView {
    /// The stored row.
    pub acknowledgement: Acknowledgement,
    /// Whether its informational expiry has passed, computed at read time.
    pub expired: bool,
}

impl AcknowledgementView {
    /// The row with `expired` as of `now`.
    #[must_use]
    pub fn at(acknowledgement: Acknowledgement, now: DateTime<Utc>) -> Self {
        Self { expired: acknowledgement.is_expired(now), acknowledgement }
    }
}

/// A run with its report, acknowledgements and change since the previous report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    /// The run.
    pub run: Run,
    /// Its acknowledgements.
    pub acknowledgements: Vec<AcknowledgementView>,
    /// What changed since the previous report.
    pub change: ReportChange,
}

/// What an export of a report is built from (docs/contract.md, "Exports"): the run, its report,
/// the previous report it links, and the acknowledgements in force when read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportExport {
    /// The run; its `report` is moved to [`ReportExport::report`].
    pub run: Run,
    /// The run's report.
    pub report: Report,
    /// The report `report.previous_report_id` links, when it is still stored.
    pub previous: Option<Report>,
    /// The run's acknowledgements that have not expired: an expired one no longer suppresses.
    pub acknowledgements: Vec<Acknowledgement>,
}

/// Filters for listing runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRuns {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// Only this flow.
    pub flow: Option<FlowId>,
    /// Only this status.
    pub status: Option<RunStatus>,
    /// Only this connection.
    pub provider_connection_id: Option<ProviderConnectionId>,
    /// Page size.
    pub limit: PageLimit,
    /// Continue after.
    pub cursor: Option<RunCursor>,
}

/// Starting and reading verifications.
#[derive(Debug, Clone)]
pub struct VerificationService {
    ports: Ports,
}

impl VerificationService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Decides whether `principal` may start verifications in the tenant.
    ///
    /// # Errors
    /// [`StartVerificationError::NotFound`] or [`StartVerificationError::Forbidden`].
    pub fn authorize_start(
        &self,
        principal: &Principal,
        workspace_id: WorkspaceId,
        tenant_id: TenantId,
    ) -> Result<StartPermit, StartVerificationError> {
        authorize(principal, workspace_id, Some(tenant_id), Some(Capability::VerificationStart))?;
        Ok(StartPermit { workspace_id, tenant_id, initiator: Some(principal.user_id.clone()) })
    }

    /// Starts a verification, idempotently: an active run of the same identity is returned
    /// instead of a new one. When the flow's prerequisites are missing (no provider connection,
    /// or it is disabled or has no secret) the run is completed at once as `blocked` with the
    /// stub report — unless the identity's latest run is already that stub (docs/contract.md,
    /// "Idempotent starts").
    ///
    /// # Errors
    /// [`StartVerificationError::UnknownFlow`], or a storage failure.
    pub async fn start(
        &self,
        permit: StartPermit,
        flow: FlowId,
        provider_connection_id: Option<ProviderConnectionId>,
    ) -> Result<StartOutcome, StartVerificationError> {
        self.start_run(RunId::generate(), permit, flow, provider_connection_id).await
    }

    /// [`Self::start`] with the new run's id, so the one span of a start carries it with its
    /// scope: the stores' own spans of a start are at debug level.
    #[tracing::instrument(skip_all, fields(run_id = %id, workspace_id = %permit.workspace_id, tenant_id = %permit.tenant_id, flow = %flow))]
    async fn start_run(
        &self,
        id: RunId,
        permit: StartPermit,
        flow: FlowId,
        provider_connection_id: Option<ProviderConnectionId>,
    ) -> Result<StartOutcome, StartVerificationError> {
        let descriptor = self.ports.flows.get(&flow).ok_or(StartVerificationError::UnknownFlow)?;
        let now = self.ports.clock.now();
        let new_run = NewRun {
            id,
            identity: RunIdentity {
                flow,
                workspace_id: permit.workspace_id,
                tenant_id: permit.tenant_id,
                provider_connection_id,
            },
            initiator_user_id: permit.initiator,
            created_at: now,
        };
        if descriptor.requires_provider_connection {
            let connection = match provider_connection_id {
                Some(id) => self.ports.connections.get(permit.workspace_id, permit.tenant_id, id).await?,
                None => None,
            };
            if let Some(why) = missing_prerequisite(provider_connection_id, connection.as_ref()) {
                let reuse =
                    BlockedReuse { reason: why.to_owned(), connection_changed_at: connection.map(|c| c.updated_at) };
                return Ok(self.start_blocked(new_run, reuse, now).await?);
            }
        }
        let started = events::run_started(&new_run, now);
        let outcome = self.ports.runs.start_or_deduplicate(new_run, started).await?;
        if let StartOutcome::Created(run) = &outcome {
            self.ports.notifier.run_queued(run.id);
        }
        Ok(outcome)
    }

    async fn start_blocked(
        &self,
        new_run: NewRun,
        reuse: BlockedReuse,
        now: DateTime<Utc>,
    ) -> Result<StartOutcome, StoreError> {
        let hash = new_run.identity_hash();
        // Fast path for the usual repeat: the store decides again under its identity lock.
        let latest = match self.ports.runs.latest_for_identity(&hash).await? {
            Some(latest) if latest.status.is_active() || reuse.reuses(&latest) => {
                return Ok(StartOutcome::Deduplicated(latest));
            }
            latest => latest,
        };
        let cursor = RunCursor { created_at: new_run.created_at, id: new_run.id };
        let previous = match previous_report_of(latest, cursor) {
            Some(known) => known,
            None => self.ports.runs.previous_completed_report(&hash, cursor).await?,
        };
        let report = blocked_stub_report(
            new_run.id,
            &new_run.identity,
            None,
            &reuse.reason,
            now,
            previous.as_ref().map(Report::report_id),
        );
        let completion = Completion::new(report, Ending::Blocked, now, previous.as_ref());
        let started = events::run_started(&new_run, now);
        let completed = events::run_completed(&new_run.id, &new_run.identity, actor_of(&new_run), &completion, 0);
        let webhook_events = completion_events(new_run.id, &new_run.identity, &completion, previous.as_ref());
        let start = BlockedStart { run: new_run, completion, started, completed, events: webhook_events, reuse };
        let outcome = self.ports.runs.start_blocked(start).await?;
        if matches!(outcome, StartOutcome::Created(_)) {
            self.ports.delivery_notifier.deliveries_enqueued();
        }
        Ok(outcome)
    }

    /// A run the caller may see. Authorization reads only the run's scope first, so a foreign
    /// run and a missing one cost the same and answer the same.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when missing or not visible.
    pub async fn run(&self, principal: &Principal, id: RunId) -> Result<Run, ReadRunError> {
        let scope = self.ports.runs.scope(id).await?.ok_or(ReadRunError::NotFound)?;
        authorize(principal, scope.workspace_id, Some(scope.tenant_id), None)?;
        self.ports.runs.get(id).await?.ok_or(ReadRunError::NotFound)
    }

    /// The run view: run, report, acknowledgements (with `expired` at read time) and the change
    /// since the previous report — from stored rows only.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when missing or not visible.
    #[tracing::instrument(skip_all, fields(run_id = %id))]
    pub async fn view(&self, principal: &Principal, id: RunId) -> Result<RunView, ReadRunError> {
        let RunInContext { run, acknowledgements, previous } = self.in_context(principal, id).await?;
        let now = self.ports.clock.now();
        let acknowledgements = acknowledgements.into_iter().map(|a| AcknowledgementView::at(a, now)).collect();
        let change = match &run.report {
            Some(report) => compare_reports(report, previous.as_ref()),
            None => ReportChange { state: ChangeState::None, previous_report_id: None, checks: Vec::new() },
        };
        Ok(RunView { run, acknowledgements, change })
    }

    /// The run with its acknowledgements and previous report, if `principal` may see it: the
    /// store reads the scope first and nothing more for a run the caller may not see.
    async fn in_context(&self, principal: &Principal, id: RunId) -> Result<RunInContext, ReadRunError> {
        let visible = |scope: RunScope| authorize(principal, scope.workspace_id, Some(scope.tenant_id), None).is_ok();
        self.ports.runs.get_in_context(id, &visible).await?.ok_or(ReadRunError::NotFound)
    }

    /// The stored report, exactly.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`], or [`ReadRunError::ReportNotReady`] while queued.
    pub async fn report(&self, principal: &Principal, id: RunId) -> Result<Report, ReadRunError> {
        self.run(principal, id).await?.report.ok_or(ReadRunError::ReportNotReady)
    }

    /// The stored report with what its exports need besides it, from stored rows only.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`], or [`ReadRunError::ReportNotReady`] while queued.
    #[tracing::instrument(skip_all, fields(run_id = %id))]
    pub async fn export(&self, principal: &Principal, id: RunId) -> Result<ReportExport, ReadRunError> {
        let RunInContext { mut run, mut acknowledgements, previous } = self.in_context(principal, id).await?;
        let report = run.report.take().ok_or(ReadRunError::ReportNotReady)?;
        let now = self.ports.clock.now();
        acknowledgements.retain(|a| !a.is_expired(now));
        Ok(ReportExport { run, report, previous, acknowledgements })
    }

    /// Decides whether `principal` may see the tenant's runs, before a request's filters are
    /// even read.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when the tenant is not visible.
    pub fn authorize_view(
        &self,
        principal: &Principal,
        workspace_id: WorkspaceId,
        tenant_id: TenantId,
    ) -> Result<(), ReadRunError> {
        Ok(authorize(principal, workspace_id, Some(tenant_id), None)?)
    }

    /// A page of a tenant's runs, newest first.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when the tenant is not visible.
    pub async fn list(&self, principal: &Principal, request: ListRuns) -> Result<RunPage, ReadRunError> {
        authorize(principal, request.workspace_id, Some(request.tenant_id), None)?;
        Ok(self
            .ports
            .runs
            .list(RunListQuery {
                workspace_id: request.workspace_id,
                tenant_id: request.tenant_id,
                flow: request.flow,
                status: request.status,
                provider_connection_id: request.provider_connection_id,
                limit: request.limit,
                after: request.cursor,
            })
            .await?)
    }

    /// The view of the latest run of an identity, even if still active.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when there is none or it is not visible.
    pub async fn latest(&self, principal: &Principal, identity: &RunIdentity) -> Result<RunView, ReadRunError> {
        authorize(principal, identity.workspace_id, Some(identity.tenant_id), None)?;
        let run = self.ports.runs.latest_for_identity(&identity.hash()).await?.ok_or(ReadRunError::NotFound)?;
        // The view reads the run again, with its context, on one connection.
        self.view(principal, run.id).await
    }

    /// How many runs are queued and running: an operator metric, not tenant data, so it takes no
    /// principal.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    pub async fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        self.ports.runs.queue_depth().await
    }
}

/// Who a run's events name: its initiator, or Verdict itself for system-started runs.
pub(super) fn actor_of(run: &NewRun) -> Actor {
    run.initiator_user_id.clone().map_or_else(|| Actor::System("scheduler".to_owned()), Actor::User)
}

/// The previous report of a run created at `cursor`, when the newest run of its identity
/// (`latest`, read just before) already tells it: none when the identity has no run yet, and the
/// newest run's own report when that run is completed, has one and is older. Otherwise (a clock
/// behind another process's, a run without a report) `None`: only the store's
/// `previous_completed_report` can tell. Saves a blocked start that read the newest run a second
/// read (docs/benchmarks.md, "The writes").
fn previous_report_of(latest: Option<Run>, cursor: RunCursor) -> Option<Option<Report>> {
    let Some(latest) = latest else { return Some(None) };
    let older = (latest.created_at, latest.id) < (cursor.created_at, cursor.id);
    match latest.report {
        Some(report) if latest.status == RunStatus::Completed && older => Some(Some(report)),
        _ => None,
    }
}
