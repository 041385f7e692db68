//! Starting verifications and reading runs, reports and what changed — reads use stored data
//! only: no outbound call, no job, no recomputation of checks.

use chrono::{DateTime, Utc};

use super::{Failure, Ports, events};
use crate::domain::{
    Acknowledgement, Capability, Completion, FlowId, NewRun, PageLimit, Principal, ProviderConnectionId, Report, Run,
    RunCursor, RunId, RunIdentity, RunListQuery, RunPage, RunStatus, TenantId, WorkspaceId,
};
use crate::ports::StartOutcome;
use crate::rules::{
    AccessDenied, ReportChange, authorize, blocked_stub_report, compare_reports, failure_summary, summary_counts,
};

/// A request to verify a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartVerification {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The flow.
    pub flow: FlowId,
    /// The provider connection, if any.
    pub provider_connection_id: Option<ProviderConnectionId>,
}

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
    Failure(#[from] Failure),
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
    Failure(#[from] Failure),
}

impl From<AccessDenied> for ReadRunError {
    fn from(_: AccessDenied) -> Self {
        // Viewing needs no capability, so every denial is a not-found.
        Self::NotFound
    }
}

impl From<crate::ports::StoreError> for ReadRunError {
    fn from(e: crate::ports::StoreError) -> Self {
        Self::Failure(e.into())
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

    /// Starts a verification, idempotently: an active run of the same identity is returned
    /// instead of a new one. When the flow's prerequisites are missing (no provider connection,
    /// or it is disabled or has no secret) the run is completed at once as `blocked` with the
    /// stub report (SPEC §5.3).
    ///
    /// # Errors
    /// See [`StartVerificationError`].
    #[tracing::instrument(skip_all, fields(workspace_id = %request.workspace_id, tenant_id = %request.tenant_id, flow = %request.flow))]
    pub async fn start(
        &self,
        principal: &Principal,
        request: StartVerification,
    ) -> Result<StartOutcome, StartVerificationError> {
        authorize(principal, request.workspace_id, Some(request.tenant_id), Some(Capability::VerificationStart))
            .map_err(|denied| match denied {
                AccessDenied::NotFound => StartVerificationError::NotFound,
                AccessDenied::Forbidden => StartVerificationError::Forbidden,
            })?;
        let flow = self.ports.flows.get(&request.flow).ok_or(StartVerificationError::UnknownFlow)?;
        let now = self.ports.clock.now();
        let identity = RunIdentity {
            flow: request.flow,
            workspace_id: request.workspace_id,
            tenant_id: request.tenant_id,
            provider_connection_id: request.provider_connection_id,
        };
        let new_run = NewRun {
            id: RunId::generate(),
            identity,
            initiator_user_id: Some(principal.user_id.clone()),
            created_at: now,
        };
        if flow.requires_provider_connection
            && let Some(why) = self.missing_prerequisite(&new_run.identity).await?
        {
            return self.start_blocked(new_run, why, now).await;
        }
        let started = events::run_started(&new_run, now);
        let outcome = self.ports.runs.start_or_deduplicate(new_run, started).await.map_err(Failure::from)?;
        if let StartOutcome::Created(run) = &outcome {
            self.ports.queue.run_queued(run.id);
        }
        Ok(outcome)
    }

    async fn missing_prerequisite(&self, identity: &RunIdentity) -> Result<Option<&'static str>, Failure> {
        let Some(id) = identity.provider_connection_id else {
            return Ok(Some("No provider connection was given for this verification."));
        };
        let connection = self.ports.connections.get(identity.workspace_id, identity.tenant_id, id).await?;
        Ok(match connection {
            None => Some("The provider connection does not exist in this tenant."),
            Some(c) if c.disabled_at.is_some() => Some("The provider connection is disabled."),
            Some(c) if c.client_secret_ciphertext.is_none() => Some("The provider connection has no client secret."),
            Some(_) => None,
        })
    }

    async fn start_blocked(
        &self,
        new_run: NewRun,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<StartOutcome, StartVerificationError> {
        let hash = new_run.identity_hash();
        // An active run of the identity (queued before the connection broke) is still the one
        // to watch: keep starts idempotent rather than piling up stubs beside it.
        if let Some(active) = self.ports.runs.latest_for_identity(&hash).await.map_err(Failure::from)?
            && active.status.is_active()
        {
            return Ok(StartOutcome::Deduplicated(active));
        }
        let cursor = RunCursor { created_at: new_run.created_at, id: new_run.id };
        let previous = self.ports.runs.previous_completed_report(&hash, cursor).await.map_err(Failure::from)?;
        let report =
            blocked_stub_report(new_run.id, &new_run.identity, None, why, now, previous.map(|r| r.report_id()))
                .map_err(|e| Failure::Unexpected(e.into()))?;
        let outcome = crate::domain::Outcome::Blocked;
        let completion = Completion {
            summary_counts: summary_counts(&report.summary().counts),
            failure_summary: failure_summary(report.checks()),
            outcome,
            completed_at: now,
            report,
        };
        let started = events::run_started(&new_run, now);
        let completed = events::new_run_completed(&new_run, &completion.report, outcome, now);
        let run =
            self.ports.runs.insert_completed(new_run, completion, started, completed).await.map_err(Failure::from)?;
        Ok(StartOutcome::Created(run))
    }

    /// A run the caller may see.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when missing or not visible.
    pub async fn run(&self, principal: &Principal, id: RunId) -> Result<Run, ReadRunError> {
        let run = self.ports.runs.get(id).await?.ok_or(ReadRunError::NotFound)?;
        authorize(principal, run.identity.workspace_id, Some(run.identity.tenant_id), None)?;
        Ok(run)
    }

    /// The run view: run, report, acknowledgements (with `expired` at read time) and the change
    /// since the previous report — from stored rows only.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when missing or not visible.
    #[tracing::instrument(skip_all, fields(run_id = %id))]
    pub async fn view(&self, principal: &Principal, id: RunId) -> Result<RunView, ReadRunError> {
        let run = self.run(principal, id).await?;
        let now = self.ports.clock.now();
        let acknowledgements = self
            .ports
            .acknowledgements
            .list_for_run(id)
            .await?
            .into_iter()
            .map(|a| AcknowledgementView { expired: a.is_expired(now), acknowledgement: a })
            .collect();
        let change = match &run.report {
            Some(report) => compare_reports(report, self.previous_of(report).await?.as_ref()),
            None => compare_reports_absent(),
        };
        Ok(RunView { run, acknowledgements, change })
    }

    async fn previous_of(&self, report: &Report) -> Result<Option<Report>, ReadRunError> {
        let Some(previous) = report.previous_report_id() else { return Ok(None) };
        Ok(self.ports.runs.get(previous).await?.and_then(|r| r.report))
    }

    /// The stored report, exactly.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`], or [`ReadRunError::ReportNotReady`] while queued.
    pub async fn report(&self, principal: &Principal, id: RunId) -> Result<Report, ReadRunError> {
        self.run(principal, id).await?.report.ok_or(ReadRunError::ReportNotReady)
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

    /// How many runs are in each (status, outcome), across workspaces: an operator metric, not
    /// tenant data, so it takes no principal.
    ///
    /// # Errors
    /// [`Failure`] on storage failure.
    pub async fn run_tally(&self) -> Result<Vec<crate::ports::RunTally>, Failure> {
        Ok(self.ports.runs.tally().await?)
    }

    /// The latest run of an identity, even if still active.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when there is none or it is not visible.
    pub async fn latest(&self, principal: &Principal, identity: &RunIdentity) -> Result<Run, ReadRunError> {
        authorize(principal, identity.workspace_id, Some(identity.tenant_id), None)?;
        self.ports.runs.latest_for_identity(&identity.hash()).await?.ok_or(ReadRunError::NotFound)
    }
}

fn compare_reports_absent() -> ReportChange {
    ReportChange { state: crate::rules::ChangeState::None, previous_report_id: None, checks: Vec::new() }
}
