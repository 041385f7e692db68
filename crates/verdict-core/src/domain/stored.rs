//! Rows as the stores keep them, and the one place that gives stored columns their meaning.
//! Adapters only decode columns into these plain structs (ids, integers, text, instants, JSON
//! text); `from_stored` re-validates every value with the domain's own constructors, so a
//! corrupted row surfaces as a [`ParseError`] instead of an invalid value.
//!
//! One exception is deliberate: a stored report is trusted (see [`Report::from_stored_json`]),
//! because the write path is the only writer and it validates and sanitizes every report.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AckReason, Acknowledgement, AcknowledgementId, CheckKey, ClientId, Counts, DirectoryId, DisplayName,
    FailureSummary, FlowId, LeaseOwner, Outcome, ParseError, ProviderConnection, ProviderConnectionId, Report, Run,
    RunId, RunIdentity, RunIdentityHash, RunStatus, RunSummary, SecretCiphertext, TenantId, UserId, WorkspaceId,
    to_micros,
};

/// The columns of `operation_runs` a run is read from (the report is
/// `context.verification_report`, as JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of `operation_runs`, named as in the schema
pub struct StoredRun {
    pub id: Uuid,
    pub workspace_id: i64,
    pub tenant_id: i64,
    pub provider_connection_id: Option<Uuid>,
    /// The `type` column.
    pub flow: String,
    pub run_identity_hash: String,
    pub status: String,
    pub outcome: String,
    pub initiator_user_id: Option<String>,
    /// JSON text.
    pub summary_counts: Option<String>,
    /// JSON text.
    pub failure_summary: Option<String>,
    /// JSON text of `context.verification_report`.
    pub report: Option<String>,
    pub attempt: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn json<T: serde::de::DeserializeOwned>(field: &'static str, text: Option<&str>) -> Result<Option<T>, ParseError> {
    text.map(|t| serde_json::from_str(t).map_err(|e| ParseError::new(field, format!("is not valid: {e}")))).transpose()
}

fn micros(at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    at.map(to_micros)
}

impl Run {
    /// Rebuilds a run from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredRun) -> Result<Self, ParseError> {
        Ok(Self {
            id: RunId::from_uuid(row.id),
            identity: stored_identity(row.flow, row.workspace_id, row.tenant_id, row.provider_connection_id)?,
            identity_hash: RunIdentityHash::parse(row.run_identity_hash)?,
            status: RunStatus::parse(&row.status)?,
            outcome: Outcome::parse(&row.outcome)?,
            initiator_user_id: row.initiator_user_id.map(UserId::parse).transpose()?,
            summary_counts: json::<Counts>("summary_counts", row.summary_counts.as_deref())?,
            failure_summary: json::<FailureSummary>("failure_summary", row.failure_summary.as_deref())?,
            report: row.report.as_deref().map(Report::from_stored_json).transpose()?,
            attempt: stored_attempt(row.attempt)?,
            lease_owner: row.lease_owner.map(LeaseOwner::parse).transpose()?,
            lease_expires_at: micros(row.lease_expires_at),
            created_at: to_micros(row.created_at),
            started_at: micros(row.started_at),
            completed_at: micros(row.completed_at),
        })
    }
}

/// The columns of `operation_runs` a page of runs is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of `operation_runs`, named as in the schema
pub struct StoredRunSummary {
    pub id: Uuid,
    pub workspace_id: i64,
    pub tenant_id: i64,
    pub provider_connection_id: Option<Uuid>,
    /// The `type` column.
    pub flow: String,
    pub status: String,
    pub outcome: String,
    pub initiator_user_id: Option<String>,
    pub attempt: i64,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

fn stored_identity(
    flow: String,
    workspace_id: i64,
    tenant_id: i64,
    provider_connection_id: Option<Uuid>,
) -> Result<RunIdentity, ParseError> {
    Ok(RunIdentity {
        flow: FlowId::parse(flow)?,
        workspace_id: WorkspaceId::new(workspace_id)?,
        tenant_id: TenantId::new(tenant_id)?,
        provider_connection_id: provider_connection_id.map(ProviderConnectionId::from_uuid),
    })
}

fn stored_attempt(attempt: i64) -> Result<u32, ParseError> {
    u32::try_from(attempt).map_err(|_| ParseError::new("attempt", "must not be negative"))
}

impl RunSummary {
    /// Rebuilds a listed run from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredRunSummary) -> Result<Self, ParseError> {
        Ok(Self {
            id: RunId::from_uuid(row.id),
            identity: stored_identity(row.flow, row.workspace_id, row.tenant_id, row.provider_connection_id)?,
            status: RunStatus::parse(&row.status)?,
            outcome: Outcome::parse(&row.outcome)?,
            initiator_user_id: row.initiator_user_id.map(UserId::parse).transpose()?,
            attempt: stored_attempt(row.attempt)?,
            created_at: to_micros(row.created_at),
            started_at: micros(row.started_at),
            completed_at: micros(row.completed_at),
        })
    }
}

