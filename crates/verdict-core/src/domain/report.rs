//! The verification report (docs/contract.md#report-contract, schema `1.5.0`). A [`Report`] is always consistent: its
//! checks are sanitized and uniquely keyed, and its summary and fingerprint are computed from
//! them, both when it is assembled and when a stored one is read back.

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::{CheckResult, DirectoryId, FlowId, ParseError, ProviderConnectionId, RunId, TenantId, WorkspaceId};
use crate::rules::{fingerprint, sanitize_check, summarize};

/// The schema version Verdict writes.
pub const SCHEMA_VERSION: &str = "1.5.0";

/// Most checks a report may hold.
pub const MAX_CHECKS: usize = 256;

/// The overall state of a report (docs/contract.md#summary-and-overall).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// Nothing failing or warning.
    Ready,
    /// Something fails or warns, nothing blocks.
    NeedsAttention,
    /// A blocking check fails.
    Blocked,
    /// Checks are still running.
    Running,
}

impl Overall {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::NeedsAttention => "needs_attention",
            Self::Blocked => "blocked",
            Self::Running => "running",
        }
    }

    /// Every value, in the documented order.
    pub const ALL: [Self; 4] = [Self::Ready, Self::NeedsAttention, Self::Blocked, Self::Running];

    /// Parses a wire or stored name.
    ///
    /// # Errors
    /// [`ParseError`] for anything else.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str() == value)
            .ok_or_else(|| ParseError::new("overall", "must be ready, needs_attention, blocked or running"))
    }
}

/// Check counts by status. A blocker counts as `fail`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Number of checks.
    pub total: u32,
    /// Passing.
    pub pass: u32,
    /// Failing (blockers included).
    pub fail: u32,
    /// Warning.
    pub warn: u32,
    /// Skipped.
    pub skip: u32,
    /// Still running.
    pub running: u32,
}

/// A report's summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// The overall state.
    pub overall: Overall,
    /// Counts by status.
    pub counts: Counts,
}

/// A report fingerprint: 64 lowercase hex characters (docs/contract.md#fingerprint).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Parses a fingerprint.
    ///
    /// # Errors
    /// [`ParseError`] unless 64 lowercase hex characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        if super::flow::is_sha256_hex(&value) {
            Ok(Self(value))
        } else {
            Err(ParseError::new("fingerprint", "must be 64 lowercase hex characters"))
        }
    }

    pub(crate) fn from_digest(digest: &[u8]) -> Self {
        Self(hex::encode(digest))
    }

    /// The fingerprint as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The scope a report verifies, plus flow-specific safe ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportIdentity {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The provider connection, or null (required, may be null).
    #[serde(deserialize_with = "Option::deserialize")]
    pub provider_connection_id: Option<ProviderConnectionId>,
    /// The Entra directory the connection points at, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra_tenant_id: Option<DirectoryId>,
}

/// Everything a report is assembled from; summary and fingerprint are derived.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportDraft {
    /// The run id.
    pub report_id: RunId,
    /// The flow.
    pub flow: FlowId,
    /// When the report was generated.
    pub generated_at: DateTime<Utc>,
    /// The scope.
    pub identity: ReportIdentity,
    /// The previous completed report of the same identity, if any.
    pub previous_report_id: Option<RunId>,
    /// The check results, in the flow's order.
    pub checks: Vec<CheckResult>,
}

/// A schema-valid, sanitized report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    report_id: RunId,
    schema_version: String,
    flow: FlowId,
    #[serde(with = "super::timestamp_serde")]
    generated_at: DateTime<Utc>,
    identity: ReportIdentity,
    fingerprint: Fingerprint,
    previous_report_id: Option<RunId>,
    summary: Summary,
    checks: Vec<CheckResult>,
}

impl Report {
    /// Sanitizes the checks and derives the summary and fingerprint.
    ///
    /// # Errors
    /// [`ParseError`] when two checks share a key or there are more than [`MAX_CHECKS`].
    pub fn assemble(draft: ReportDraft) -> Result<Self, ParseError> {
        Self::from_parts(draft, SCHEMA_VERSION.to_owned())
    }

