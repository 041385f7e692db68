//! The webhook rules of docs/contract.md#continuous-verification as pure functions: which events a completion raises, the
//! payload they carry (safe pointers only, sanitized), the Standard Webhooks signature, and the
//! retry schedule.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

use super::{ChangeState, CheckChange, ReportChange, compare_reports, sanitize_text_in_place};
use crate::domain::{
    Completion, MAX_MESSAGE_CHARS, Overall, Report, RunId, RunIdentity, WebhookEvent, WebhookEventId, WebhookEventType,
    format_timestamp,
};

/// The events a completed report raises, in documented order: always `completed`; `changed`
/// when the fingerprint differs from the previous report's; `regressed` when some check
/// regressed (docs/contract.md#change-rules) or a first report is not `ready`; `recovered` when overall is `ready`
/// and the previous report's was not.
#[must_use]
pub fn raised_events(report: &Report, previous: Option<&Report>) -> Vec<WebhookEventType> {
    raised_by(report, previous, &compare_reports(report, previous))
}

/// [`raised_events`] given the change between the two reports.
fn raised_by(report: &Report, previous: Option<&Report>, change: &ReportChange) -> Vec<WebhookEventType> {
    let ready = report.summary().overall == Overall::Ready;
    let mut events = vec![WebhookEventType::Completed];
    if change.state == ChangeState::Changed {
        events.push(WebhookEventType::Changed);
    }
    let regressed = match previous {
        Some(_) => change.checks.iter().any(|c| c.change == super::CheckChangeKind::Regressed),
        None => !ready,
    };
    if regressed {
        events.push(WebhookEventType::Regressed);
    }
    if ready && previous.is_some_and(|p| p.summary().overall != Overall::Ready) {
        events.push(WebhookEventType::Recovered);
    }
    events
}

/// A payload around its data. The fields are in the order `serde_json::Value` writes an object's
/// keys (sorted), so the text is what serializing the whole payload as one `Value` writes.
#[derive(Serialize)]
struct Envelope<'a> {
    data: &'a Value,
    id: Value,
    timestamp: Value,
    #[serde(rename = "type")]
    event_type: Value,
}

#[derive(Serialize)]
struct PayloadData<'a> {
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<String>,
    run_id: RunId,
    flow: &'a str,
    overall: &'static str,
    outcome: &'static str,
    previous_report_id: Option<RunId>,
    change: PayloadChange<'a>,
    run_url: String,
}

#[derive(Serialize)]
struct PayloadChange<'a> {
    state: ChangeState,
    checks: &'a [CheckChange],
}

/// The events of a completion, each with its sanitized payload, ready for the outbox. `previous`
/// is the report the final report links as previous (`None` for a first report).
#[must_use]
pub fn completion_events(
    run_id: RunId,
    identity: &RunIdentity,
    completion: &Completion,
    previous: Option<&Report>,
) -> Vec<WebhookEvent> {
    let report = completion.report();
    let change = compare_reports(report, previous);
    // The data is the same in every event of the completion: built and sanitized once.
    let data = to_sanitized_value(&PayloadData {
        workspace_id: identity.workspace_id.get(),
        tenant_id: identity.tenant_id.get(),
        provider_connection_id: identity.provider_connection_id.map(|c| c.to_string()),
        run_id,
        flow: identity.flow.as_str(),
        overall: report.summary().overall.as_str(),
        outcome: completion.outcome().as_str(),
        previous_report_id: report.previous_report_id(),
        change: PayloadChange { state: change.state, checks: &change.checks },
        run_url: format!("/v1/runs/{run_id}"),
    });
    let timestamp = to_sanitized_value(&format_timestamp(completion.completed_at()));
    raised_by(report, previous, &change)
        .into_iter()
        .map(|event_type| {
            let id = WebhookEventId::generate();
            let envelope = Envelope {
                data: &data,
                id: to_sanitized_value(&id),
                timestamp: timestamp.clone(),
                event_type: to_sanitized_value(&event_type),
            };
            WebhookEvent {
                id,
                event_type,
                workspace_id: identity.workspace_id,
                run_id,
                payload: serde_json::to_string(&envelope)
                    .unwrap_or_else(|e| unreachable!("serializing a payload of plain values failed: {e}")),
                occurred_at: completion.completed_at(),
            }
        })
        .collect()
}

