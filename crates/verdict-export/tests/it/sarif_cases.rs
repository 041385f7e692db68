//! The SARIF mapping of docs/contract.md#exports, case by case, on the serialized document a client receives.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use verdict_core::domain::{CheckStatus, ReasonCode, Severity};
use verdict_export::{ExportError, ExportInput, sarif_json};

use crate::scenarios::{self, Scenario, acknowledged, baseline, every_status};
use crate::support::{ack, check, completed, connection, identity};
use verdict_export::oracles::assert_schema_valid;

pub fn sarif_document(input: &ExportInput<'_>) -> Value {
    let document: Value = serde_json::from_str(&sarif_json(input).unwrap()).unwrap();
    assert_schema_valid(&document);
    document
}

fn results(document: &Value) -> &Vec<Value> {
    document["runs"][0]["results"].as_array().unwrap()
}

fn result<'a>(document: &'a Value, key: &str) -> &'a Value {
    results(document).iter().find(|r| r["ruleId"] == key).unwrap_or_else(|| panic!("no result for {key}"))
}

fn rule<'a>(document: &'a Value, key: &str) -> &'a Value {
    let rules = document["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    rules.iter().find(|r| r["id"] == key).unwrap_or_else(|| panic!("no rule for {key}"))
}

#[test]
fn every_scenario_is_schema_valid_and_indexes_its_rules() {
    for scenario in scenarios::all() {
        let document = sarif_document(&scenario.input());
        let rules = document["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
        for result in results(&document) {
            let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
            assert_eq!(
                rules[index]["id"], result["ruleId"],
                "{}: ruleIndex points at the result's rule",
                scenario.name
            );
        }
        let current = scenario.current.report.checks();
        let absent = scenario
            .previous
            .as_ref()
            .map_or(0, |p| p.checks().iter().filter(|c| !current.iter().any(|k| k.key == c.key)).count());
        assert_eq!(results(&document).len(), current.len() + absent, "{}: one result per check", scenario.name);
        assert_eq!(rules.len(), current.len() + absent, "{}: one rule per key", scenario.name);
    }
}

#[test]
fn document_header_tool_and_run_properties() {
    let scenario = acknowledged();
    let document = sarif_document(&scenario.input());
    let report = &scenario.current.report;
    assert_eq!(document["version"], "2.1.0");
    assert_eq!(document["$schema"], verdict_export::SARIF_SCHEMA_URI);
    assert_eq!(document["runs"].as_array().unwrap().len(), 1, "one run");
    let run = &document["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "Verdict");
    assert_eq!(run["tool"]["driver"]["semanticVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        run["properties"],
        json!({
            "report_id": report.report_id().to_string(),
            "fingerprint": report.fingerprint().as_str(),
            "overall": "blocked",
        })
    );
    assert_eq!(run["automationDetails"], json!({"id": "provider.connection.check/7/10/none/"}));
    assert_eq!(results(&document).len(), report.checks().len(), "one result per check, no baseline");
}

#[test]
fn rules_carry_title_severity_blocking_level_and_the_first_https_next_step() {
    let scenario = acknowledged();
    let document = sarif_document(&scenario.input());
    assert_eq!(
        rule(&document, "b.blocker"),
        &json!({
            "id": "b.blocker",
            "name": "Check b.blocker",
            // The relative next step comes first and is skipped.
            "helpUri": "https://login.microsoftonline.com/common/adminconsent",
            "properties": {"severity": "critical", "blocking": true},
            "defaultConfiguration": {"level": "error"},
        })
    );
    let unknown = rule(&document, "e.fail-unknown");
    assert!(unknown.get("helpUri").is_none(), "no https next step, no helpUri");
    assert_eq!(unknown["properties"], json!({"severity": "", "blocking": false}));
    assert_eq!(unknown["defaultConfiguration"]["level"], "note");
    assert_eq!(rule(&document, "c.fail-medium")["defaultConfiguration"]["level"], "warning");
    assert_eq!(rule(&document, "f.warn")["defaultConfiguration"]["level"], "error", "high severity");
}

#[test]
fn kinds_and_levels_follow_the_status_table() {
    let scenario = acknowledged();
    let document = sarif_document(&scenario.input());
    for (key, kind, level) in [
        ("a.pass", "pass", "none"),
        ("b.blocker", "fail", "error"),
        ("c.fail-medium", "fail", "warning"),
        ("d.fail-low", "fail", "note"),
        ("e.fail-unknown", "fail", "note"),
        ("f.warn", "review", "warning"),
        ("g.skip", "notApplicable", "none"),
    ] {
        let r = result(&document, key);
        assert_eq!((r["kind"].as_str(), r["level"].as_str()), (Some(kind), Some(level)), "{key}");
    }
    let live = scenarios::all().into_iter().find(|s| s.name == "live").unwrap();
    let document = sarif_document(&live.input());
    let r = result(&document, "b.running");
    assert_eq!((r["kind"].as_str(), r["level"].as_str()), (Some("open"), Some("none")), "running");
}

#[test]
fn results_carry_message_reason_evidence_and_one_location() {
    let scenario = acknowledged();
    let document = sarif_document(&scenario.input());
    let blocker = result(&document, "b.blocker");
    assert_eq!(blocker["message"], json!({"text": "Permission DeviceManagementApps.Read.All is not granted."}));
    assert_eq!(
        blocker["properties"],
        json!({
            "reason_code": "permission_denied",
            "evidence": [
                {"kind": "permission", "value": "DeviceManagementApps.Read.All"},
                {"kind": "http_status", "value": 403},
            ],
        })
    );
    assert_eq!(
        blocker["locations"],
        json!([{
            "physicalLocation": {"artifactLocation": {"uri": "verdict/7/10/none"}},
            "logicalLocations": [{"name": "b.blocker", "kind": "object"}],
        }])
    );
    assert_eq!(result(&document, "d.fail-low")["message"]["text"], "Check d.fail-low", "empty message: the title");

    let with_connection = baseline();
    let document = sarif_document(&with_connection.input());
    let uri = &result(&document, "same")["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    assert_eq!(uri, &json!(format!("verdict/7/10/{}", connection())));
    assert_eq!(
        document["runs"][0]["automationDetails"]["id"],
        format!("provider.connection.check/7/10/{}/", connection())
    );
}

#[test]
fn baseline_states_new_unchanged_updated_and_absent() {
    let scenario = baseline();
    let document = sarif_document(&scenario.input());
    let states: Vec<(&str, &str)> = results(&document)
        .iter()
        .map(|r| (r["ruleId"].as_str().unwrap(), r["baselineState"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("same", "unchanged"), ("worse", "updated"), ("fresh", "new"), ("gone", "absent")]);

    let gone = result(&document, "gone");
    assert_eq!(gone["message"]["text"], "Credentials rejected.", "the absent result is the previous one");
    assert_eq!((gone["kind"].as_str(), gone["level"].as_str()), (Some("fail"), Some("error")));
    assert_eq!(gone["ruleIndex"], 3, "absent keys get rules after the current report's");
    assert_eq!(rule(&document, "gone")["helpUri"], "https://portal.azure.com/rotate");
    assert!(gone.get("suppressions").is_none());
}

#[test]
fn without_a_previous_report_there_is_no_baseline_state() {
    let document = sarif_document(&acknowledged().input());
    assert!(results(&document).iter().all(|r| r.get("baselineState").is_none()));
}

#[test]
fn an_acknowledgement_becomes_an_accepted_external_suppression() {
    let scenario = acknowledged();
    let document = sarif_document(&scenario.input());
    assert_eq!(
        result(&document, "b.blocker")["suppressions"],
        json!([{"kind": "external", "status": "accepted", "justification": "Vendor ticket <4711> & \"known\" ]]>"}])
    );
    assert_eq!(result(&document, "f.warn")["suppressions"][0]["justification"], "Expected during migration");
    let unacknowledged = results(&document).iter().filter(|r| r.get("suppressions").is_none()).count();
    assert_eq!(unacknowledged, scenario.current.report.checks().len() - 2);
    assert_eq!(result(&document, "b.blocker")["kind"], "fail", "no greenwashing: still a failure");
}

fn fingerprints(scenario: &Scenario) -> Vec<(String, String)> {
    let document = sarif_document(&scenario.input());
    results(&document)
        .iter()
        .map(|r| {
            let fp = r["partialFingerprints"]["verdictCheck/v1"].as_str().unwrap().to_owned();
            (r["ruleId"].as_str().unwrap().to_owned(), fp)
        })
        .collect()
}

#[test]
fn partial_fingerprints_are_stable_per_identity_and_differ_across_identities() {
    let checks = || vec![check("a", CheckStatus::Pass, false, Severity::Info, ReasonCode::OK)];
    let id = identity(10, None);
    let first = completed(&id, 0, None, checks());
    let mut changed = checks();
    changed[0].status = CheckStatus::Fail;
    let second = completed(&id, 1, Some(&first.report), changed);
    let other = completed(&identity(11, None), 0, None, checks());
    let scenario = |current, previous| Scenario { name: "fp", current, previous, acks: Vec::new() };
    let [first, second, other] = [
        fingerprints(&scenario(first.clone(), None)),
        fingerprints(&scenario(second, Some(first.report))),
        fingerprints(&scenario(other, None)),
    ];
    assert_eq!(first, second, "same identity, same key: same fingerprint whatever the outcome");
    assert_ne!(first[0].1, other[0].1, "another tenant: another fingerprint");
    let expected = hex::encode(Sha256::digest(format!("{}|a", id.hash()).as_bytes()));
    assert_eq!(first[0].1, expected, "sha256(run_identity_hash + \"|\" + key)");
}

#[test]
fn invocations_say_whether_the_run_finished() {
    let by_name = |name: &str| scenarios::all().into_iter().find(|s| s.name == name).unwrap();
    for (name, successful) in [("every-status", true), ("blocked-stub", true), ("abandoned", false), ("live", false)] {
        let scenario = by_name(name);
        let document = sarif_document(&scenario.input());
        let invocation = &document["runs"][0]["invocations"][0];
        assert_eq!(invocation["executionSuccessful"], successful, "{name}");
        let run = &scenario.current.run;
        let start = verdict_core::domain::format_timestamp(run.started_at.unwrap());
        assert_eq!(invocation["startTimeUtc"], start, "{name}");
        match run.completed_at {
            Some(end) => assert_eq!(invocation["endTimeUtc"], verdict_core::domain::format_timestamp(end)),
            None => assert!(invocation.get("endTimeUtc").is_none(), "{name}: not finished, no end time"),
        }
    }
}

#[test]
fn rows_that_do_not_belong_together_are_refused() {
    let id = identity(10, None);
    let first = completed(&id, 0, None, every_status());
    let second = completed(&id, 1, Some(&first.report), every_status());
    let unrelated = completed(&id, 2, None, every_status());

    let err = ExportInput::new(&second.run, &first.report, None, &[]).unwrap_err();
    assert!(matches!(err, ExportError::ReportOfAnotherRun { .. }), "{err}");
    let err = ExportInput::new(&second.run, &second.report, Some(&unrelated.report), &[]).unwrap_err();
    assert!(matches!(err, ExportError::NotThePreviousReport { .. }), "{err}");
    let err = ExportInput::new(&first.run, &first.report, Some(&unrelated.report), &[]).unwrap_err();
    assert!(matches!(err, ExportError::NotThePreviousReport { linked: None, .. }), "{err}");
    let foreign = [ack(&first.run, "b.blocker", "elsewhere")];
    let err = ExportInput::new(&second.run, &second.report, Some(&first.report), &foreign).unwrap_err();
    assert!(matches!(err, ExportError::AcknowledgementOfAnotherRun { .. }), "{err}");
    assert!(ExportInput::new(&second.run, &second.report, None, &[]).is_ok(), "an unloadable previous: no baseline");
}

#[test]
fn a_link_that_is_no_rfc_3986_uri_is_not_a_help_uri() {
    use verdict_core::domain::NextStep;
    let checks = vec![
        check("a", CheckStatus::Fail, false, Severity::High, ReasonCode::INVALID_STATE)
            .with_next_step(NextStep::new("Stray percent", "https://a.example/%"))
            .with_next_step(NextStep::new("Pipe", "https://a.example/a|b"))
            .with_next_step(NextStep::new("Fine", "https://learn.microsoft.com/ok")),
        check("b", CheckStatus::Fail, false, Severity::High, ReasonCode::INVALID_STATE)
            .with_next_step(NextStep::new("Stray percent", "https://a.example/%")),
    ];
    let stored = completed(&identity(10, None), 0, None, checks);
    let urls: Vec<&str> = stored.report.checks()[0].next_steps.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(
        urls,
        ["https://a.example/%", "https://a.example/a|b", "https://learn.microsoft.com/ok"],
        "stored as given"
    );
    let scenario = Scenario { name: "links", current: stored, previous: None, acks: Vec::new() };
    let document = sarif_document(&scenario.input());
    assert_eq!(rule(&document, "a")["helpUri"], "https://learn.microsoft.com/ok");
    assert!(rule(&document, "b").get("helpUri").is_none());
}
