//! Request and response bodies. Requests parse straight into domain types (an invalid value
//! cannot get past deserialization) and reject unknown fields; responses never carry a secret.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use verdict_core::domain::{
    AckReason, CheckKey, ClientId, ClientSecret, DirectoryId, DisplayName, FlowId, ProviderConnection,
    ProviderConnectionId, Run, RunId, RunSummary, UserId, timestamp_serde,
};
use verdict_core::services::{AcknowledgementView, RunView};

/// `POST …/verifications`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartVerificationRequest {
    /// The flow to run, e.g. `provider.connection.check`.
    #[schema(value_type = String, pattern = "^[a-z0-9][a-z0-9_.-]{0,127}$", example = "provider.connection.check")]
    pub flow: FlowId,
    /// The provider connection to verify, or null.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub provider_connection_id: Option<ProviderConnectionId>,
}

/// `POST /v1/runs/{id}/acknowledgements`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeRequest {
    /// The check to acknowledge.
    #[schema(value_type = String, pattern = "^[a-z0-9][a-z0-9_.-]{0,127}$")]
    pub check_key: CheckKey,
    /// Why: 1–160 characters after trimming, no control characters.
    #[schema(value_type = String, min_length = 1, pattern = "^[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000](?:[^\\u0000-\\u001F\\u007F-\\u009F]{0,158}[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000])?[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$")]
    pub ack_reason: AckReason,
    /// Informational expiry, not earlier than now.
    #[serde(default, with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    /// If present, must equal the run id of the path.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub report_id: Option<RunId>,
}

/// `POST …/provider-connections`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    /// Human name, 1–120 characters after trimming, no control characters.
    #[schema(value_type = String, min_length = 1, pattern = "^[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000](?:[^\\u0000-\\u001F\\u007F-\\u009F]{0,118}[^\\u0000-\\u0020\\u007F-\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000])?[\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*$")]
    pub display_name: DisplayName,
    /// The Entra directory (tenant) id, a GUID.
    #[schema(value_type = String, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub entra_tenant_id: DirectoryId,
    /// The app registration's client id, a GUID.
    #[schema(value_type = String, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    pub client_id: ClientId,
    /// The client secret; write-only, never returned.
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024, pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]")]
    pub client_secret: ClientSecret,
    /// When the client secret expires (RFC 3339), if known; the verification warns 30 days ahead.
    #[serde(default, with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub client_secret_expires_at: Option<DateTime<Utc>>,
}

/// `PUT …/provider-connections/{id}/secret`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretRequest {
    /// The new client secret; write-only.
    #[schema(value_type = String, write_only, min_length = 1, max_length = 1024, pattern = "[^\\t\\n\\u000B\\f\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]")]
    pub client_secret: ClientSecret,
    /// When the new client secret expires (RFC 3339), if known; omitted or null forgets the
    /// previous secret's date.
    #[serde(default, with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub client_secret_expires_at: Option<DateTime<Utc>>,
}

/// A provider connection, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionDto {
    #[schema(value_type = String, format = Uuid)]
    id: ProviderConnectionId,
    workspace_id: i64,
    tenant_id: i64,
    display_name: String,
    #[schema(value_type = String, format = Uuid)]
    entra_tenant_id: DirectoryId,
    #[schema(value_type = String, format = Uuid)]
    client_id: ClientId,
    /// Whether a secret is set (the secret itself is never returned).
    has_secret: bool,
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    secret_updated_at: Option<DateTime<Utc>>,
    /// When the stored secret expires, if the host said so; null when unknown.
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    client_secret_expires_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    disabled_at: Option<DateTime<Utc>>,
}

impl From<ProviderConnection> for ConnectionDto {
    fn from(c: ProviderConnection) -> Self {
        Self {
            id: c.id,
            workspace_id: c.workspace_id.get(),
            tenant_id: c.tenant_id.get(),
            display_name: c.display_name.as_str().to_owned(),
            entra_tenant_id: c.entra_tenant_id,
            client_id: c.client_id,
            has_secret: c.client_secret_ciphertext.is_some(),
            secret_updated_at: c.secret_updated_at,
            client_secret_expires_at: c.client_secret_expires_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            disabled_at: c.disabled_at,
        }
    }
}