/// `value` as JSON with every string through [`sanitize_payload`].
fn to_sanitized_value(value: &impl Serialize) -> Value {
    let mut value = serde_json::to_value(value)
        .unwrap_or_else(|e| unreachable!("serializing a payload of plain values failed: {e}"));
    sanitize_payload(&mut value);
    value
}

/// Every string of a payload through the report sanitizer (docs/contract.md#evidence-safety). The payload is built from
/// ids, enums and check keys only, so this changes nothing today; it keeps a future field from
/// carrying a secret out.
pub fn sanitize_payload(value: &mut Value) {
    match value {
        Value::String(text) => sanitize_text_in_place(text, MAX_MESSAGE_CHARS),
        Value::Array(items) => items.iter_mut().for_each(sanitize_payload),
        Value::Object(map) => map.values_mut().for_each(sanitize_payload),
        _ => {}
    }
}

/// The Standard Webhooks signature header value: `v1,` + base64 of HMAC-SHA256, keyed with the
/// secret's bytes, over `"{id}.{timestamp}.{body}"`.
#[must_use]
pub fn sign_webhook(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|e| unreachable!("HMAC accepts keys of any length: {e}"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// How long to wait after each failed attempt (docs/contract.md#continuous-verification): about 5 s, 30 s, 2 min, 10 min, 1 h and
/// 6 h; after the attempt that follows the last pause fails, the delivery is `failed`.
pub const RETRY_BACKOFF: [Duration; 6] = [
    Duration::seconds(5),
    Duration::seconds(30),
    Duration::minutes(2),
    Duration::minutes(10),
    Duration::hours(1),
    Duration::hours(6),
];

/// Attempts a delivery gets in all: the first and one after each pause.
pub const MAX_DELIVERY_ATTEMPTS: u32 = RETRY_BACKOFF.len() as u32 + 1;

/// When to try again after attempt number `attempts` (1-based) failed at `at`, or `None` when
/// it was the last one.
#[must_use]
pub fn next_attempt_after(attempts: u32, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let pause = RETRY_BACKOFF.get(usize::try_from(attempts.checked_sub(1)?).ok()?)?;
    Some(at + *pause)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        CheckStatus, FlowId, ReasonCode, ReportDraft, ReportIdentity, Severity, TenantId, WorkspaceId,
    };
    use crate::rules::test_support::check;
    use CheckStatus::{Fail, Pass, Warn};
    use WebhookEventType::{Changed, Completed, Recovered, Regressed};

    fn report(checks: Vec<crate::domain::CheckResult>) -> Report {
        Report::assemble(ReportDraft {
            report_id: RunId::generate(),
            flow: FlowId::parse("f").unwrap(),
            generated_at: Utc::now(),
            identity: ReportIdentity {
                workspace_id: WorkspaceId::new(1).unwrap(),
                tenant_id: TenantId::new(1).unwrap(),
                provider_connection_id: None,
                entra_tenant_id: None,
            },
            previous_report_id: None,
            checks,
        })
        .unwrap()
    }

    fn pass(key: &str) -> crate::domain::CheckResult {
        check(key, Pass, false, ReasonCode::OK, Severity::High)
    }

    fn warn(key: &str) -> crate::domain::CheckResult {
        check(key, Warn, false, ReasonCode::THROTTLED, Severity::High)
    }

    fn blocker(key: &str) -> crate::domain::CheckResult {
        check(key, Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High)
    }

    #[test]
    fn event_types_follow_the_change_rules() {
        let ready = report(vec![pass("a"), pass("b")]);
        let attention = report(vec![pass("a"), warn("b")]);
        let blocked = report(vec![blocker("a"), warn("b")]);
        let ready_other = report(vec![pass("a"), pass("c")]);
        let table: [(&Report, Option<&Report>, &[WebhookEventType], &str); 8] = [
            (&ready, None, &[Completed], "a first ready report raises only completed"),
            (&attention, None, &[Completed, Regressed], "a first report that is not ready regressed"),
            (&blocked, None, &[Completed, Regressed], "a first blocked report regressed"),
            (&ready, Some(&ready), &[Completed], "unchanged"),
            (&attention, Some(&ready), &[Completed, Changed, Regressed], "a check got worse"),
            (&ready, Some(&attention), &[Completed, Changed, Recovered], "back to ready"),
            (&attention, Some(&blocked), &[Completed, Changed], "better but not ready: neither"),
            (&ready_other, Some(&ready), &[Completed, Changed], "a check added and one removed, all passing"),
        ];
        for (current, previous, expected, rule) in table {
            assert_eq!(raised_events(current, previous), expected, "{rule}");
        }
    }

    #[test]
    fn the_signature_matches_the_standard_webhooks_test_vector() {
        // The published example of the Standard Webhooks specification.
        let secret = base64::engine::general_purpose::STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign_webhook(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn retries_back_off_then_stop() {
        let at = Utc::now();
        let pauses: Vec<i64> = (1..=6).map(|n| (next_attempt_after(n, at).unwrap() - at).num_seconds()).collect();
        assert_eq!(pauses, [5, 30, 120, 600, 3600, 21_600]);
        assert_eq!(next_attempt_after(7, at), None);
        assert_eq!(next_attempt_after(0, at), None);
        assert_eq!(MAX_DELIVERY_ATTEMPTS, 7);
    }

    #[test]
    fn each_payload_is_its_own_object_around_the_completions_data() {
        let ready = report(vec![pass("a"), pass("b")]);
        let attention = report(vec![pass("a"), warn("b")]);
        let identity = RunIdentity {
            flow: FlowId::parse("f").unwrap(),
            workspace_id: WorkspaceId::new(1).unwrap(),
            tenant_id: TenantId::new(1).unwrap(),
            provider_connection_id: None,
        };
        let completion = Completion::new(attention, crate::domain::Ending::Finished, Utc::now(), Some(&ready));
        let run_id = RunId::generate();
        let events = completion_events(run_id, &identity, &completion, Some(&ready));
        assert_eq!(events.iter().map(|e| e.event_type).collect::<Vec<_>>(), [Completed, Changed, Regressed]);
        let values: Vec<Value> = events.iter().map(|e| serde_json::from_str(&e.payload).unwrap()).collect();
        for (event, value) in events.iter().zip(&values) {
            // The text a `Value` of the whole payload writes: compact, every object's keys sorted.
            assert_eq!(value.to_string(), event.payload);
            assert_eq!(value["id"], event.id.to_string());
            assert_eq!(value["type"], serde_json::to_value(event.event_type).unwrap());
            assert_eq!(value["timestamp"], format_timestamp(completion.completed_at()));
            assert_eq!(value["data"], values[0]["data"]);
        }
        assert_eq!(values[0]["data"]["run_url"], format!("/v1/runs/{run_id}"));
        let checks = values[0]["data"]["change"]["checks"].as_array().unwrap();
        assert!(checks.iter().any(|c| c["key"] == "b"), "{checks:?}");
    }

    #[test]
    fn payload_strings_go_through_the_sanitizer() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";
        let mut value = serde_json::json!({"data": {"a": [format!("x {jwt}")], "n": 1}});
        sanitize_payload(&mut value);
        assert_eq!(value, serde_json::json!({"data": {"a": ["x [REDACTED]"], "n": 1}}));
    }
}
