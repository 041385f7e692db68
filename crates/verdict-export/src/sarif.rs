//! The SARIF 2.1.0 export of a report (docs/contract.md#exports), built as typed `serde-sarif` objects: one
//! run, one rule and one result per check, plus an `absent` result per check that only the
//! previous report has.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, LogicalLocation, Message, PhysicalLocation, PropertyBag,
    ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultBaselineState, Run, RunAutomationDetails,
    Sarif, Suppression, SupressionKind, SupressionStatus, Tool, ToolComponent, Version,
};
use verdict_core::domain::{CheckKey, CheckResult, EvidenceValue, format_timestamp};
use verdict_core::rules::{CheckChangeKind, compare_reports};

use crate::input::{ExportError, ExportInput};
use crate::sarif_map::{FINGERPRINT_KEY, baseline_state, check_fingerprint, kind_and_level, level_for_severity};

/// The `$schema` of every document: the OASIS SARIF 2.1.0 schema (errata 01), the one the
/// tests validate against.
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// `tool.driver.name`.
pub const TOOL_NAME: &str = "Verdict";

/// `logicalLocations[].kind` of a check: SARIF's kind for an entry of a JSON document, which a
/// check is in the report (`checks[]`).
pub const CHECK_LOCATION_KIND: &str = "object";

/// The SARIF log of a report.
///
/// Baseline: with a previous report every result has a `baselineState` (`new`, `unchanged`,
/// `updated`) and every key only the previous report has gets an `absent` result (and a rule,
/// after the current report's rules). Without one, `baselineState` is omitted everywhere: no
/// comparison was made, and SARIF reserves the property for results compared with a baseline —
/// calling everything `new` would claim a comparison that did not happen.
///
/// `invocations[0].executionSuccessful` is [`ExportInput::execution_finished`]: true for a
/// completed run (blocked included) whose checks all finished, false while running and for an
/// abandoned run. `startTimeUtc`/`endTimeUtc` are the run's `started_at`/`completed_at` when set.
#[must_use]
pub fn sarif(input: &ExportInput<'_>) -> Sarif {
    let report = input.report();
    let change = compare_reports(report, input.previous());
    let changes: HashMap<&CheckKey, CheckChangeKind> = change.checks.iter().map(|c| (&c.key, c.change)).collect();
    let absent: Vec<&CheckResult> = input
        .previous()
        .map(|p| p.checks().iter().filter(|c| changes.get(&c.key) == Some(&CheckChangeKind::Removed)).collect())
        .unwrap_or_default();

    let rules: Vec<ReportingDescriptor> = report.checks().iter().chain(absent.iter().copied()).map(rule).collect();
    let mut results = Vec::with_capacity(rules.len());
    for (index, check) in report.checks().iter().enumerate() {
        let mut result = result(input, check, index);
        if input.previous().is_some() {
            let state = changes.get(&check.key).map_or(ResultBaselineState::New, |c| baseline_state(*c));
            result.baseline_state = Some(Value::String(state.to_string()));
        }
        if let Some(reason) = input.acknowledgement_of(&check.key) {
            result.suppressions = Some(vec![
                Suppression::builder()
                    .kind(Value::String(SupressionKind::External.to_string()))
                    .status(Value::String(SupressionStatus::Accepted.to_string()))
                    .justification(reason.as_str())
                    .build(),
            ]);
        }
        results.push(result);
    }
    for (offset, check) in absent.iter().enumerate() {
        let mut result = result(input, check, report.checks().len() + offset);
        result.baseline_state = Some(Value::String(ResultBaselineState::Absent.to_string()));
        results.push(result);
    }

    let driver =
        ToolComponent::builder().name(TOOL_NAME).semantic_version(env!("CARGO_PKG_VERSION")).rules(rules).build();
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .results(results)
        .automation_details(
            RunAutomationDetails::builder().id(format!("{}/{}/", report.flow(), input.scope_path())).build(),
        )
        .invocations(vec![invocation(input)])
        .properties(bag([
            ("report_id", Value::String(report.report_id().to_string())),
            ("fingerprint", Value::String(report.fingerprint().to_string())),
            ("overall", Value::String(report.summary().overall.as_str().to_owned())),
        ]))
        .build();
    Sarif::builder()
        .schema(SARIF_SCHEMA_URI)
        .version(Value::String(Version::V2_1_0.to_string()))
        .runs(vec![run])
        .build()
}