/// A run's row (without the report).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDto {
    #[schema(value_type = String, format = Uuid)]
    id: RunId,
    workspace_id: i64,
    tenant_id: i64,
    #[schema(value_type = Option<String>, format = Uuid)]
    provider_connection_id: Option<ProviderConnectionId>,
    #[schema(value_type = String)]
    flow: FlowId,
    /// `queued`, `running` or `completed`.
    #[schema(value_type = String)]
    status: &'static str,
    /// `pending`, `succeeded`, `failed` or `blocked`.
    #[schema(value_type = String)]
    outcome: &'static str,
    attempt: u32,
    #[schema(value_type = Option<String>)]
    initiator_user_id: Option<UserId>,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    started_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    completed_at: Option<DateTime<Utc>>,
}

impl From<RunSummary> for RunDto {
    fn from(run: RunSummary) -> Self {
        Self {
            id: run.id,
            workspace_id: run.identity.workspace_id.get(),
            tenant_id: run.identity.tenant_id.get(),
            provider_connection_id: run.identity.provider_connection_id,
            flow: run.identity.flow,
            status: run.status.as_str(),
            outcome: run.outcome.as_str(),
            attempt: run.attempt,
            initiator_user_id: run.initiator_user_id,
            created_at: run.created_at,
            started_at: run.started_at,
            completed_at: run.completed_at,
        }
    }
}

impl From<&Run> for RunDto {
    fn from(run: &Run) -> Self {
        run.summary().into()
    }
}

/// The answer to a start.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartResponse {
    /// The run, new or existing.
    pub run: RunDto,
    /// True when an active run of the same identity was returned instead of a new one.
    pub deduplicated: bool,
}

/// An acknowledgement as shown beside its check.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcknowledgementDto {
    #[schema(value_type = String, format = Uuid)]
    id: verdict_core::domain::AcknowledgementId,
    #[schema(value_type = String, format = Uuid)]
    run_id: RunId,
    #[schema(value_type = String)]
    check_key: CheckKey,
    #[schema(value_type = String)]
    ack_reason: AckReason,
    #[serde(with = "timestamp_serde::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<DateTime<Utc>>,
    /// Whether `expires_at` has passed, computed at read time (informational).
    expired: bool,
    #[serde(with = "timestamp_serde")]
    #[schema(value_type = String, format = DateTime)]
    acknowledged_at: DateTime<Utc>,
    acknowledged_by_user_id: String,
}

impl From<AcknowledgementView> for AcknowledgementDto {
    fn from(view: AcknowledgementView) -> Self {
        let a = view.acknowledgement;
        Self {
            id: a.id,
            run_id: a.run_id,
            check_key: a.check_key,
            ack_reason: a.reason,
            expires_at: a.expires_at,
            expired: view.expired,
            acknowledged_at: a.acknowledged_at,
            acknowledged_by_user_id: a.acknowledged_by.as_str().to_owned(),
        }
    }
}

/// What changed since the previous report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeDto {
    /// `none`, `unchanged` or `changed`.
    #[schema(value_type = String)]
    state: verdict_core::rules::ChangeState,
    #[schema(value_type = Option<String>, format = Uuid)]
    previous_report_id: Option<RunId>,
    /// Per-check changes: `added`, `removed`, `unchanged`, `regressed`, `improved`, `changed`.
    #[schema(value_type = Vec<Object>)]
    checks: Vec<verdict_core::rules::CheckChange>,
}

/// `GET /v1/runs/{id}`: run, report, acknowledgements and change, from stored rows only.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunViewDto {
    run: RunDto,
    /// The stored report (schema `verification-report.v1_5`), or null while queued. Serialized
    /// straight from the typed report: going through `serde_json::Value` first built a map of
    /// every field of every check only to write it out again.
    #[schema(value_type = Option<Object>)]
    report: Option<verdict_core::domain::Report>,
    acknowledgements: Vec<AcknowledgementDto>,
    change: ChangeDto,
}

impl From<RunView> for RunViewDto {
    fn from(view: RunView) -> Self {
        Self {
            run: RunDto::from(&view.run),
            report: view.run.report,
            acknowledgements: view.acknowledgements.into_iter().map(AcknowledgementDto::from).collect(),
            change: ChangeDto {
                state: view.change.state,
                previous_report_id: view.change.previous_report_id,
                checks: view.change.checks,
            },
        }
    }
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunPageDto {
    /// The runs.
    pub runs: Vec<RunDto>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A page of audit events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageDto {
    /// Events in `seq` order, exactly as hashed (schema `audit-event`).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<verdict_core::domain::AuditEvent>,
    /// Pass as `after_seq` for the next page; null when the page was not full.
    pub next_after_seq: Option<u64>,
}

/// The result of recomputing a workspace's chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainVerificationDto {
    /// Whether every event checked out.
    pub valid: bool,
    /// How many events were examined.
    pub events_checked: u64,
    /// The first broken `seq`, if any.
    pub first_broken_seq: Option<u64>,
}
