//! Provider answers that cannot be trusted (docs/contract.md#provider-flow): a garbled body under HTTP 200 is an
//! outage, never a blocker; provider calls get the whole check timeout and no hidden limit below
//! it; an endless body ends with the check; ids of an unexpected shape never reach a report.

use std::time::Duration;

use serde_json::json;
use verdict_core::domain::{CheckResult, CheckStatus, EvidenceValue, Overall, ReasonCode};
use verdict_core::flows::keys::{GRAPH_ORGANIZATION, TOKEN_ACQUISITION};
use verdict_runner::fake::{Garbage, Reply};

use crate::support::{Backend, Options, check, evidence, on_every_backend, report, world, world_with};

const GARBAGE: [Garbage; 5] =
    [Garbage::MalformedJson, Garbage::Html, Garbage::Huge, Garbage::Endless, Garbage::Trickle];

fn assert_outage(result: &CheckResult, what: &str) {
    assert_eq!(
        (result.status, result.reason_code, result.blocking),
        (CheckStatus::Warn, ReasonCode::DEPENDENCY_UNREACHABLE, false),
        "{what}: {result:#?}"
    );
}

async fn a_garbled_token_answer_under_200_is_an_outage_not_a_blocker(backend: Backend) {
    let w = world_with(Options { backend, check_timeout: Duration::from_secs(2), ..Options::default() }).await;
    for garbage in GARBAGE {
        w.provider.update(|b| b.token = Reply::Garbled(garbage));
        let run = w.run_once().await;
        let report = report(&run);
        assert_outage(check(report, TOKEN_ACQUISITION), &format!("{garbage:?}"));
        assert_ne!(report.summary().overall, Overall::Blocked, "{garbage:?}");
    }
}

async fn a_garbled_graph_answer_under_200_is_an_outage_not_a_blocker(backend: Backend) {
    let w = world_with(Options { backend, check_timeout: Duration::from_secs(2), ..Options::default() }).await;
    for garbage in GARBAGE {
        w.provider.update(|b| b.organization = Reply::Garbled(garbage));
        let run = w.run_once().await;
        let report = report(&run);
        let organization = check(report, GRAPH_ORGANIZATION);
        assert_outage(organization, &format!("{garbage:?}"));
        if garbage == Garbage::Trickle {
            // The body never ends: the call ends at the check's deadline, bounded in time and size.
            assert_eq!(evidence(organization, "network_failure"), Some(json!("timed out")));
        } else {
            assert_eq!(evidence(organization, "http_status"), Some(json!(200)), "{garbage:?}");
        }
        assert_eq!(report.summary().overall, Overall::NeedsAttention, "{garbage:?}");
    }
}

/// `verdict serve` builds its Entra client with the defaults; a check timeout above the old
/// hidden 8 s request limit must be honoured.
#[tokio::test]
async fn provider_calls_honour_a_check_timeout_above_eight_seconds() {
    let w =
        world_with(Options { check_timeout: Duration::from_millis(9_500), entra_defaults: true, ..Options::default() })
            .await;
    w.provider.update(|b| b.organization = Reply::Slow(Duration::from_millis(8_500)));
    let report = w.run_once().await.report.unwrap();
    let organization = check(&report, GRAPH_ORGANIZATION);
    assert_eq!(organization.status, CheckStatus::Pass, "{organization:#?}");
}

async fn provider_ids_of_an_unexpected_shape_never_reach_a_report(backend: Backend) {
    let bogus = [
        "7f019947e0e90264e9b4f196d9ede0c7d5a9cde543b188c77dc9c952f14051f4".to_owned(),
        "da39a3ee5e6b4b0d3255bfef95601890afd80709".to_owned(),
        "AKIAIOSFODNN7EXAMPLE".to_owned(),
    ];
    let w = world(backend).await;
    for id in &bogus {
        // A Graph refusal (request-id header) and a token refusal (correlation_id in the body).
        w.provider.update(|b| {
            b.request_id = Some(id.clone());
            b.organization = Reply::Status(403);
            b.token = Reply::Normal;
        });
        let graph = w.run_once().await;
        w.provider.update(|b| b.token = Reply::Status(401));
        let token = w.run_once().await;
        for run in [&graph, &token] {
            let text = serde_json::to_string(report(run)).unwrap();
            assert!(!text.contains(id.as_str()), "{id} reached a report: {text}");
        }
        for (run, key, kind) in
            [(&graph, GRAPH_ORGANIZATION, "graph_request_id"), (&token, TOKEN_ACQUISITION, "correlation_id")]
        {
            let result = check(report(run), key);
            let kept: Vec<&EvidenceValue> =
                result.evidence.iter().filter(|e| e.kind.as_str() == kind).map(|e| &e.value).collect();
            for value in kept {
                let EvidenceValue::Text(text) = value else { panic!("{kind} is text") };
                assert!(uuid::Uuid::try_parse(text).is_ok() && text.len() == 36, "{kind} {text} is a GUID");
            }
        }
    }
}

on_every_backend!(
    a_garbled_token_answer_under_200_is_an_outage_not_a_blocker,
    a_garbled_graph_answer_under_200_is_an_outage_not_a_blocker,
    provider_ids_of_an_unexpected_shape_never_reach_a_report,
);
