//! `provider_connection.credential_expiry` (docs/contract.md#provider-flow): each band — more than 30 days, 30 or
//! fewer, past — from each source — the connection's `client_secret_expires_at`, the app
//! registration's credential with the secret's hint — and what happens when neither knows.

use chrono::{Duration, Utc};
use serde_json::json;
use verdict_core::domain::{CheckResult, CheckStatus, Overall, ReasonCode, format_timestamp};
use verdict_core::flows::APPLICATION_READ_PERMISSION;
use verdict_core::flows::keys::{CREDENTIAL_EXPIRY, INTUNE_APPS, TOKEN_ACQUISITION};
use verdict_runner::fake::Reply;

use crate::support::{Backend, Options, check, evidence, on_every_backend, world, world_with};

fn assert_band(expiry: &CheckResult, status: CheckStatus, reason: ReasonCode, source: &str, what: &str) {
    assert_eq!((expiry.status, expiry.reason_code, expiry.blocking), (status, reason, false), "{what}: {expiry:#?}");
    assert_eq!(evidence(expiry, "expiry_source"), Some(json!(source)), "{what}");
    assert!(evidence(expiry, "days_remaining").is_some(), "{what}");
    assert!(evidence(expiry, "expires_at").is_some(), "{what}");
}

/// `days` whole days from now, an hour further from now, so the whole days are exactly `days`.
fn in_days(days: i64) -> chrono::DateTime<Utc> {
    Utc::now() + Duration::days(days) + Duration::hours(days.signum())
}

const BANDS: [(i64, CheckStatus, ReasonCode); 3] = [
    (90, CheckStatus::Pass, ReasonCode::OK),
    (12, CheckStatus::Warn, ReasonCode::CREDENTIAL_EXPIRING),
    (-2, CheckStatus::Fail, ReasonCode::CREDENTIAL_EXPIRED),
];

async fn the_connection_s_date_gives_each_band_without_asking_graph(backend: Backend) {
    for (days, status, reason) in BANDS {
        let expires = in_days(days);
        let w = world_with(Options { backend, secret_expires_at: Some(expires), ..Options::default() }).await;
        let report = w.run_once().await.report.unwrap();
        let expiry = check(&report, CREDENTIAL_EXPIRY);
        assert_band(expiry, status, reason, "connection", &format!("{days} days"));
        assert_eq!(evidence(expiry, "days_remaining"), Some(json!(days)), "{days} days");
        assert_eq!(evidence(expiry, "expires_at"), Some(json!(format_timestamp(expires))));
        assert_eq!(w.provider.requests_to("applications"), 0, "the connection knew: Graph was not asked");
    }
}

async fn graph_s_credential_with_the_secret_s_hint_gives_each_band(backend: Backend) {
    for (days, status, reason) in BANDS {
        let w = world(backend).await;
        w.provider.update(|b| {
            b.secret_expires_at = in_days(days);
            // Entra refuses an expired secret; let the token through to see Graph's date for it.
            b.enforce_secret_expiry = false;
        });
        let report = w.run_once().await.report.unwrap();
        let expiry = check(&report, CREDENTIAL_EXPIRY);
        assert_band(expiry, status, reason, "graph", &format!("{days} days"));
        assert_eq!(evidence(expiry, "days_remaining"), Some(json!(days)), "{days} days");
        assert!(evidence(expiry, "graph_request_id").is_some());
        assert_eq!(w.provider.requests_to("applications"), 1);
    }
}

/// An expiring secret needs attention, never blocks.
async fn an_expiring_secret_needs_attention(backend: Backend) {
    let expires = Utc::now() + Duration::days(10);
    let w = world_with(Options { backend, secret_expires_at: Some(expires), ..Options::default() }).await;
    let report = w.run_once().await.report.unwrap();
    assert_eq!(report.summary().overall, Overall::NeedsAttention);
    let expiry = check(&report, CREDENTIAL_EXPIRY);
    assert!(expiry.next_steps.iter().any(|s| s.url.starts_with("https://learn.microsoft.com/")));
}