/// [`sarif`] serialized as JSON text.
///
/// # Errors
/// [`ExportError::Write`] if serialization fails (it does not for these types).
pub fn sarif_json(input: &ExportInput<'_>) -> Result<String, ExportError> {
    serde_json::to_string(&sarif(input)).map_err(|e| ExportError::Write { format: "sarif", reason: e.to_string() })
}

fn rule(check: &CheckResult) -> ReportingDescriptor {
    let level = level_for_severity(check.severity);
    let mut rule = ReportingDescriptor::builder()
        .id(check.key.as_str())
        .name(check.title.as_str())
        .properties(bag([
            ("severity", Value::String(check.severity.as_str().to_owned())),
            ("blocking", Value::Bool(check.blocking)),
        ]))
        .default_configuration(ReportingConfiguration::builder().level(Value::String(level.to_string())).build())
        .build();
    rule.help_uri = help_uri(check);
    rule
}

/// The first `https://` next step that is an RFC 3986 URI. Core's sanitizer parses links the
/// WHATWG way, which admits a few characters RFC 3986 does not (a stray `%`, `|`, `^`, …); SARIF's
/// `helpUri` must be an RFC 3986 URI, so such a link is skipped rather than rewritten.
fn help_uri(check: &CheckResult) -> Option<String> {
    check
        .next_steps
        .iter()
        .map(|s| s.url.as_str())
        .find(|url| url.starts_with("https://") && fluent_uri::Uri::parse(*url).is_ok())
        .map(str::to_owned)
}

/// A result without baseline state or suppressions; `rule_index` points into the rules array.
fn result(input: &ExportInput<'_>, check: &CheckResult, rule_index: usize) -> SarifResult {
    let (kind, level) = kind_and_level(check);
    // SARIF requires a message; a check may have an empty one, its title says what it checked.
    let text = if check.message.trim().is_empty() { check.title.as_str() } else { check.message.as_str() };
    let location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(format!("verdict/{}", input.scope_path())).build())
                .build(),
        )
        .logical_locations(vec![LogicalLocation::builder().name(check.key.as_str()).kind(CHECK_LOCATION_KIND).build()])
        .build();
    SarifResult::builder()
        .rule_id(check.key.as_str())
        // At most 2 × MAX_CHECKS rules exist (current and absent keys): the conversion cannot fail.
        .rule_index(i64::try_from(rule_index).unwrap_or(i64::MAX))
        .kind(kind)
        .level(level)
        .message(Message::builder().text(text).build())
        .partial_fingerprints(BTreeMap::from([(
            FINGERPRINT_KEY.to_owned(),
            check_fingerprint(&input.run().identity_hash, &check.key),
        )]))
        .locations(vec![location])
        .properties(bag([("reason_code", Value::String(check.reason_code.to_string())), ("evidence", evidence(check))]))
        .build()
}

fn invocation(input: &ExportInput<'_>) -> Invocation {
    let mut invocation = Invocation::builder().execution_successful(input.execution_finished()).build();
    invocation.start_time_utc = input.run().started_at.map(format_timestamp);
    invocation.end_time_utc = input.run().completed_at.map(format_timestamp);
    invocation
}

/// The report's evidence exactly as the report writes it: `[{kind, value}]`.
fn evidence(check: &CheckResult) -> Value {
    Value::Array(
        check
            .evidence
            .iter()
            .map(|e| {
                let value = match &e.value {
                    EvidenceValue::Bool(b) => Value::Bool(*b),
                    EvidenceValue::Int(i) => Value::from(*i),
                    EvidenceValue::Text(t) => Value::String(t.clone()),
                };
                json!({"kind": e.kind.as_str(), "value": value})
            })
            .collect(),
    )
}

fn bag<const N: usize>(entries: [(&str, Value); N]) -> PropertyBag {
    PropertyBag::builder()
        .additional_properties(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<BTreeMap<_, _>>())
        .build()
}
