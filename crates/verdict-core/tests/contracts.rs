//! Every report core can build validates against the published contract schema, and the
//! rules hold for arbitrary input (property tests).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::Utc;
use proptest::prelude::*;
use serde_json::Value;
use verdict_core::domain::{
    Actor, AuditAction, ChainHash, CheckKey, CheckResult, CheckStatus, CheckTitle, Evidence, EvidenceValue, FlowId,
    NextStep, PendingAuditEvent, REASON_CATALOG, ReasonCode, Report, ReportDraft, ReportIdentity, RunId, RunIdentity,
    Severity, Subject, SubjectType, TenantId, WorkspaceId,
};
use verdict_core::rules::{blocked_stub_report, final_report, fingerprint, live_report, sanitize_check, sanitize_text};

fn contract(name: &str) -> Value {
    let path = format!("{}/../../contracts/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::options().should_validate_formats(true).build(&contract(name)).unwrap()
}

static REPORT_SCHEMA: LazyLock<jsonschema::Validator> =
    LazyLock::new(|| validator("verification-report.v1_5.schema.json"));

fn assert_valid(validator: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{instance:#}");
}

fn identity() -> RunIdentity {
    RunIdentity {
        flow: FlowId::parse("provider.connection.check").unwrap(),
        workspace_id: WorkspaceId::new(1).unwrap(),
        tenant_id: TenantId::new(10).unwrap(),
        provider_connection_id: None,
    }
}

fn draft(checks: Vec<CheckResult>) -> ReportDraft {
    ReportDraft {
        report_id: RunId::generate(),
        flow: FlowId::parse("provider.connection.check").unwrap(),
        generated_at: Utc::now(),
        identity: ReportIdentity {
            workspace_id: WorkspaceId::new(1).unwrap(),
            tenant_id: TenantId::new(i64::MAX).unwrap(),
            provider_connection_id: Some(verdict_core::domain::ProviderConnectionId::generate()),
            entra_tenant_id: verdict_core::domain::DirectoryId::parse("6F1C9B6E-3C4A-4C1E-9F5E-0A1B2C3D4E5F").ok(),
        },
        previous_report_id: Some(RunId::generate()),
        checks,
    }
}

fn status() -> impl Strategy<Value = CheckStatus> {
    prop_oneof![
        Just(CheckStatus::Pass),
        Just(CheckStatus::Fail),
        Just(CheckStatus::Warn),
        Just(CheckStatus::Skip),
        Just(CheckStatus::Running)
    ]
}

fn severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Unknown),
        Just(Severity::Info),
        Just(Severity::Low),
        Just(Severity::Medium),
        Just(Severity::High),
        Just(Severity::Critical)
    ]
}

fn reason() -> impl Strategy<Value = ReasonCode> {
    (0..REASON_CATALOG.len()).prop_map(|i| ReasonCode::parse(REASON_CATALOG[i].code).unwrap())
}

fn evidence() -> impl Strategy<Value = Evidence> {
    let value = prop_oneof![
        any::<String>().prop_map(EvidenceValue::Text),
        any::<i64>().prop_map(EvidenceValue::Int),
        any::<bool>().prop_map(EvidenceValue::Bool),
    ];
    ("[a-z0-9_.]{1,64}", value).prop_map(|(kind, value)| Evidence::new(&kind, value).unwrap())
}

fn next_step() -> impl Strategy<Value = NextStep> {
    let url = prop_oneof![
        "https://[a-z]{1,12}\\.example/[a-zA-Z0-9/_.-]{0,30}(\\?[a-z_]{1,8}=[a-zA-Z0-9]{0,12}){0,3}",
        "/[a-z0-9/_-]{0,40}",
        any::<String>(),
        "(http|javascript|ftp|data):[^ ]{0,30}",
    ];
    (any::<String>(), url).prop_map(|(label, url)| NextStep::new(label, url))
}

fn check() -> impl Strategy<Value = CheckResult> {
    (
        "[a-z0-9][a-z0-9_.-]{0,40}",
        "\\PC{1,130}",
        status(),
        severity(),
        any::<bool>(),
        reason(),
        any::<String>(),
        proptest::collection::vec(evidence(), 0..40),
        proptest::collection::vec(next_step(), 0..10),
    )
        .prop_filter_map(
            "title must be valid",
            |(key, title, status, severity, blocking, reason, message, ev, ns)| {
                let title = CheckTitle::parse(title).ok()?;
                let mut check =
                    CheckResult::new(CheckKey::parse(key).unwrap(), title, status, severity, blocking, reason)
                        .with_message(message);
                check.evidence = ev;
                check.next_steps = ns;
                Some(check)
            },
        )
}

