//! Acknowledging checks (SPEC §6): only on a completed run, only a failing or warning check,
//! once per (run, check), immutable, audited without the reason text.

use chrono::{DateTime, Utc};

use super::{Failure, Ports, events};
use crate::domain::{
    AckReason, Acknowledgement, AcknowledgementId, Capability, CheckKey, CheckStatus, NewAcknowledgement, Principal,
    RunId,
};
use crate::ports::AcknowledgeError;
use crate::rules::{AccessDenied, AckRejection, authorize, check_acknowledgeable};

/// A request to acknowledge one check of one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledge {
    /// The run (report) from the path.
    pub run_id: RunId,
    /// The `report_id` from the body, if given: must equal `run_id`.
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
pub enum AcknowledgeCheckError {
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
    /// Already acknowledged: the existing acknowledgement.
    #[error("already acknowledged")]
    AlreadyAcknowledged(Box<Acknowledgement>),
    /// Storage failure.
    #[error(transparent)]
    Failure(#[from] Failure),
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

    /// Acknowledges a check.
    ///
    /// # Errors
    /// See [`AcknowledgeCheckError`]; nothing is written on error.
    #[tracing::instrument(skip_all, fields(run_id = %request.run_id, check_key = %request.check_key))]
    pub async fn acknowledge(
        &self,
        principal: &Principal,
        request: Acknowledge,
    ) -> Result<Acknowledgement, AcknowledgeCheckError> {
        let run =
            self.ports.runs.get(request.run_id).await.map_err(Failure::from)?.ok_or(AcknowledgeCheckError::NotFound)?;
        authorize(
            principal,
            run.identity.workspace_id,
            Some(run.identity.tenant_id),
            Some(Capability::VerificationAcknowledge),
        )
        .map_err(|denied| match denied {
            AccessDenied::NotFound => AcknowledgeCheckError::NotFound,
            AccessDenied::Forbidden => AcknowledgeCheckError::Forbidden,
        })?;
        if request.report_id.is_some_and(|id| id != run.id) {
            return Err(AcknowledgeCheckError::ReportMismatch);
        }
        let now = self.ports.clock.now();
        check_acknowledgeable(&run, &request.check_key, request.expires_at, now).map_err(
            |rejection| match rejection {
                AckRejection::RunNotCompleted => AcknowledgeCheckError::RunNotCompleted,
                AckRejection::CheckNotFound => AcknowledgeCheckError::CheckNotFound,
                AckRejection::NotAcknowledgeable { status } => AcknowledgeCheckError::NotAcknowledgeable { status },
                AckRejection::ExpiresInPast => AcknowledgeCheckError::ExpiresInPast,
            },
        )?;
        let new = NewAcknowledgement {
            id: AcknowledgementId::generate(),
            workspace_id: run.identity.workspace_id,
            tenant_id: run.identity.tenant_id,
            run_id: run.id,
            check_key: request.check_key,
            reason: request.reason,
            expires_at: request.expires_at.map(crate::domain::to_micros),
            acknowledged_by: principal.user_id.clone(),
            acknowledged_at: now,
        };
        let event = events::check_acknowledged(&new);
        self.ports.acknowledgements.acknowledge(new, event).await.map_err(|e| match e {
            AcknowledgeError::AlreadyAcknowledged(existing) => AcknowledgeCheckError::AlreadyAcknowledged(existing),
            AcknowledgeError::RunNotFound => AcknowledgeCheckError::NotFound,
            AcknowledgeError::Store(e) => AcknowledgeCheckError::Failure(e.into()),
        })
    }

    /// The acknowledgements of a run the caller may see, with `expired` computed now.
    ///
    /// # Errors
    /// [`super::ReadRunError::NotFound`] when the run is missing or not visible.
    pub async fn list(
        &self,
        principal: &Principal,
        run_id: RunId,
    ) -> Result<Vec<super::AcknowledgementView>, super::ReadRunError> {
        let run = super::VerificationService::new(self.ports.clone()).run(principal, run_id).await?;
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .acknowledgements
            .list_for_run(run.id)
            .await?
            .into_iter()
            .map(|a| super::AcknowledgementView { expired: a.is_expired(now), acknowledgement: a })
            .collect())
    }
}
