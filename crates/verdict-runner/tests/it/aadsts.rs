//! Precise token failures (docs/contract.md#provider-flow): each AADSTS code of the table gives its own reason code and
//! next step; any other refusal stays `authentication_failed`; the code is evidence, the
//! provider's description never reaches the report.

use serde_json::json;
use verdict_core::domain::{CheckStatus, Overall, ReasonCode};
use verdict_core::flows::keys::{CREDENTIAL_EXPIRY, TOKEN_ACQUISITION};
use verdict_runner::fake::{ERROR_DETAIL_MARKER, TokenError};

use crate::scenarios::assert_dependents_skipped;
use crate::support::{Backend, CONSENT_AUTHORITY, Options, World, check, evidence, on_every_backend, world_with};

/// One row: how the world is set up, and what the token check must say.
struct Row {
    name: &'static str,
    options: fn(Backend) -> Options,
    refuse: Option<TokenError>,
    expire_secret: bool,
    aadsts: &'static str,
    http_status: u16,
    reason: ReasonCode,
    /// The single next step's URL, or the end of it for Verdict's own paths.
    step: fn(&World) -> String,
}

fn plain(backend: Backend) -> Options {
    Options { backend, ..Options::default() }
}

fn connection_path(w: &World) -> String {
    format!("/v1/workspaces/1/tenants/10/provider-connections/{}", w.connection)
}

fn consent_url(w: &World) -> String {
    let tenant = w.provider.tenant();
    format!("{CONSENT_AUTHORITY}/{}/adminconsent?client_id={}", tenant.directory_id, tenant.client_id)
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "secret invalid",
            options: |backend| Options {
                backend,
                client_secret: Some("Wrong~secret-value-0000".to_owned()),
                ..Options::default()
            },
            refuse: None,
            expire_secret: false,
            aadsts: "AADSTS7000215",
            http_status: 401,
            reason: ReasonCode::ENTRA_CLIENT_SECRET_INVALID,
            step: |w| format!("{}/secret", connection_path(w)),
        },
        Row {
            name: "secret expired",
            options: plain,
            refuse: None,
            expire_secret: true,
            aadsts: "AADSTS7000222",
            http_status: 401,
            reason: ReasonCode::ENTRA_CLIENT_SECRET_EXPIRED,
            step: |_| "https://learn.microsoft.com/entra/identity-platform/how-to-add-credentials".to_owned(),
        },
        Row {
            name: "app not in directory",
            options: plain,
            refuse: Some(TokenError::AppNotInDirectory),
            expire_secret: false,
            aadsts: "AADSTS700016",
            http_status: 400,
            reason: ReasonCode::ENTRA_APP_NOT_IN_DIRECTORY,
            step: consent_url,
        },
        Row {
            name: "consent required",
            options: plain,
            refuse: Some(TokenError::ConsentRequired),
            expire_secret: false,
            aadsts: "AADSTS65001",
            http_status: 400,
            reason: ReasonCode::ENTRA_CONSENT_REQUIRED,
            step: consent_url,
        },
        Row {
            name: "app disabled",
            options: plain,
            refuse: Some(TokenError::AppDisabled),
            expire_secret: false,
            aadsts: "AADSTS7000112",
            http_status: 400,
            reason: ReasonCode::ENTRA_APP_DISABLED,
            step: |_| {
                "https://learn.microsoft.com/entra/identity/enterprise-apps/disable-user-sign-in-portal".to_owned()
            },
        },
        Row {
            name: "blocked by conditional access",
            options: plain,
            refuse: Some(TokenError::BlockedByConditionalAccess),
            expire_secret: false,
            aadsts: "AADSTS53003",
            http_status: 400,
            reason: ReasonCode::ENTRA_BLOCKED_BY_CONDITIONAL_ACCESS,
            step: |_| "https://learn.microsoft.com/entra/identity/conditional-access/workload-identity".to_owned(),
        },
        Row {
            name: "unknown directory",
            options: |backend| Options {
                backend,
                directory_id: Some("11111111-2222-4333-8444-555555555555".to_owned()),
                ..Options::default()
            },
            refuse: None,
            expire_secret: false,
            aadsts: "AADSTS90002",
            http_status: 400,
            reason: ReasonCode::MISSING_CONFIGURATION,
            step: connection_path,
        },
        Row {
            name: "a code without a precise cause, named only in the description",
            options: plain,
            refuse: Some(TokenError::Unlisted),
            expire_secret: false,
            aadsts: "AADSTS50058",
            http_status: 400,
            reason: ReasonCode::AUTHENTICATION_FAILED,
            step: connection_path,
        },
    ]
}

async fn every_aadsts_row_has_its_reason_evidence_and_next_step(backend: Backend) {
    for row in rows() {
        let w = world_with((row.options)(backend)).await;
        w.provider.update(|b| {
            b.token_error = row.refuse;
            if row.expire_secret {
                b.expire_secret();
            }
        });
        let run = w.run_once().await;
        let report = run.report.as_ref().unwrap();
        let token = check(report, TOKEN_ACQUISITION);
        let name = row.name;
        assert_eq!((token.status, token.reason_code, token.blocking), (CheckStatus::Fail, row.reason, true), "{name}");
        assert_eq!(evidence(token, "aadsts_code"), Some(json!(row.aadsts)), "{name}");
        assert_eq!(evidence(token, "http_status"), Some(json!(row.http_status)), "{name}");
        assert!(evidence(token, "correlation_id").is_some(), "{name}");
        let steps: Vec<&str> = token.next_steps.iter().map(|s| s.url.as_str()).collect();
        assert_eq!(steps, [(row.step)(&w).as_str()], "{name}: one next step per cause");
        let text = serde_json::to_string(report).unwrap();
        assert!(!text.contains(ERROR_DETAIL_MARKER) && !text.contains("Trace ID"), "{name}: provider text leaked");
        assert_dependents_skipped(report);
        assert_eq!(report.summary().overall, Overall::Blocked, "{name}");
    }
}

/// When the connection knows the date, an expired secret shows both the precise token failure
/// and the date it expired.
async fn an_expired_secret_shows_the_token_failure_and_the_date(backend: Backend) {
    let expired_at = chrono::Utc::now() - chrono::Duration::days(3);
    let w = world_with(Options { backend, secret_expires_at: Some(expired_at), ..Options::default() }).await;
    w.provider.update(|b| b.secret_expires_at = expired_at);
    let report = w.run_once().await.report.unwrap();
    let token = check(&report, TOKEN_ACQUISITION);
    assert_eq!(token.reason_code, ReasonCode::ENTRA_CLIENT_SECRET_EXPIRED);
    let expiry = check(&report, CREDENTIAL_EXPIRY);
    assert_eq!(
        (expiry.status, expiry.reason_code, expiry.blocking),
        (CheckStatus::Fail, ReasonCode::CREDENTIAL_EXPIRED, false)
    );
    assert_eq!(evidence(expiry, "expiry_source"), Some(json!("connection")));
    assert_eq!(evidence(expiry, "days_remaining"), Some(json!(-3)));
    let expected = verdict_core::domain::format_timestamp(expired_at);
    assert_eq!(evidence(expiry, "expires_at"), Some(json!(expected)));
}

on_every_backend!(
    every_aadsts_row_has_its_reason_evidence_and_next_step,
    an_expired_secret_shows_the_token_failure_and_the_date,
);
