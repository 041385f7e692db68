//! No client secret, access token or provider error text in anything a test can observe: the
//! final reports, the audit events, and every log line any test wrote (captured at TRACE level),
//! after runs through every failure the simulated tenant can show.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use verdict_core::domain::ClientSecret;
use verdict_core::services::{ConnectionService, RotateSecret};
use verdict_runner::fake::{ERROR_DETAIL_MARKER, Garbage, Reply, SIMULATED_TOKEN_HEADER, TokenError};

use crate::support::{Backend, admin, logs, on_every_backend, tenant, world, ws};

/// Every secret any test in this binary hands out.
const TEST_SECRETS: &[&str] = &["Wrong~secret-value-0000", "Wrong~secret-7Hq9xPz2LmN4vB8kR"];

async fn no_secret_or_token_appears_in_reports_audit_events_or_logs(backend: Backend) {
    let w = world(backend).await;
    let accepted_secret = w.provider.tenant().client_secret.clone();
    let mut runs = vec![w.run_once().await];
    let failures: [fn(&mut verdict_runner::fake::Behaviour); 9] = [
        |b| b.device_configurations = Reply::Status(403),
        |b| b.drop_from_manifest("DeviceManagementApps.Read.All"),
        |b| b.roles.retain(|r| !r.starts_with("DeviceManagementRBAC")),
        |b| b.skus.clear(),
        |b| b.organization = Reply::Garbled(Garbage::Html),
        |b| b.organization = Reply::ThrottleOnce { retry_after_seconds: 1 },
        |b| b.token_error = Some(TokenError::AppDisabled),
        |b| b.token_error = Some(TokenError::BlockedByConditionalAccess),
        |b| b.expire_secret(),
    ];
    for failure in failures {
        w.provider.update(|b| {
            *b = verdict_runner::fake::Behaviour::default();
            failure(b);
        });
        runs.push(w.run_once().await);
    }
    w.provider.update(|b| *b = verdict_runner::fake::Behaviour::default());
    let rejected_secret = TEST_SECRETS[1].to_owned();
    let connections = ConnectionService::new(w.ports.clone());
    let permit = connections.authorize_change(&admin(), ws(), tenant(), w.connection).await.unwrap();
    let rotation =
        RotateSecret { client_secret: ClientSecret::parse(rejected_secret).unwrap(), client_secret_expires_at: None };
    connections.rotate_secret(permit, rotation).await.unwrap();
    runs.push(w.run_once().await);

    let mut observed: Vec<(String, String)> = Vec::new();
    for run in &runs {
        observed.push((format!("report {}", run.id), serde_json::to_string(run.report.as_ref().unwrap()).unwrap()));
    }
    for (i, event) in w.audit_json().await.into_iter().enumerate() {
        observed.push((format!("audit event {i}"), event));
    }
    let logs = logs().text();
    assert!(logs.contains(&runs[0].id.to_string()), "the capture works: log lines name the run");
    assert!(logs.contains("token request failed"), "the capture includes the failure path");
    assert!(logs.contains("client_request_id"), "the capture includes the HTTP client's lines");
    observed.push(("logs".to_owned(), logs));

    let tokens = w.provider.issued_tokens();
    assert!(tokens.len() >= 7, "the runs that got a token: {}", tokens.len());
    let mut forbidden: Vec<String> = vec![accepted_secret, ERROR_DETAIL_MARKER.to_owned()];
    forbidden.extend(TEST_SECRETS.iter().map(|s| (*s).to_owned()));
    // Each token, its payload and its signature; and the header every simulated token of every
    // test starts with, which catches any token of any test.
    forbidden.extend(tokens.iter().flat_map(|t| {
        let mut parts: Vec<String> = t.split('.').skip(1).map(str::to_owned).collect();
        parts.push(t.clone());
        parts
    }));
    forbidden.push(URL_SAFE_NO_PAD.encode(SIMULATED_TOKEN_HEADER));
    for (what, text) in &observed {
        for secret in &forbidden {
            assert!(!text.contains(secret.as_str()), "{what} contains a secret-like value");
        }
        assert!(!text.contains("\"hint\""), "{what} mentions a credential hint");
    }
}

on_every_backend!(no_secret_or_token_appears_in_reports_audit_events_or_logs,);