    fn from_parts(draft: ReportDraft, schema_version: String) -> Result<Self, ParseError> {
        if draft.checks.len() > MAX_CHECKS {
            return Err(ParseError::new("checks", "must hold at most 256 checks"));
        }
        let mut seen = HashSet::with_capacity(draft.checks.len());
        if let Some(dup) = draft.checks.iter().find(|c| !seen.insert(c.key.as_str())) {
            return Err(ParseError::new("checks", format!("check key {} appears twice", dup.key)));
        }
        let checks: Vec<CheckResult> = draft.checks.into_iter().map(sanitize_check).collect();
        Ok(Self {
            report_id: draft.report_id,
            schema_version,
            flow: draft.flow,
            generated_at: super::to_micros(draft.generated_at),
            identity: draft.identity,
            fingerprint: fingerprint(&checks),
            previous_report_id: draft.previous_report_id,
            summary: summarize(&checks),
            checks,
        })
    }

    /// The run id.
    #[must_use]
    pub fn report_id(&self) -> RunId {
        self.report_id
    }
    /// The schema version it was written with.
    #[must_use]
    pub fn schema_version(&self) -> &str {
        &self.schema_version
    }
    /// The flow.
    #[must_use]
    pub fn flow(&self) -> &FlowId {
        &self.flow
    }
    /// When it was generated.
    #[must_use]
    pub fn generated_at(&self) -> DateTime<Utc> {
        self.generated_at
    }
    /// The scope.
    #[must_use]
    pub fn identity(&self) -> &ReportIdentity {
        &self.identity
    }
    /// The fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }
    /// The previous report of the same identity.
    #[must_use]
    pub fn previous_report_id(&self) -> Option<RunId> {
        self.previous_report_id
    }
    /// The summary.
    #[must_use]
    pub fn summary(&self) -> &Summary {
        &self.summary
    }
    /// The checks, in the flow's order.
    #[must_use]
    pub fn checks(&self) -> &[CheckResult] {
        &self.checks
    }

    /// The draft this report was assembled from, to derive a new version (e.g. a live report
    /// with one more finished check).
    #[must_use]
    pub fn to_draft(&self) -> ReportDraft {
        ReportDraft {
            report_id: self.report_id,
            flow: self.flow.clone(),
            generated_at: self.generated_at,
            identity: self.identity.clone(),
            previous_report_id: self.previous_report_id,
            checks: self.checks.clone(),
        }
    }

    /// The report as a JSON value (what stores persist and the API returns).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl Report {
    /// Reads a report from its stored JSON text, trusting the derived fields. Invariant: a
    /// store holds only reports that [`Report::assemble`] built — sanitized, uniquely keyed, with
    /// summary and fingerprint derived from the checks — because the write path is the only
    /// writer and takes a [`Report`], never raw JSON. So reads skip re-sanitizing every string
    /// and re-deriving summary and fingerprint; the types still parse (keys, statuses, reason
    /// codes), and a row that does not is reported as corrupt. `Deserialize` (used for reports
    /// from anywhere else) re-validates everything.
    ///
    /// # Errors
    /// [`ParseError`] when the text is not a report of schema major version 1.
    pub fn from_stored_json(text: &str) -> Result<Self, ParseError> {
        let wire: ReportWire = serde_json::from_str(text)
            .map_err(|e| ParseError::new("verification_report", format!("is not a stored report: {e}")))?;
        if !is_v1_schema_version(&wire.schema_version) {
            return Err(ParseError::new("schema_version", "must match ^1\\.[0-9]+\\.[0-9]+$"));
        }
        Ok(Self {
            report_id: wire.report_id,
            schema_version: wire.schema_version,
            flow: wire.flow,
            generated_at: wire.generated_at,
            identity: wire.identity,
            fingerprint: wire.fingerprint,
            previous_report_id: wire.previous_report_id,
            summary: wire.summary,
            checks: wire.checks,
        })
    }

    /// The report as JSON text, as stores persist it.
    #[must_use]
    pub fn to_json_text(&self) -> String {
        super::completion::json_text(self)
    }

    /// The stored JSON text of the report's `summary_counts` column (a live report's, too).
    #[must_use]
    pub fn summary_counts_json(&self) -> String {
        super::completion::json_text(&self.summary().counts)
    }
}

