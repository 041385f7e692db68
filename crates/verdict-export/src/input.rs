//! What an export is built from: a run, its stored report, the previous report of the same
//! identity and the run's acknowledgements, checked once to belong together (docs/contract.md#exports: stored
//! data only), plus the few derived values both formats share.

use std::collections::HashMap;

use verdict_core::domain::{AckReason, Acknowledgement, CheckKey, ReasonCode, Report, Run, RunId, RunStatus};

/// Why an export cannot be built from the given stored data. Every variant means the caller
/// paired rows that do not belong together — a bug, not bad user input (the handler answers 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// The report is not this run's report.
    #[error("report {report} is not the report of run {run}")]
    ReportOfAnotherRun {
        /// The run.
        run: RunId,
        /// The report's id.
        report: RunId,
    },
    /// The previous report given is not the one the report links as previous.
    #[error("report {given} is not the previous report {linked:?} of this report")]
    NotThePreviousReport {
        /// The id the report links (`previous_report_id`).
        linked: Option<RunId>,
        /// The id of the report given as previous.
        given: RunId,
    },
    /// An acknowledgement of another run was passed.
    #[error("an acknowledgement of run {ack_run} was passed for run {run}")]
    AcknowledgementOfAnotherRun {
        /// The run.
        run: RunId,
        /// The acknowledgement's run.
        ack_run: RunId,
    },
    /// Writing the document failed (cannot happen with in-memory buffers; kept so no write
    /// error is ever swallowed).
    #[error("could not write the {format} document: {reason}")]
    Write {
        /// Which format.
        format: &'static str,
        /// The writer's error.
        reason: String,
    },
}

/// A run with everything an export of it needs, known to belong together.
#[derive(Debug, Clone)]
pub struct ExportInput<'a> {
    run: &'a Run,
    report: &'a Report,
    previous: Option<&'a Report>,
    acknowledgements: HashMap<&'a CheckKey, &'a AckReason>,
}

impl<'a> ExportInput<'a> {
    /// Pairs a run with its report, the previous report (the one `report.previous_report_id`
    /// names, when the caller could load it) and the run's acknowledgements.
    ///
    /// `previous = None` while the report links one means the previous report could not be
    /// loaded; the export then has no baseline rather than failing.
    ///
    /// # Errors
    /// [`ExportError::ReportOfAnotherRun`], [`ExportError::NotThePreviousReport`] or
    /// [`ExportError::AcknowledgementOfAnotherRun`] when the rows do not belong together.
    pub fn new(
        run: &'a Run,
        report: &'a Report,
        previous: Option<&'a Report>,
        acknowledgements: &'a [Acknowledgement],
    ) -> Result<Self, ExportError> {
        if report.report_id() != run.id {
            return Err(ExportError::ReportOfAnotherRun { run: run.id, report: report.report_id() });
        }
        if let Some(previous) = previous
            && report.previous_report_id() != Some(previous.report_id())
        {
            return Err(ExportError::NotThePreviousReport {
                linked: report.previous_report_id(),
                given: previous.report_id(),
            });
        }
        let mut by_key = HashMap::with_capacity(acknowledgements.len());
        for ack in acknowledgements {
            if ack.run_id != run.id {
                return Err(ExportError::AcknowledgementOfAnotherRun { run: run.id, ack_run: ack.run_id });
            }
            by_key.insert(&ack.check_key, &ack.reason);
        }
        Ok(Self { run, report, previous, acknowledgements: by_key })
    }

    /// The run.
    #[must_use]
    pub fn run(&self) -> &'a Run {
        self.run
    }

    /// The run's report.
    #[must_use]
    pub fn report(&self) -> &'a Report {
        self.report
    }

    /// The baseline: the previous report of the same identity, if there is one.
    #[must_use]
    pub fn previous(&self) -> Option<&'a Report> {
        self.previous
    }

    /// The acknowledgement reason of a check, if it was acknowledged.
    #[must_use]
    pub fn acknowledgement_of(&self, key: &CheckKey) -> Option<&'a AckReason> {
        self.acknowledgements.get(key).copied()
    }

    /// `{workspace_id}/{tenant_id}/{provider_connection_id or none}`: the scope the report
    /// verifies, as SARIF locations and automation ids spell it.
    #[must_use]
    pub fn scope_path(&self) -> String {
        let identity = self.report.identity();
        let connection = identity.provider_connection_id.map_or_else(|| "none".to_owned(), |id| id.to_string());
        format!("{}/{}/{}", identity.workspace_id, identity.tenant_id, connection)
    }

    /// Whether the verification ran to its end: the run completed and no check was recorded as
    /// never finished (`ext.runner.aborted`, which marks abandoned runs and checks still running
    /// at completion, docs/contract.md#outcomes-and-abandoned-runs). A blocked run (docs/contract.md#blocked-runs) did run to its end: its verdict is the
    /// blocker, not a failure of Verdict.
    #[must_use]
    pub fn execution_finished(&self) -> bool {
        self.run.status == RunStatus::Completed
            && !self.report.checks().iter().any(|c| c.reason_code == ReasonCode::RUNNER_ABORTED)
    }
}