/// Only the outcome line varies: cheap to generate, for the rules that read nothing else.
fn outcome_check() -> impl Strategy<Value = CheckResult> {
    ("[a-z0-9][a-z0-9_.-]{0,12}", status(), severity(), any::<bool>(), reason()).prop_map(
        |(key, status, severity, blocking, reason)| {
            CheckResult::new(
                CheckKey::parse(key).unwrap(),
                CheckTitle::parse("t").unwrap(),
                status,
                severity,
                blocking,
                reason,
            )
        },
    )
}

fn unique_outcome_checks() -> impl Strategy<Value = Vec<CheckResult>> {
    proptest::collection::vec(outcome_check(), 0..30).prop_map(dedupe)
}

fn dedupe(checks: Vec<CheckResult>) -> Vec<CheckResult> {
    let mut by_key = BTreeMap::new();
    for c in checks {
        by_key.entry(c.key.clone()).or_insert(c);
    }
    by_key.into_values().collect()
}

fn unique_checks() -> impl Strategy<Value = Vec<CheckResult>> {
    proptest::collection::vec(check(), 0..20).prop_map(dedupe)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_generated_report_validates_against_the_contract(checks in unique_checks()) {
        let report = Report::assemble(draft(checks)).unwrap();
        let json = report.to_json();
        assert_valid(&REPORT_SCHEMA, &json);
        let back: Report = serde_json::from_value(json).unwrap();
        prop_assert_eq!(back, report);
    }

    #[test]
    fn counts_always_sum_to_total(checks in unique_outcome_checks()) {
        let report = Report::assemble(draft(checks.clone())).unwrap();
        let c = report.summary().counts;
        prop_assert_eq!(c.pass + c.fail + c.warn + c.skip + c.running, c.total);
        prop_assert_eq!(c.total as usize, checks.len());
    }

    #[test]
    fn fingerprint_is_invariant_under_check_order(checks in unique_outcome_checks().prop_shuffle()) {
        let mut sorted = checks.clone();
        sorted.sort_by(|a, b| a.key.cmp(&b.key));
        prop_assert_eq!(fingerprint(&checks), fingerprint(&sorted));
    }

    #[test]
    fn sanitizer_is_idempotent_and_bounded(text in any::<String>(), max in 1usize..600) {
        let once = sanitize_text(&text, max);
        prop_assert!(once.chars().count() <= max);
        prop_assert_eq!(sanitize_text(&once, max), once.clone());
        prop_assert!(!once.chars().any(char::is_control));
    }

    #[test]
    fn sanitized_checks_are_a_fixed_point(check in check()) {
        let once = sanitize_check(check);
        prop_assert_eq!(sanitize_check(once.clone()), once);
    }

    #[test]
    fn sanitizer_never_lets_a_secret_through(
        prefix in "[a-z ,.:()]{0,40}",
        suffix in "[a-z ,.:()]{0,40}",
        secret in "[A-Z][0-9][A-Za-z0-9]{6,30}",
        form in 0..6usize,
        key in "(client_secret|access_token|password|api_key|refresh_token|Authorization|x-ms-assertion)",
    ) {
        let planted = match form {
            0 => format!("eyJhbGciOi.{secret}.c2ln"),
            1 => format!("Bearer {secret}"),
            2 => format!("bearer {secret}.x"),
            3 => format!("{key}={secret}"),
            4 => format!("\"{key}\": \"{secret}\""),
            _ => format!("{key}: {secret}"),
        };
        let text = format!("{prefix} {planted} {suffix}");
        let clean = sanitize_text(&text, 10_000);
        prop_assert!(!clean.contains(&secret), "{text:?} -> {clean:?}");
        let check = CheckResult::new(
            CheckKey::parse("k").unwrap(), CheckTitle::parse("t").unwrap(),
            CheckStatus::Fail, Severity::High, false, ReasonCode::AUTHENTICATION_FAILED,
        )
        .with_message(text.clone())
        .with_evidence(Evidence::new(&key.to_ascii_lowercase().replace('-', "_"), secret.clone()).unwrap())
        .with_evidence(Evidence::new("detail", text).unwrap());
        let json = serde_json::to_string(&sanitize_check(check)).unwrap();
        prop_assert!(!json.contains(&secret), "{json}");
    }
}

