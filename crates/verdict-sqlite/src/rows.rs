//! Adapter-private row types and their conversions into domain types (domain types never derive
//! `FromRow`). Every value read back is re-validated by the domain's own constructors, so a
//! corrupted row surfaces as [`StoreError::Unexpected`] instead of an invalid value.

use chrono::{DateTime, Utc};
use verdict_core::domain::{
    AckReason, Acknowledgement, CheckKey, ClientId, DirectoryId, DisplayName, FlowId, LeaseOwner, Outcome,
    ProviderConnection, Report, Run, RunIdentity, RunIdentityHash, RunStatus, SecretCiphertext, TenantId, UserId,
    WorkspaceId, format_timestamp, to_micros,
};
use verdict_core::ports::StoreError;

use crate::errors::corrupt;

/// The columns of [`RunRow`], for `SELECT` and `RETURNING` clauses.
macro_rules! run_columns {
    () => {
        "id, workspace_id, tenant_id, provider_connection_id, type AS flow, run_identity_hash, status, outcome, \
         initiator_user_id, summary_counts, failure_summary, context -> '$.verification_report' AS report, \
         attempt, lease_owner, lease_expires_at, created_at, started_at, completed_at"
    };
}
pub(crate) use run_columns;

/// The columns of [`AckRow`].
macro_rules! ack_columns {
    () => {
        "id, workspace_id, tenant_id, operation_run_id, check_key, ack_reason, expires_at, acknowledged_at, \
         acknowledged_by_user_id, created_at, updated_at"
    };
}
pub(crate) use ack_columns;

/// The columns of [`ConnectionRow`].
macro_rules! connection_columns {
    () => {
        "id, workspace_id, tenant_id, display_name, entra_tenant_id, client_id, client_secret_ciphertext, \
         secret_updated_at, created_at, updated_at, disabled_at, client_secret_expires_at"
    };
}
pub(crate) use connection_columns;

/// The one stored form of an instant (see `verdict_core::domain::format_timestamp`).
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    format_timestamp(at)
}

/// The stored form of an optional instant.
pub(crate) fn optional_timestamp(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(format_timestamp)
}

fn parse_timestamp(column: &'static str, text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text).map(|t| to_micros(t.with_timezone(&Utc))).map_err(|e| corrupt(column, e))
}

fn parse_optional_timestamp(column: &'static str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.map(|t| parse_timestamp(column, t)).transpose()
}

fn parse_json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: Option<&str>,
) -> Result<Option<T>, StoreError> {
    text.map(|t| serde_json::from_str(t).map_err(|e| corrupt(column, e))).transpose()
}

fn parse_id<T>(column: &'static str, text: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    text.parse().map_err(|e| corrupt(column, e))
}

/// A row of `operation_runs`, with the report extracted from `context`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RunRow {
    id: String,
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<String>,
    flow: String,
    run_identity_hash: String,
    status: String,
    outcome: String,
    initiator_user_id: Option<String>,
    summary_counts: Option<String>,
    failure_summary: Option<String>,
    report: Option<String>,
    attempt: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<String>,
    created_at: String,
    started_at: Option<String>,
    completed_at: Option<String>,
}

impl RunRow {
    fn identity(&self) -> Result<RunIdentity, StoreError> {
        Ok(RunIdentity {
            flow: FlowId::parse(self.flow.as_str()).map_err(|e| corrupt("type", e))?,
            workspace_id: WorkspaceId::new(self.workspace_id).map_err(|e| corrupt("workspace_id", e))?,
            tenant_id: TenantId::new(self.tenant_id).map_err(|e| corrupt("tenant_id", e))?,
            provider_connection_id: self
                .provider_connection_id
                .as_deref()
                .map(|id| parse_id("provider_connection_id", id))
                .transpose()?,
        })
    }

    /// The domain run.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when a column does not decode.
    pub(crate) fn into_run(self) -> Result<Run, StoreError> {
        Ok(Run {
            id: parse_id("id", &self.id)?,
            identity: self.identity()?,
            identity_hash: RunIdentityHash::parse(self.run_identity_hash.as_str())
                .map_err(|e| corrupt("run_identity_hash", e))?,
            status: RunStatus::parse(&self.status).map_err(|e| corrupt("status", e))?,
            outcome: Outcome::parse(&self.outcome).map_err(|e| corrupt("outcome", e))?,
            initiator_user_id: self
                .initiator_user_id
                .map(UserId::parse)
                .transpose()
                .map_err(|e| corrupt("initiator_user_id", e))?,
            summary_counts: parse_json("summary_counts", self.summary_counts.as_deref())?,
            failure_summary: parse_json("failure_summary", self.failure_summary.as_deref())?,
            report: parse_json::<Report>("context", self.report.as_deref())?,
            attempt: u32::try_from(self.attempt).map_err(|e| corrupt("attempt", e))?,
            lease_owner: self.lease_owner.map(LeaseOwner::parse).transpose().map_err(|e| corrupt("lease_owner", e))?,
            lease_expires_at: parse_optional_timestamp("lease_expires_at", self.lease_expires_at.as_deref())?,
            created_at: parse_timestamp("created_at", &self.created_at)?,
            started_at: parse_optional_timestamp("started_at", self.started_at.as_deref())?,
            completed_at: parse_optional_timestamp("completed_at", self.completed_at.as_deref())?,
        })
    }
}

