//! The provider-connection flow against the simulated tenant: the docs/contract.md#provider-flow scenarios that stay,
//! on the twelve checks of docs/contract.md#provider-flow.

use std::time::{Duration, Instant};

use serde_json::json;
use verdict_core::domain::{CheckStatus, Outcome, Overall, ReasonCode};
use verdict_core::flows::keys::{
    ADMIN_CONSENT, CONFIGURED, CREDENTIAL_EXPIRY, DIRECTORY_GROUPS, GRAPH_INTUNE_REACHABLE, GRAPH_ORGANIZATION,
    INTUNE_APPS, INTUNE_CONFIGURATION, INTUNE_LICENSE, INTUNE_RBAC_ASSIGNMENTS, SCRIPTS_REMEDIATIONS,
    TOKEN_ACQUISITION,
};
use verdict_runner::fake::Reply;

use crate::support::{Backend, Options, check, closed_port_url, evidence, on_every_backend, report, world, world_with};

/// The checks that need the token, and are skipped without one.
pub const AFTER_TOKEN: [&str; 9] = [
    ADMIN_CONSENT,
    DIRECTORY_GROUPS,
    INTUNE_CONFIGURATION,
    INTUNE_APPS,
    INTUNE_RBAC_ASSIGNMENTS,
    SCRIPTS_REMEDIATIONS,
    GRAPH_ORGANIZATION,
    INTUNE_LICENSE,
    GRAPH_INTUNE_REACHABLE,
];

/// Every check that needs the token is skipped; the expiry check still runs (it cannot ask
/// Graph, and this connection does not know the date).
pub fn assert_dependents_skipped(report: &verdict_core::domain::Report) {
    for key in AFTER_TOKEN {
        let skipped = check(report, key);
        assert_eq!(
            (skipped.status, skipped.reason_code),
            (CheckStatus::Skip, ReasonCode::PREREQUISITE_FAILED),
            "{key}"
        );
    }
    let expiry = check(report, CREDENTIAL_EXPIRY);
    assert_eq!((expiry.status, expiry.reason_code), (CheckStatus::Skip, ReasonCode::EXPIRY_UNKNOWN));
}

async fn everything_granted_makes_the_report_ready_in_five_provider_calls(backend: Backend) {
    let w = world(backend).await;
    let run = w.run_once().await;
    let report = report(&run);
    assert_eq!(run.outcome, Outcome::Succeeded);
    assert_eq!(report.summary().overall, Overall::Ready, "{:#?}", report.checks());
    assert_eq!((report.summary().counts.total, report.summary().counts.pass), (12, 12));
    let configured = check(report, CONFIGURED);
    assert_eq!(evidence(configured, "provider_connection_id"), Some(json!(w.connection.to_string())));
    let organization = check(report, GRAPH_ORGANIZATION);
    assert_eq!(evidence(organization, "http_status"), Some(json!(200)));
    assert!(evidence(organization, "graph_request_id").is_some());
    assert_eq!(
        evidence(check(report, INTUNE_APPS), "granted_permission"),
        Some(json!("DeviceManagementApps.Read.All"))
    );
    let expiry = check(report, CREDENTIAL_EXPIRY);
    assert_eq!(evidence(expiry, "expiry_source"), Some(json!("graph")));
    assert_eq!(evidence(check(report, INTUNE_LICENSE), "intune_service_plan"), Some(json!("INTUNE_A")));
    assert_eq!(w.provider.requests(), 5, "a token, the organization, the licence, Intune and the registration");
    assert_eq!(w.provider.requests_to("service_principals"), 0, "no permission is missing: no names are needed");
}

async fn a_token_failure_skips_every_check_that_needs_the_token(backend: Backend) {
    let w = world_with(Options {
        backend,
        client_secret: Some("Wrong~secret-value-0000".to_owned()),
        ..Options::default()
    })
    .await;
    let run = w.run_once().await;
    let report = report(&run);
    let token = check(report, TOKEN_ACQUISITION);
    assert!(token.is_blocker());
    assert_eq!(evidence(token, "http_status"), Some(json!(401)));
    assert_dependents_skipped(report);
    assert_eq!((report.summary().overall, run.outcome), (Overall::Blocked, Outcome::Failed));
    assert_eq!(w.provider.requests(), 1, "nothing but the token request");
}

async fn token_endpoint_throttling_and_outages_warn_without_blocking(backend: Backend) {
    for (status, reason) in [(429, ReasonCode::THROTTLED), (503, ReasonCode::DEPENDENCY_UNREACHABLE)] {
        let w = world(backend).await;
        w.provider.update(|b| b.token = Reply::Status(status));
        let run = w.run_once().await;
        let report = report(&run);
        let token = check(report, TOKEN_ACQUISITION);
        assert_eq!((token.status, token.reason_code, token.blocking), (CheckStatus::Warn, reason, false), "{status}");
        assert_eq!(evidence(token, "http_status"), Some(json!(status)));
        let waited = evidence(token, "retry_after_seconds");
        assert_eq!(waited, (status == 429).then(|| json!(60)), "a Retry-After of 60 s is reported, not waited");
        assert_dependents_skipped(report);
        assert_eq!((report.summary().overall, run.outcome), (Overall::NeedsAttention, Outcome::Succeeded), "{status}");
    }
}