#[test]
fn lifecycle_reports_validate_against_the_contract() {
    let identity = identity();
    let flow = verdict_core::flows::provider_connection_check().unwrap();
    let stub = blocked_stub_report(RunId::generate(), &identity, None, "No connection.", Utc::now(), None);
    let live = live_report(RunId::generate(), &identity, None, &flow, Utc::now()).unwrap();
    let abandoned =
        final_report(live.to_draft(), verdict_core::domain::Ending::Abandoned, Utc::now(), Some(RunId::generate()))
            .unwrap();
    for report in [stub, live, abandoned] {
        assert_valid(&REPORT_SCHEMA, &report.to_json());
    }
}

#[test]
fn schema_examples_validate_and_parse_as_reports() {
    let schema = contract("verification-report.v1_5.schema.json");
    let examples = schema["examples"].as_array().expect("the report schema carries examples");
    assert!(!examples.is_empty());
    for example in examples {
        assert_valid(&REPORT_SCHEMA, example);
        let report: Report = serde_json::from_value(example.clone()).expect("examples are reports core accepts");
        assert_eq!(&report.to_json()["fingerprint"], &example["fingerprint"]);
    }
}

#[test]
fn the_schema_rejects_what_core_rejects() {
    let report = Report::assemble(draft(vec![])).unwrap().to_json();
    let mut cases = Vec::new();
    let mut extra = report.clone();
    extra["extra"] = Value::Bool(true);
    cases.push(extra);
    let mut bad_fp = report.clone();
    bad_fp["fingerprint"] = "XYZ".into();
    cases.push(bad_fp);
    let mut bad_version = report.clone();
    bad_version["schema_version"] = "2.0.0".into();
    cases.push(bad_version);
    let mut missing_previous = report;
    missing_previous.as_object_mut().unwrap().remove("previous_report_id");
    cases.push(missing_previous);
    for case in cases {
        assert!(!REPORT_SCHEMA.is_valid(&case), "{case:#}");
        assert!(serde_json::from_value::<Report>(case).is_err());
    }
}

#[test]
fn audit_events_validate_against_the_contract() {
    let validator = validator("audit-event.schema.json");
    let mut metadata = serde_json::Map::new();
    metadata.insert("flow".into(), "provider.connection.check".into());
    for (tenant, actor) in [
        (Some(TenantId::new(10).unwrap()), Actor::runner()),
        (None, Actor::User(verdict_core::domain::UserId::parse("user-42").unwrap())),
    ] {
        let event = PendingAuditEvent::new(
            Utc::now(),
            WorkspaceId::new(1).unwrap(),
            tenant,
            actor,
            AuditAction::VerificationCompleted,
            Subject { kind: SubjectType::OperationRun, id: RunId::generate().to_string() },
            metadata.clone(),
        )
        .seal(1, ChainHash::genesis());
        assert_valid(&validator, &event.to_json());
    }
    let schema = contract("audit-event.schema.json");
    for example in schema["examples"].as_array().into_iter().flatten() {
        assert_valid(&validator, example);
    }
}

#[test]
fn request_schema_examples_validate() {
    for name in [
        "start-verification.request.schema.json",
        "acknowledge-check.request.schema.json",
        "provider-connection.request.schema.json",
        "provider-connection-secret.request.schema.json",
        "error.schema.json",
        "schedule.request.schema.json",
        "webhook.request.schema.json",
        "webhook-event.schema.json",
    ] {
        let schema = contract(name);
        let validator = validator(name);
        let examples = schema["examples"].as_array().unwrap_or_else(|| panic!("{name} has examples"));
        for example in examples {
            assert_valid(&validator, example);
        }
    }
}