/// The columns of `verification_check_acknowledgements`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of the table, named as in the schema
pub struct StoredAcknowledgement {
    pub id: Uuid,
    pub workspace_id: i64,
    pub tenant_id: i64,
    pub operation_run_id: Uuid,
    pub check_key: String,
    pub ack_reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub acknowledged_at: DateTime<Utc>,
    pub acknowledged_by_user_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Acknowledgement {
    /// Rebuilds an acknowledgement from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredAcknowledgement) -> Result<Self, ParseError> {
        Ok(Self {
            id: AcknowledgementId::from_uuid(row.id),
            workspace_id: WorkspaceId::new(row.workspace_id)?,
            tenant_id: TenantId::new(row.tenant_id)?,
            run_id: RunId::from_uuid(row.operation_run_id),
            check_key: CheckKey::parse(row.check_key)?,
            reason: AckReason::parse(&row.ack_reason)?,
            expires_at: micros(row.expires_at),
            acknowledged_by: UserId::parse(row.acknowledged_by_user_id)?,
            acknowledged_at: to_micros(row.acknowledged_at),
            created_at: to_micros(row.created_at),
            updated_at: to_micros(row.updated_at),
        })
    }
}

/// The columns of `provider_connections`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of the table, named as in the schema
pub struct StoredConnection {
    pub id: Uuid,
    pub workspace_id: i64,
    pub tenant_id: i64,
    pub display_name: String,
    pub entra_tenant_id: String,
    pub client_id: String,
    pub client_secret_ciphertext: Option<Vec<u8>>,
    pub client_secret_expires_at: Option<DateTime<Utc>>,
    pub secret_updated_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl ProviderConnection {
    /// Rebuilds a connection from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredConnection) -> Result<Self, ParseError> {
        Ok(Self {
            id: ProviderConnectionId::from_uuid(row.id),
            workspace_id: WorkspaceId::new(row.workspace_id)?,
            tenant_id: TenantId::new(row.tenant_id)?,
            display_name: DisplayName::parse(&row.display_name)?,
            entra_tenant_id: DirectoryId::parse(&row.entra_tenant_id)?,
            client_id: ClientId::parse(&row.client_id)?,
            client_secret_ciphertext: row.client_secret_ciphertext.map(SecretCiphertext::from_bytes),
            client_secret_expires_at: micros(row.client_secret_expires_at),
            secret_updated_at: micros(row.secret_updated_at),
            created_at: to_micros(row.created_at),
            updated_at: to_micros(row.updated_at),
            disabled_at: micros(row.disabled_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_row() -> StoredRun {
        StoredRun {
            id: Uuid::now_v7(),
            workspace_id: 1,
            tenant_id: 10,
            provider_connection_id: None,
            flow: "provider.connection.check".into(),
            run_identity_hash: "a".repeat(64),
            status: "completed".into(),
            outcome: "succeeded".into(),
            initiator_user_id: Some("user-1".into()),
            summary_counts: Some(r#"{"total":0,"pass":0,"fail":0,"warn":0,"skip":0,"running":0}"#.into()),
            failure_summary: Some("[]".into()),
            report: None,
            attempt: 1,
            lease_owner: None,
            lease_expires_at: None,
            created_at: Utc::now(),
            started_at: None,
            completed_at: None,
        }
    }

    #[test]
    fn a_stored_run_is_rebuilt_and_bad_columns_are_named() {
        let run = Run::from_stored(run_row()).unwrap();
        assert_eq!(run.summary_counts, Some(Counts::default()));
        assert_eq!(run.failure_summary, Some(FailureSummary::default()));
        for (mutate, field) in [
            (Box::new(|r: &mut StoredRun| r.status = "blocked".into()) as Box<dyn Fn(&mut StoredRun)>, "status"),
            (Box::new(|r: &mut StoredRun| r.workspace_id = 0), "workspace_id"),
            (Box::new(|r: &mut StoredRun| r.attempt = -1), "attempt"),
            (Box::new(|r: &mut StoredRun| r.failure_summary = Some("{}".into())), "failure_summary"),
            (Box::new(|r: &mut StoredRun| r.run_identity_hash = "x".into()), "run_identity_hash"),
        ] {
            let mut row = run_row();
            mutate(&mut row);
            assert_eq!(Run::from_stored(row).unwrap_err().field, field);
        }
    }

    fn summary_row(run: &StoredRun) -> StoredRunSummary {
        StoredRunSummary {
            id: run.id,
            workspace_id: run.workspace_id,
            tenant_id: run.tenant_id,
            provider_connection_id: run.provider_connection_id,
            flow: run.flow.clone(),
            status: run.status.clone(),
            outcome: run.outcome.clone(),
            initiator_user_id: run.initiator_user_id.clone(),
            attempt: run.attempt,
            created_at: run.created_at,
            started_at: run.started_at,
            completed_at: run.completed_at,
        }
    }

    #[test]
    fn a_listed_run_is_the_runs_summary_and_bad_columns_are_named() {
        let row = run_row();
        let summary = RunSummary::from_stored(summary_row(&row)).unwrap();
        assert_eq!(summary, Run::from_stored(row.clone()).unwrap().summary());
        for (mutate, field) in [
            (
                Box::new(|r: &mut StoredRunSummary| r.outcome = "done".into()) as Box<dyn Fn(&mut StoredRunSummary)>,
                "outcome",
            ),
            (Box::new(|r: &mut StoredRunSummary| r.tenant_id = -3), "tenant_id"),
            (Box::new(|r: &mut StoredRunSummary| r.attempt = -1), "attempt"),
            (Box::new(|r: &mut StoredRunSummary| r.flow = "Not A Flow".into()), "flow"),
            (Box::new(|r: &mut StoredRunSummary| r.initiator_user_id = Some(String::new())), "sub"),
        ] {
            let mut summary = summary_row(&row);
            mutate(&mut summary);
            assert_eq!(RunSummary::from_stored(summary).unwrap_err().field, field);
        }
    }
}