async fn a_refused_connection_is_an_unreachable_dependency(backend: Backend) {
    let w = world_with(Options { backend, authority: Some(closed_port_url().await), ..Options::default() }).await;
    let report = w.run_once().await.report.unwrap();
    let token = check(&report, TOKEN_ACQUISITION);
    assert_eq!((token.status, token.reason_code), (CheckStatus::Warn, ReasonCode::DEPENDENCY_UNREACHABLE));
    assert_eq!(evidence(token, "network_failure"), Some(json!("connection failed")));
    assert_ne!(report.summary().overall, Overall::Blocked);
}

async fn a_hanging_endpoint_is_unreachable_within_the_check_timeout(backend: Backend) {
    let timeout = Duration::from_millis(300);
    let w = world_with(Options { backend, check_timeout: timeout, ..Options::default() }).await;
    w.provider.update(|b| b.organization = Reply::Hang);
    let started = Instant::now();
    let run = w.run_once().await;
    assert!(started.elapsed() < Duration::from_secs(10), "the run must not wait for the hang");
    let report = report(&run);
    let organization = check(report, GRAPH_ORGANIZATION);
    assert_eq!(
        (organization.status, organization.reason_code, organization.blocking),
        (CheckStatus::Warn, ReasonCode::DEPENDENCY_UNREACHABLE, false),
        "the call gives up just before the check's deadline and says why"
    );
    assert_eq!(evidence(organization, "network_failure"), Some(json!("timed out")));
    assert_eq!(check(report, GRAPH_INTUNE_REACHABLE).status, CheckStatus::Pass, "its neighbours are unaffected");
    assert_eq!((report.summary().overall, run.outcome), (Overall::NeedsAttention, Outcome::Succeeded));
}

async fn a_hanging_token_endpoint_skips_the_dependents(backend: Backend) {
    let w = world_with(Options { backend, check_timeout: Duration::from_millis(300), ..Options::default() }).await;
    w.provider.update(|b| b.token = Reply::Hang);
    let report = w.run_once().await.report.unwrap();
    let token = check(&report, TOKEN_ACQUISITION);
    assert_eq!((token.status, token.reason_code), (CheckStatus::Warn, ReasonCode::DEPENDENCY_UNREACHABLE));
    assert_eq!(evidence(token, "network_failure"), Some(json!("timed out")));
    assert_dependents_skipped(&report);
}

async fn an_organization_of_another_directory_is_an_invalid_state(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.organization_id = Some("99999999-8888-4777-8666-555555555555".to_owned()));
    let report = w.run_once().await.report.unwrap();
    let organization = check(&report, GRAPH_ORGANIZATION);
    assert_eq!((organization.status, organization.reason_code), (CheckStatus::Fail, ReasonCode::INVALID_STATE));
    assert!(organization.is_blocker());
    assert_eq!(report.summary().overall, Overall::Blocked);
}

async fn a_token_for_another_directory_is_an_invalid_state(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.token_tenant_id = Some("99999999-8888-4777-8666-555555555555".to_owned()));
    let report = w.run_once().await.report.unwrap();
    let token = check(&report, TOKEN_ACQUISITION);
    assert_eq!((token.status, token.reason_code), (CheckStatus::Fail, ReasonCode::INVALID_STATE));
    assert_dependents_skipped(&report);
}

async fn graph_refusals_are_permission_findings_and_outages_are_warnings(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| {
        b.device_configurations = Reply::Status(403);
        b.organization = Reply::Status(503);
    });
    let report = w.run_once().await.report.unwrap();
    let intune = check(&report, GRAPH_INTUNE_REACHABLE);
    assert_eq!((intune.status, intune.reason_code), (CheckStatus::Fail, ReasonCode::PERMISSION_DENIED));
    assert_eq!(evidence(intune, "http_status"), Some(json!(403)));
    assert!(evidence(intune, "graph_request_id").is_some());
    assert!(intune.next_steps.iter().any(|s| s.url.contains("/adminconsent?client_id=")));
    let organization = check(&report, GRAPH_ORGANIZATION);
    assert_eq!(
        (organization.status, organization.reason_code, organization.blocking),
        (CheckStatus::Warn, ReasonCode::DEPENDENCY_UNREACHABLE, false)
    );
    assert_eq!(w.provider.requests_to("organization"), 2, "the 503 of an idempotent GET is retried once");
    assert_eq!(w.provider.requests_to("device_configurations"), 1, "a 403 never");
}

async fn graph_throttling_warns(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.organization = Reply::Status(429));
    let report = w.run_once().await.report.unwrap();
    let organization = check(&report, GRAPH_ORGANIZATION);
    assert_eq!((organization.status, organization.reason_code), (CheckStatus::Warn, ReasonCode::THROTTLED));
    assert_eq!(evidence(organization, "retry_after_seconds"), Some(json!(60)));
    assert_eq!(w.provider.requests_to("organization"), 1, "a Retry-After beyond 10 s is not waited out");
    assert_eq!(report.summary().overall, Overall::NeedsAttention);
}

on_every_backend!(
    everything_granted_makes_the_report_ready_in_five_provider_calls,
    a_token_failure_skips_every_check_that_needs_the_token,
    token_endpoint_throttling_and_outages_warn_without_blocking,
    a_refused_connection_is_an_unreachable_dependency,
    a_hanging_endpoint_is_unreachable_within_the_check_timeout,
    a_hanging_token_endpoint_skips_the_dependents,
    an_organization_of_another_directory_is_an_invalid_state,
    a_token_for_another_directory_is_an_invalid_state,
    graph_refusals_are_permission_findings_and_outages_are_warnings,
    graph_throttling_warns,
);