/// Characters that stress the trimming and control-character rules: plain letters, spaces,
/// Unicode whitespace, control characters (some of them whitespace too) and the byte-order mark.
fn tricky_text() -> impl Strategy<Value = String> {
    let alphabet = prop::sample::select(vec![
        'a', 'Z', '7', ' ', '\t', '\n', '\r', '\u{0b}', '\u{0c}', '\u{85}', '\u{a0}', '\u{2003}', '\u{3000}', '\u{0}',
        '\u{1f}', '\u{7f}', '\u{9f}', '\u{feff}', 'é', '😀',
    ]);
    prop::collection::vec(alphabet, 0..200).prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The contract and the server accept exactly the same acknowledgement reasons.
    #[test]
    fn the_ack_reason_pattern_is_the_server_s_rule(reason in tricky_text()) {
        let schema = validator("acknowledge-check.request.schema.json");
        let body = serde_json::json!({"check_key": "a", "ack_reason": reason});
        prop_assert_eq!(schema.is_valid(&body), verdict_core::domain::AckReason::parse(&reason).is_ok(), "{:?}", reason);
    }

    /// The contract and the server accept exactly the same display names.
    #[test]
    fn the_display_name_pattern_is_the_server_s_rule(name in tricky_text()) {
        let schema = validator("provider-connection.request.schema.json");
        let body = serde_json::json!({"display_name": name, "entra_tenant_id": "6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f",
            "client_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "client_secret": "s"});
        prop_assert_eq!(schema.is_valid(&body), verdict_core::domain::DisplayName::parse(&name).is_ok(), "{:?}", name);
    }

    /// The contract and the server accept exactly the same client secrets.
    #[test]
    fn the_client_secret_pattern_is_the_server_s_rule(secret in tricky_text()) {
        let schema = validator("provider-connection-secret.request.schema.json");
        let body = serde_json::json!({"client_secret": secret});
        let server = verdict_core::domain::ClientSecret::parse(secret.clone()).is_ok();
        prop_assert_eq!(schema.is_valid(&body), server, "{:?}", secret);
    }

    /// The contract and the server accept exactly the same ids: canonical lowercase UUIDs.
    #[test]
    fn the_uuid_pattern_is_the_server_s_rule(uuid in any::<u128>(), upper in any::<bool>(), braces in any::<bool>()) {
        let mut text = uuid::Uuid::from_u128(uuid).hyphenated().to_string();
        if upper { text = text.to_uppercase(); }
        if braces { text = format!("{{{text}}}"); }
        let schema = validator("start-verification.request.schema.json");
        let body = serde_json::json!({"flow": "provider.connection.check", "provider_connection_id": text});
        let server = text.parse::<verdict_core::domain::ProviderConnectionId>().is_ok();
        prop_assert_eq!(schema.is_valid(&body), server, "{}", text);
    }
}

#[test]
fn the_audit_contract_lists_every_action_and_subject_type() {
    let schema = contract("audit-event.schema.json");
    let listed = |pointer: &str| -> Vec<String> {
        schema
            .pointer(pointer)
            .and_then(Value::as_array)
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let actions: Vec<String> = AuditAction::ALL.iter().map(|a| a.as_str().to_owned()).collect();
    assert_eq!(listed("/properties/action/enum"), actions);
    let subjects: Vec<String> = SubjectType::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(listed("/properties/subject/properties/type/enum"), subjects);
}

#[test]
fn webhook_payloads_validate_against_the_contract() {
    use verdict_core::domain::{Completion, Ending, ProviderConnectionId, WebhookEventType};
    let validator = validator("webhook-event.schema.json");
    let mut identity = identity();
    identity.provider_connection_id = Some(ProviderConnectionId::generate());
    let mut types = std::collections::BTreeSet::new();
    let passing = vec![CheckResult::new(
        verdict_core::domain::CheckKey::parse("a").unwrap(),
        verdict_core::domain::CheckTitle::parse("A").unwrap(),
        CheckStatus::Pass,
        verdict_core::domain::Severity::High,
        false,
        verdict_core::domain::ReasonCode::OK,
    )];
    let failing = vec![CheckResult::new(
        verdict_core::domain::CheckKey::parse("a").unwrap(),
        verdict_core::domain::CheckTitle::parse("A").unwrap(),
        CheckStatus::Fail,
        verdict_core::domain::Severity::High,
        true,
        verdict_core::domain::ReasonCode::PERMISSION_DENIED,
    )];
    let first = Report::assemble(draft(failing.clone())).unwrap();
    let mut next_draft = draft(passing);
    next_draft.previous_report_id = Some(first.report_id());
    let second = Report::assemble(next_draft).unwrap();
    for (report, previous) in [(&first, None), (&second, Some(&first))] {
        let completion = Completion::new(report.clone(), Ending::Finished, Utc::now(), previous);
        let run = report.report_id();
        for event in verdict_core::rules::completion_events(run, &identity, &completion, previous) {
            let payload: Value = serde_json::from_str(&event.payload).unwrap();
            assert_valid(&validator, &payload);
            assert_eq!(payload["type"], event.event_type.as_str());
            types.insert(event.event_type);
        }
    }
    assert_eq!(types.len(), WebhookEventType::ALL.len(), "every type was produced and validated: {types:?}");
}
