//! Acknowledging checks (docs/contract.md, "Acknowledgements"): only on a completed run, only a
//! failing or warning check, once per (run, check), immutable, audited without the reason text.

use chrono::{DateTime, Utc};

use super::{AcknowledgementView, Ports, ReadRunError, events};
use crate::domain::{
    AckReason, AcknowledgementId, Capability, CheckKey, CheckStatus, NewAcknowledgement, Principal, RunId, RunScope,
    UserId,
};
use crate::ports::{AckInsertError, StoreError};
use crate::rules::{AccessDenied, AckRejection, authorize, check_acknowledgeable};

/// A request to acknowledge one check of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledge {
    /// The `report_id` from the body, if given: must equal the permit's run.
    pub report_id: Option<RunId>,
    /// The check.
    pub check_key: CheckKey,
    /// Why.
    pub reason: AckReason,
    /// Informational expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why an acknowledgement was refused.
#[derive(Debug, thiserror::Error)]
pub enum AcknowledgeError {
    /// Missing or not visible.
    #[error("not found")]
    NotFound,
    /// Member without `verification.acknowledge`.
    #[error("forbidden")]
    Forbidden,
    /// The body's `report_id` is not the run in the path.
    #[error("report_id does not match the run")]
    ReportMismatch,
    /// The run is still queued or running.
    #[error("the run has not completed")]
    RunNotCompleted,
    /// The report has no such check.
    #[error("the report has no check with this key")]
    CheckNotFound,
    /// The check is neither failing nor warning.
    #[error("the check is {status:?}; only failing or warning checks can be acknowledged")]
    NotAcknowledgeable {
        /// Its status.
        status: CheckStatus,
    },
    /// `expires_at` is in the past.
    #[error("expires_at must not be earlier than now")]
    ExpiresInPast,
    /// Already acknowledged: the existing acknowledgement, with `expired` as of now.
    #[error("already acknowledged")]
    AlreadyAcknowledged(Box<AcknowledgementView>),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessDenied> for AcknowledgeError {
    fn from(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotFound => Self::NotFound,
            AccessDenied::Forbidden => Self::Forbidden,
        }
    }
}

impl From<AckRejection> for AcknowledgeError {
    fn from(rejection: AckRejection) -> Self {
        match rejection {
            AckRejection::RunNotCompleted => Self::RunNotCompleted,
            AckRejection::CheckNotFound => Self::CheckNotFound,
            AckRejection::NotAcknowledgeable { status } => Self::NotAcknowledgeable { status },
            AckRejection::ExpiresInPast => Self::ExpiresInPast,
        }
    }
}

/// Proof that the caller may acknowledge checks of this run. Made only by
/// [`AcknowledgementService::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcknowledgePermit {
    run_id: RunId,
    scope: RunScope,
    user: UserId,
}

/// Acknowledging and listing acknowledgements.
#[derive(Debug, Clone)]
pub struct AcknowledgementService {
    ports: Ports,
}

impl AcknowledgementService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Decides from the run's scope alone whether `principal` may acknowledge its checks.
    ///
    /// # Errors
    /// [`AcknowledgeError::NotFound`] (missing or not visible), [`AcknowledgeError::Forbidden`].
    pub async fn authorize(&self, principal: &Principal, run_id: RunId) -> Result<AcknowledgePermit, AcknowledgeError> {
        let scope = self.ports.runs.scope(run_id).await?.ok_or(AcknowledgeError::NotFound)?;
        authorize(principal, scope.workspace_id, Some(scope.tenant_id), Some(Capability::VerificationAcknowledge))?;
        Ok(AcknowledgePermit { run_id, scope, user: principal.user_id.clone() })
    }

    /// Acknowledges a check, returning it with `expired` as of now.
    ///
    /// # Errors
    /// See [`AcknowledgeError`]; nothing is written on error.
    #[tracing::instrument(skip_all, fields(run_id = %permit.run_id, check_key = %request.check_key))]
    pub async fn acknowledge(
        &self,
        permit: AcknowledgePermit,
        request: Acknowledge,
    ) -> Result<AcknowledgementView, AcknowledgeError> {
        if request.report_id.is_some_and(|id| id != permit.run_id) {
            return Err(AcknowledgeError::ReportMismatch);
        }
        let run = self.ports.runs.get(permit.run_id).await?.ok_or(AcknowledgeError::NotFound)?;
        let now = self.ports.clock.now();
        check_acknowledgeable(&run, &request.check_key, request.expires_at, now)?;
        let new = NewAcknowledgement {
            id: AcknowledgementId::generate(),
            workspace_id: permit.scope.workspace_id,
            tenant_id: permit.scope.tenant_id,
            run_id: run.id,
            check_key: request.check_key,
            reason: request.reason,
            expires_at: request.expires_at.map(crate::domain::to_micros),
            acknowledged_by: permit.user,
            acknowledged_at: now,
        };
        let event = events::check_acknowledged(&new);
        match self.ports.acknowledgements.acknowledge(new, event).await {
            Ok(ack) => Ok(AcknowledgementView::at(ack, now)),
            Err(AckInsertError::AlreadyAcknowledged(existing)) => {
                Err(AcknowledgeError::AlreadyAcknowledged(Box::new(AcknowledgementView::at(*existing, now))))
            }
            Err(AckInsertError::RunNotFound) => Err(AcknowledgeError::NotFound),
            Err(AckInsertError::Store(e)) => Err(e.into()),
        }
    }

    /// The acknowledgements of a run the caller may see, with `expired` computed now.
    ///
    /// # Errors
    /// [`ReadRunError::NotFound`] when the run is missing or not visible.
    pub async fn list(&self, principal: &Principal, run_id: RunId) -> Result<Vec<AcknowledgementView>, ReadRunError> {
        let scope = self.ports.runs.scope(run_id).await?.ok_or(ReadRunError::NotFound)?;
        authorize(principal, scope.workspace_id, Some(scope.tenant_id), None)?;
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .acknowledgements
            .list_for_run(run_id)
            .await?
            .into_iter()
            .map(|a| AcknowledgementView::at(a, now))
            .collect())
    }
}
