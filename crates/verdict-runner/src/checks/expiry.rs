//! `provider_connection.credential_expiry`: when the client secret in use expires, from the
//! first source that knows — the connection's `client_secret_expires_at`, else the app
//! registration's password credential whose hint is the secret's first three characters — and
//! whether that is comfortably far, close (30 days or fewer) or past. Needs no token when the
//! connection knows the date, so an expired secret shows the date beside the token failure.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use verdict_core::domain::{ReasonCode, RunIdentity, format_timestamp};
use verdict_core::flows::{APPLICATION_READ_PERMISSION, CREDENTIAL_EXPIRY_WARNING_DAYS};

use super::failures::{CREATE_SECRET_DOCS, connection_path, provider_condition, with_graph_request_id};
use super::registration::application;
use super::{Probe, acquired_token};
use crate::engine::{CheckContext, CheckOutcome};
use crate::entra::{EntraClient, ProviderError};

/// Where the expiry date came from (evidence `expiry_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Connection,
    Graph,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Graph => "graph",
        }
    }
}

pub(super) struct CredentialExpiry {
    pub entra: Arc<EntraClient>,
}

#[async_trait]
impl Probe for CredentialExpiry {
    async fn run(&self, ctx: &CheckContext) -> anyhow::Result<CheckOutcome> {
        let (Some(connection), Some(secret)) = (ctx.connection(), ctx.secret()) else {
            anyhow::bail!("the expiry check ran without a connection and secret");
        };
        let identity = &ctx.input().identity;
        if let Some(expires_at) = connection.client_secret_expires_at {
            return Ok(judge(expires_at, Source::Connection, Utc::now()));
        }
        let Some(token) = acquired_token(ctx) else {
            return Ok(unknown(identity, "no token could be acquired to ask Microsoft Graph"));
        };
        let read = match application(ctx, &self.entra, &token, connection).await {
            Ok(read) => read,
            Err(error) => return Ok(unreadable(&error, identity)),
        };
        let outcome = match read.body.secret_expiry(secret) {
            Some(expires_at) => judge(expires_at, Source::Graph, Utc::now()),
            None => unknown(identity, "none of the app registration's client secrets is the one stored"),
        };
        Ok(with_graph_request_id(outcome, &read.info))
    }
}

/// Pass, warn or fail by the days left at `now`.
fn judge(expires_at: DateTime<Utc>, source: Source, now: DateTime<Utc>) -> CheckOutcome {
    let days = (expires_at - now).num_days();
    let date = expires_at.format("%Y-%m-%d");
    let outcome = if expires_at <= now {
        CheckOutcome::fail(ReasonCode::CREDENTIAL_EXPIRED, format!("The client secret expired on {date}."))
            .with_next_step(
                "Create a new client secret in Microsoft Entra, then rotate it in Verdict",
                CREATE_SECRET_DOCS,
            )
    } else if days <= CREDENTIAL_EXPIRY_WARNING_DAYS {
        CheckOutcome::warn(
            ReasonCode::CREDENTIAL_EXPIRING,
            format!("The client secret expires on {date}, in {days} days."),
        )
        .with_next_step("Create a new client secret in Microsoft Entra, then rotate it in Verdict", CREATE_SECRET_DOCS)
    } else {
        CheckOutcome::pass(format!("The client secret expires on {date}, in {days} days."))
    };
    outcome
        .with_evidence("expires_at", format_timestamp(expires_at))
        .with_evidence("days_remaining", days)
        .with_evidence("expiry_source", source.as_str())
}

/// Neither source knows.
fn unknown(identity: &RunIdentity, why: &str) -> CheckOutcome {
    CheckOutcome::skip(
        ReasonCode::EXPIRY_UNKNOWN,
        format!("When the client secret expires is not known: the connection does not say, and {why}."),
    )
    .with_next_step(
        format!(
            "Set client_secret_expires_at when rotating the secret, or grant the app {APPLICATION_READ_PERMISSION}"
        ),
        format!("{}/secret", connection_path(identity)),
    )
}

/// The registration could not be read: refused or missing means "unknown"; throttling and
/// outages are the provider's condition.
fn unreadable(error: &ProviderError, identity: &RunIdentity) -> CheckOutcome {
    tracing::info!(error = %error, "the app registration could not be read for the secret's expiry");
    let outcome = match error {
        ProviderError::Refused { status, .. } => {
            unknown(identity, &format!("Microsoft Graph did not return the app registration (HTTP {status})"))
        }
        other => provider_condition(other, "Microsoft Graph", "requests"),
    };
    let outcome = outcome.with_optional_evidence("http_status", error.status());
    match error.info() {
        Some(info) => with_graph_request_id(outcome, info),
        None => outcome,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use verdict_core::domain::{CheckStatus, EvidenceValue};

    use super::*;

    fn status_and_days(expires_in: Duration) -> (CheckStatus, ReasonCode) {
        let now = Utc::now();
        let outcome = judge(now + expires_in, Source::Graph, now);
        (outcome.status(), outcome.reason())
    }

    #[test]
    fn the_bands_are_more_than_30_days_30_or_fewer_and_past() {
        assert_eq!(status_and_days(Duration::days(31)), (CheckStatus::Pass, ReasonCode::OK));
        assert_eq!(
            status_and_days(Duration::days(30) + Duration::hours(12)),
            (CheckStatus::Warn, ReasonCode::CREDENTIAL_EXPIRING),
            "30 whole days left is within the warning"
        );
        assert_eq!(status_and_days(Duration::hours(1)), (CheckStatus::Warn, ReasonCode::CREDENTIAL_EXPIRING));
        assert_eq!(status_and_days(Duration::zero()), (CheckStatus::Fail, ReasonCode::CREDENTIAL_EXPIRED));
        assert_eq!(status_and_days(-Duration::days(400)), (CheckStatus::Fail, ReasonCode::CREDENTIAL_EXPIRED));
    }

    #[test]
    fn the_evidence_names_date_days_and_source() {
        let now = Utc::now();
        let (result, _) = judge(now - Duration::days(3), Source::Connection, now).into_result(&descriptor());
        let kinds: Vec<(&str, &EvidenceValue)> = result.evidence.iter().map(|e| (e.kind.as_str(), &e.value)).collect();
        assert_eq!(kinds[1], ("days_remaining", &EvidenceValue::Int(-3)));
        assert_eq!(kinds[2], ("expiry_source", &EvidenceValue::Text("connection".to_owned())));
        assert_eq!(kinds[0].0, "expires_at");
    }

    fn descriptor() -> verdict_core::domain::CheckDescriptor {
        verdict_core::domain::CheckDescriptor {
            key: verdict_core::domain::CheckKey::from_static("provider_connection.credential_expiry"),
            title: verdict_core::domain::CheckTitle::parse("t").unwrap(),
            severity: verdict_core::domain::Severity::High,
            blocking: false,
        }
    }
}