/// The stored form, re-validated on the way in.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportWire {
    report_id: RunId,
    schema_version: String,
    flow: FlowId,
    #[serde(with = "super::timestamp_serde")]
    generated_at: DateTime<Utc>,
    identity: ReportIdentity,
    fingerprint: Fingerprint,
    // Required, may be null: a missing field is an error, not `None`.
    #[serde(deserialize_with = "Option::deserialize")]
    previous_report_id: Option<RunId>,
    summary: Summary,
    checks: Vec<CheckResult>,
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let wire = ReportWire::deserialize(d)?;
        if !is_v1_schema_version(&wire.schema_version) {
            return Err(D::Error::custom("schema_version must match ^1\\.[0-9]+\\.[0-9]+$"));
        }
        let draft = ReportDraft {
            report_id: wire.report_id,
            flow: wire.flow,
            generated_at: wire.generated_at,
            identity: wire.identity,
            previous_report_id: wire.previous_report_id,
            checks: wire.checks,
        };
        let report = Self::from_parts(draft, wire.schema_version).map_err(D::Error::custom)?;
        if report.summary != wire.summary {
            return Err(D::Error::custom("summary does not match the checks"));
        }
        if report.fingerprint != wire.fingerprint {
            return Err(D::Error::custom("fingerprint does not match the checks"));
        }
        Ok(report)
    }
}

fn is_v1_schema_version(value: &str) -> bool {
    let mut parts = value.split('.');
    parts.next() == Some("1")
        && parts.clone().count() == 2
        && parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CheckKey, CheckStatus, CheckTitle, ReasonCode, Severity};

    pub(crate) fn check(key: &str, status: CheckStatus, blocking: bool) -> CheckResult {
        CheckResult::new(
            CheckKey::parse(key).unwrap(),
            CheckTitle::parse(format!("Check {key}")).unwrap(),
            status,
            Severity::High,
            blocking,
            ReasonCode::OK,
        )
    }

    fn draft(checks: Vec<CheckResult>) -> ReportDraft {
        ReportDraft {
            report_id: RunId::generate(),
            flow: FlowId::parse("provider.connection.check").unwrap(),
            generated_at: Utc::now(),
            identity: ReportIdentity {
                workspace_id: WorkspaceId::new(1).unwrap(),
                tenant_id: TenantId::new(2).unwrap(),
                provider_connection_id: None,
                entra_tenant_id: None,
            },
            previous_report_id: None,
            checks,
        }
    }

    #[test]
    fn duplicate_check_keys_are_rejected() {
        let dup = vec![check("a", CheckStatus::Pass, false), check("a", CheckStatus::Fail, false)];
        assert!(Report::assemble(draft(dup)).is_err());
    }

    #[test]
    fn stored_reports_round_trip_and_tampered_ones_are_rejected() {
        let report = Report::assemble(draft(vec![check("a", CheckStatus::Fail, true)])).unwrap();
        let json = report.to_json();
        assert_eq!(serde_json::from_value::<Report>(json.clone()).unwrap(), report);
        assert!(json.get("previous_report_id").is_some_and(serde_json::Value::is_null));

        let mut wrong_summary = json.clone();
        wrong_summary["summary"]["overall"] = "ready".into();
        assert!(serde_json::from_value::<Report>(wrong_summary).is_err());

        let mut wrong_fp = json.clone();
        wrong_fp["checks"][0]["status"] = "pass".into();
        wrong_fp["summary"] =
            serde_json::json!({"overall":"ready","counts":{"total":1,"pass":1,"fail":0,"warn":0,"skip":0,"running":0}});
        assert!(serde_json::from_value::<Report>(wrong_fp).is_err(), "fingerprint no longer matches");

        let mut extra = json.clone();
        extra["surprise"] = 1.into();
        assert!(serde_json::from_value::<Report>(extra).is_err());

        let mut v2 = json;
        v2["schema_version"] = "2.0.0".into();
        assert!(serde_json::from_value::<Report>(v2).is_err());
    }

    #[test]
    fn stored_text_round_trips_through_the_trusted_reader() {
        let report = Report::assemble(draft(vec![check("a", CheckStatus::Warn, false)])).unwrap();
        assert_eq!(Report::from_stored_json(&report.to_json_text()).unwrap(), report);
        assert!(Report::from_stored_json("{}").is_err());
        let mut v2 = report.to_json();
        v2["schema_version"] = "2.0.0".into();
        assert!(Report::from_stored_json(&v2.to_string()).is_err());
    }

    #[test]
    fn schema_versions_of_major_one_are_accepted() {
        for (v, ok) in
            [("1.5.0", true), ("1.0.12", true), ("2.0.0", false), ("1.5", false), ("1.a.0", false), ("1..0", false)]
        {
            assert_eq!(is_v1_schema_version(v), ok, "{v}");
        }
    }
}
