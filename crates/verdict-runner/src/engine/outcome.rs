//! What a check found, before the engine turns it into a report row with the title, severity
//! and blocking of the flow's declaration. A check cannot say `running`, and its reason code can
//! only come from core's catalog.

use std::any::Any;
use std::sync::Arc;

use verdict_core::domain::{CheckDescriptor, CheckResult, CheckStatus, Evidence, EvidenceValue, NextStep, ReasonCode};

use super::Artifact;

/// A check's finding.
#[derive(Clone)]
pub struct CheckOutcome {
    status: CheckStatus,
    reason: ReasonCode,
    message: String,
    evidence: Vec<Evidence>,
    next_steps: Vec<NextStep>,
    artifact: Option<Artifact>,
}

impl CheckOutcome {
    fn new(status: CheckStatus, reason: ReasonCode, message: impl Into<String>) -> Self {
        Self { status, reason, message: message.into(), evidence: Vec::new(), next_steps: Vec::new(), artifact: None }
    }

    /// The check passed (`ok`).
    #[must_use]
    pub fn pass(message: impl Into<String>) -> Self {
        Self::new(CheckStatus::Pass, ReasonCode::OK, message)
    }

    /// The check failed; a failure of a blocking check is a blocker.
    #[must_use]
    pub fn fail(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self::new(CheckStatus::Fail, reason, message)
    }

    /// Worth attention, never blocking (provider outages, throttling, timeouts).
    #[must_use]
    pub fn warn(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self::new(CheckStatus::Warn, reason, message)
    }

    /// The check did not run.
    #[must_use]
    pub fn skip(reason: ReasonCode, message: impl Into<String>) -> Self {
        Self::new(CheckStatus::Skip, reason, message)
    }

    /// Adds a safe pointer. `kind` must match `^[a-z0-9_.]{1,64}$`; checks pass constants, and an
    /// invalid kind is dropped with an error log rather than failing the check.
    #[must_use]
    pub fn with_evidence(mut self, kind: &str, value: impl Into<EvidenceValue>) -> Self {
        match Evidence::new(kind, value) {
            Ok(evidence) => self.evidence.push(evidence),
            Err(_) => tracing::error!(kind, "a check produced an evidence kind outside the contract; dropped"),
        }
        self
    }

    /// Adds a safe pointer when there is one.
    #[must_use]
    pub fn with_optional_evidence(self, kind: &str, value: Option<impl Into<EvidenceValue>>) -> Self {
        match value {
            Some(value) => self.with_evidence(kind, value),
            None => self,
        }
    }

    /// Adds a navigation link (a relative path or an `https://` URL; the sanitizer drops others).
    #[must_use]
    pub fn with_next_step(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.next_steps.push(NextStep::new(label, url));
        self
    }

    /// Hands a value to the checks that depend on this one.
    #[must_use]
    pub fn with_artifact<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.artifact = Some(Arc::new(value));
        self
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> CheckStatus {
        self.status
    }

    /// The reason code.
    #[must_use]
    pub fn reason(&self) -> ReasonCode {
        self.reason
    }

    /// The report row, with the declaration's title, severity and blocking. A warning is never
    /// blocking, so its row says so (docs/contract.md#provider-flow: an outage must not look like a blocker).
    pub(crate) fn into_result(self, declared: &CheckDescriptor) -> (CheckResult, Option<Artifact>) {
        let blocking = declared.blocking && self.status != CheckStatus::Warn;
        let mut result = CheckResult::new(
            declared.key.clone(),
            declared.title.clone(),
            self.status,
            declared.severity,
            blocking,
            self.reason,
        )
        .with_message(self.message);
        result.evidence = self.evidence;
        result.next_steps = self.next_steps;
        (result, self.artifact)
    }
}

impl std::fmt::Debug for CheckOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckOutcome")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("evidence", &self.evidence.len())
            .field("artifact", &self.artifact.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use verdict_core::domain::{CheckKey, CheckTitle, Severity};

    use super::*;

    fn declared(blocking: bool) -> CheckDescriptor {
        CheckDescriptor {
            key: CheckKey::parse("a.check").unwrap(),
            title: CheckTitle::parse("A check").unwrap(),
            severity: Severity::High,
            blocking,
        }
    }

    #[test]
    fn the_declaration_supplies_title_severity_and_blocking() {
        let (result, artifact) = CheckOutcome::fail(ReasonCode::PERMISSION_DENIED, "no")
            .with_evidence("http_status", 403_u16)
            .with_evidence("Not A Kind", "dropped")
            .with_next_step("Docs", "https://learn.microsoft.com/")
            .with_artifact(7_u32)
            .into_result(&declared(true));
        assert!(result.is_blocker());
        assert_eq!((result.severity, result.title.as_str()), (Severity::High, "A check"));
        assert_eq!(result.evidence.len(), 1);
        assert_eq!(result.next_steps.len(), 1);
        assert_eq!(artifact.unwrap().downcast::<u32>().ok().as_deref(), Some(&7));
    }

    #[test]
    fn warnings_are_never_blocking() {
        let (result, _) = CheckOutcome::warn(ReasonCode::THROTTLED, "slow down").into_result(&declared(true));
        assert_eq!((result.status, result.blocking), (CheckStatus::Warn, false));
    }
}
