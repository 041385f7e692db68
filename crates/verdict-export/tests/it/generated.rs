//! Generated reports: every status, severity and blocking flag, hostile text anywhere text can
//! go, with and without a previous report, with acknowledgements, live or completed. Each export
//! must satisfy the schema oracle and parse back as JUnit; a fixed sample, with the named
//! scenarios, goes through the SARIF Multitool in one batch (it takes seconds per call).

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;
use verdict_core::domain::{
    CheckKey, CheckResult, CheckStatus, CheckTitle, Evidence, EvidenceKind, EvidenceValue, NextStep, REASON_CATALOG,
    ReasonCode, Severity,
};
use verdict_export::junit;

use crate::junit_cases::{assert_matches_report, parse};
use crate::sarif_cases::sarif_document;
use crate::scenarios::{self, Scenario};
use crate::support::{ack, completed, connection, identity, running};
use verdict_export::oracles::assert_multitool_valid;

#[derive(Debug, Clone)]
struct Spec {
    status: CheckStatus,
    blocking: bool,
    severity: Severity,
    reason: ReasonCode,
    title: String,
    message: String,
    evidence: Vec<(String, EvidenceValue)>,
    next_steps: Vec<(String, String)>,
}

/// One key's life: its check in the current report, in the previous one, and whether the
/// current one is acknowledged (when it can be: fail or warn on a completed run).
type KeyPlan = (Option<Spec>, Option<Spec>, bool);

#[derive(Debug, Clone)]
struct Case {
    keys: BTreeMap<String, KeyPlan>,
    has_previous: bool,
    with_connection: bool,
    live: bool,
    tenant: i64,
}

/// Text as hostile as a report can carry: anything at all, or markup, CDATA terminators,
/// quotes, control characters and non-characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z <>&\"'\\]\u{1}\u{b}\u{7f}\u{85}\u{fffe}\u{ffff}é✓]{0,60}"]
}

fn spec() -> impl Strategy<Value = Spec> {
    use CheckStatus::{Fail, Pass, Running, Skip, Warn};
    use Severity::{Critical, High, Info, Low, Medium, Unknown};
    let status = prop::sample::select(vec![Pass, Fail, Warn, Skip, Running]);
    let severity = prop::sample::select(vec![Unknown, Info, Low, Medium, High, Critical]);
    let reason = prop::sample::select(REASON_CATALOG.iter().map(|e| e.code).collect::<Vec<_>>())
        .prop_map(|code| ReasonCode::parse(code).unwrap());
    let value = prop_oneof![
        any::<bool>().prop_map(EvidenceValue::Bool),
        any::<i64>().prop_map(EvidenceValue::Int),
        text().prop_map(EvidenceValue::Text),
    ];
    let url = prop_oneof![
        Just("https://learn.microsoft.com/graph".to_owned()),
        "/[a-z/]{0,10}",
        "https://[a-z]{1,8}\\.example/[a-z<>\"%]{0,8}",
        Just("http://insecure.example/".to_owned()),
        Just("javascript:alert(1)".to_owned()),
    ];
    (
        (status, any::<bool>(), severity, reason),
        "[A-Za-z<>&\"' \\]]{0,40}",
        text(),
        prop::collection::vec(("[a-z_.]{1,12}", value), 0..4),
        prop::collection::vec(("[A-Za-z ]{1,10}", url), 0..3),
    )
        .prop_map(|((status, blocking, severity, reason), title, message, evidence, next_steps)| Spec {
            status,
            blocking,
            severity,
            reason,
            title: format!("T{title}"),
            message,
            evidence,
            next_steps,
        })
}

fn case() -> impl Strategy<Value = Case> {
    let plan = (proptest::option::of(spec()), proptest::option::of(spec()), any::<bool>());
    (
        prop::collection::btree_map("[a-z0-9][a-z0-9_.-]{0,12}", plan, 0..10),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        1..4_i64,
    )
        .prop_map(|(keys, has_previous, with_connection, live, tenant)| Case {
            keys,
            has_previous,
            with_connection,
            live,
            tenant,
        })
}

fn build_check(key: &str, spec: &Spec) -> CheckResult {
    let mut check = CheckResult::new(
        CheckKey::parse(key).unwrap(),
        CheckTitle::parse(spec.title.clone()).unwrap(),
        spec.status,
        spec.severity,
        spec.blocking,
        spec.reason,
    )
    .with_message(spec.message.clone());
    for (kind, value) in &spec.evidence {
        check =
            check.with_evidence(Evidence { kind: EvidenceKind::parse(kind.clone()).unwrap(), value: value.clone() });
    }
    for (label, url) in &spec.next_steps {
        check = check.with_next_step(NextStep::new(label.clone(), url.clone()));
    }
    check
}

fn build(case: &Case) -> Scenario {
    let id = identity(case.tenant, case.with_connection.then(connection));
    let checks = |pick: fn(&KeyPlan) -> Option<&Spec>| -> Vec<CheckResult> {
        case.keys.iter().filter_map(|(key, plan)| pick(plan).map(|s| build_check(key, s))).collect()
    };
    if case.live {
        let current = running(&id, checks(|p| p.0.as_ref()));
        return Scenario { name: "generated", current, previous: None, acks: Vec::new() };
    }
    let previous = case.has_previous.then(|| completed(&id, 0, None, checks(|p| p.1.as_ref())).report);
    let current = completed(&id, 1, previous.as_ref(), checks(|p| p.0.as_ref()));
    let acks = case
        .keys
        .iter()
        .filter(|(_, (spec, _, acked))| {
            *acked && spec.as_ref().is_some_and(|s| matches!(s.status, CheckStatus::Fail | CheckStatus::Warn))
        })
        .map(|(key, _)| ack(&current.run, key, "Known <issue> & \"tracked\""))
        .collect();
    Scenario { name: "generated", current, previous, acks }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_reports_export_schema_valid_sarif_and_well_formed_junit(case in case()) {
        let scenario = build(&case);
        let input = scenario.input();
        let sarif = sarif_document(&input);
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let suppressed = results.iter().filter(|r| r.get("suppressions").is_some()).count();
        prop_assert_eq!(suppressed, scenario.acks.len());
        let with_baseline = results.iter().filter(|r| r.get("baselineState").is_some()).count();
        prop_assert_eq!(with_baseline, if scenario.previous.is_some() { results.len() } else { 0 });

        let xml = junit(&input).unwrap();
        let parsed = parse(&xml, input.report().flow().as_str());
        assert_matches_report(&parsed, &scenario.current.report);
    }
}

/// Generated cases drawn with a fixed seed, so every run sends the multitool the same batch.
fn sample(count: usize) -> Vec<Scenario> {
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    (0..count).map(|_| build(&strategy.new_tree(&mut runner).unwrap().current())).collect()
}

#[test]
fn representative_documents_have_no_sarif_multitool_error() {
    let named = scenarios::all().into_iter().map(|s| (s.name.to_owned(), s));
    let generated = sample(24).into_iter().enumerate().map(|(i, s)| (format!("generated-{i}"), s));
    let documents: Vec<(String, Value)> =
        named.chain(generated).map(|(name, scenario)| (name, sarif_document(&scenario.input()))).collect();
    assert_multitool_valid(&documents);
}