/// The connection's date is used even when no token can be had.
async fn the_connection_s_date_needs_no_token(backend: Backend) {
    let expires = Utc::now() + Duration::days(20);
    let w = world_with(Options { backend, secret_expires_at: Some(expires), ..Options::default() }).await;
    w.provider.update(|b| b.token = Reply::Status(503));
    let report = w.run_once().await.report.unwrap();
    assert_eq!(check(&report, TOKEN_ACQUISITION).status, CheckStatus::Warn);
    assert_band(
        check(&report, CREDENTIAL_EXPIRY),
        CheckStatus::Warn,
        ReasonCode::CREDENTIAL_EXPIRING,
        "connection",
        "",
    );
}

/// A multi-tenant app's registration lives in its home tenant: Graph answers 404 here, and the
/// connection does not know the date either.
async fn neither_source_knowing_skips_with_a_way_to_make_it_known(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.application = Reply::Status(404));
    let report = w.run_once().await.report.unwrap();
    let expiry = check(&report, CREDENTIAL_EXPIRY);
    assert_eq!((expiry.status, expiry.reason_code), (CheckStatus::Skip, ReasonCode::EXPIRY_UNKNOWN));
    assert_eq!(evidence(expiry, "http_status"), Some(json!(404)));
    assert!(evidence(expiry, "expires_at").is_none() && evidence(expiry, "days_remaining").is_none());
    let step = &expiry.next_steps[0];
    assert!(step.url.ends_with(&format!("{}/secret", w.connection)), "{step:?}");
    assert!(step.label.contains("client_secret_expires_at"), "{step:?}");
    assert_eq!(report.summary().overall, Overall::Ready, "not knowing is no finding");
}

/// Without `Application.Read.All`, Graph answers 403: the expiry is unknown, and no permission
/// state is invented for a missing permission either.
async fn a_refused_registration_read_invents_nothing(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| {
        b.roles.retain(|r| r != APPLICATION_READ_PERMISSION && r != "DeviceManagementApps.Read.All");
    });
    let report = w.run_once().await.report.unwrap();
    let expiry = check(&report, CREDENTIAL_EXPIRY);
    assert_eq!((expiry.status, expiry.reason_code), (CheckStatus::Skip, ReasonCode::EXPIRY_UNKNOWN));
    assert_eq!(evidence(expiry, "http_status"), Some(json!(403)));
    assert!(evidence(expiry, "expires_at").is_none() && evidence(expiry, "expiry_source").is_none());
    let apps = check(&report, INTUNE_APPS);
    assert_eq!(apps.reason_code, ReasonCode::PERMISSION_DENIED);
    assert!(evidence(apps, "permission_state").is_none(), "nothing invented: {apps:#?}");
    assert_eq!(w.provider.requests_to("applications"), 1, "read once for both checks");
}

/// Throttling of the registration read is the provider's condition, reported as such.
async fn a_throttled_registration_read_warns(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.application = Reply::Status(429));
    let report = w.run_once().await.report.unwrap();
    let expiry = check(&report, CREDENTIAL_EXPIRY);
    assert_eq!((expiry.status, expiry.reason_code), (CheckStatus::Warn, ReasonCode::THROTTLED));
    assert_eq!(evidence(expiry, "retry_after_seconds"), Some(json!(60)));
}

on_every_backend!(
    the_connection_s_date_gives_each_band_without_asking_graph,
    graph_s_credential_with_the_secret_s_hint_gives_each_band,
    an_expiring_secret_needs_attention,
    the_connection_s_date_needs_no_token,
    neither_source_knowing_skips_with_a_way_to_make_it_known,
    a_refused_registration_read_invents_nothing,
    a_throttled_registration_read_warns,
);