/// A row of `verification_check_acknowledgements`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AckRow {
    id: String,
    workspace_id: i64,
    tenant_id: i64,
    operation_run_id: String,
    check_key: String,
    ack_reason: String,
    expires_at: Option<String>,
    acknowledged_at: String,
    acknowledged_by_user_id: String,
    created_at: String,
    updated_at: String,
}

impl AckRow {
    /// The domain acknowledgement.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when a column does not decode.
    pub(crate) fn into_acknowledgement(self) -> Result<Acknowledgement, StoreError> {
        Ok(Acknowledgement {
            id: parse_id("id", &self.id)?,
            workspace_id: WorkspaceId::new(self.workspace_id).map_err(|e| corrupt("workspace_id", e))?,
            tenant_id: TenantId::new(self.tenant_id).map_err(|e| corrupt("tenant_id", e))?,
            run_id: parse_id("operation_run_id", &self.operation_run_id)?,
            check_key: CheckKey::parse(self.check_key).map_err(|e| corrupt("check_key", e))?,
            reason: AckReason::parse(&self.ack_reason).map_err(|e| corrupt("ack_reason", e))?,
            expires_at: parse_optional_timestamp("expires_at", self.expires_at.as_deref())?,
            acknowledged_by: UserId::parse(self.acknowledged_by_user_id)
                .map_err(|e| corrupt("acknowledged_by_user_id", e))?,
            acknowledged_at: parse_timestamp("acknowledged_at", &self.acknowledged_at)?,
            created_at: parse_timestamp("created_at", &self.created_at)?,
            updated_at: parse_timestamp("updated_at", &self.updated_at)?,
        })
    }
}

/// A row of `provider_connections`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ConnectionRow {
    id: String,
    workspace_id: i64,
    tenant_id: i64,
    display_name: String,
    entra_tenant_id: String,
    client_id: String,
    client_secret_ciphertext: Option<Vec<u8>>,
    secret_updated_at: Option<String>,
    created_at: String,
    updated_at: String,
    disabled_at: Option<String>,
    client_secret_expires_at: Option<String>,
}

impl ConnectionRow {
    /// The domain connection.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when a column does not decode.
    pub(crate) fn into_connection(self) -> Result<ProviderConnection, StoreError> {
        Ok(ProviderConnection {
            id: parse_id("id", &self.id)?,
            workspace_id: WorkspaceId::new(self.workspace_id).map_err(|e| corrupt("workspace_id", e))?,
            tenant_id: TenantId::new(self.tenant_id).map_err(|e| corrupt("tenant_id", e))?,
            display_name: DisplayName::parse(&self.display_name).map_err(|e| corrupt("display_name", e))?,
            entra_tenant_id: DirectoryId::parse(&self.entra_tenant_id).map_err(|e| corrupt("entra_tenant_id", e))?,
            client_id: ClientId::parse(&self.client_id).map_err(|e| corrupt("client_id", e))?,
            client_secret_ciphertext: self.client_secret_ciphertext.map(SecretCiphertext::from_bytes),
            secret_updated_at: parse_optional_timestamp("secret_updated_at", self.secret_updated_at.as_deref())?,
            client_secret_expires_at: parse_optional_timestamp(
                "client_secret_expires_at",
                self.client_secret_expires_at.as_deref(),
            )?,
            created_at: parse_timestamp("created_at", &self.created_at)?,
            updated_at: parse_timestamp("updated_at", &self.updated_at)?,
            disabled_at: parse_optional_timestamp("disabled_at", self.disabled_at.as_deref())?,
        })
    }
}

/// Converts a list of rows, failing on the first that does not decode.
pub(crate) fn convert_all<R, T>(rows: Vec<R>, convert: fn(R) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(convert).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_round_trip_at_microsecond_precision() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::nanoseconds(123_456_789);
        let text = timestamp(at);
        assert_eq!(text, "2026-03-04T05:06:07.123456Z");
        assert_eq!(parse_timestamp("t", &text).unwrap(), to_micros(at));
        assert!(parse_timestamp("t", "yesterday").is_err());
    }
}
