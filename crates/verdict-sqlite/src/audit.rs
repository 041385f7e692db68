//! The audit trail: appending an event inside the caller's write transaction (so the action and
//! its event commit together), and the [`AuditLog`] read side. Core seals the event and computes
//! its hash; SQL only stores it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::SqliteConnection;
use verdict_core::domain::{
    Actor, AuditAction, AuditEvent, ChainHash, PendingAuditEvent, StoredAuditEvent, Subject, SubjectType, TenantId,
    UserId, WorkspaceId, to_micros,
};
use verdict_core::ports::{AuditLog, AuditQuery, ChainHead, StoreError};

use crate::SqliteStore;
use crate::errors::{corrupt, invariant, store_error};
use crate::rows::timestamp;

/// The columns of [`AuditRow`].
macro_rules! audit_columns {
    () => {
        "id, workspace_id, seq, occurred_at, tenant_id, actor_type, actor_id, action, subject_type, subject_id, \
         metadata, prev_hash, hash"
    };
}

/// Appends `event` to its workspace's chain, as the next `seq` after the chain head, inside the
/// write transaction `tx` (which holds the write lock, so no other append can interleave).
///
/// # Errors
/// [`StoreError`] on storage failure or a chain head that does not match the log.
pub(crate) async fn append(tx: &mut SqliteConnection, event: PendingAuditEvent) -> Result<AuditEvent, StoreError> {
    let workspace = event.workspace_id.get();
    let (seq, prev_hash) = next_position(tx, workspace).await?;
    let sealed = event.seal(seq, prev_hash);
    insert_event(tx, &sealed).await?;
    advance_head(tx, &sealed).await?;
    Ok(sealed)
}

async fn next_position(tx: &mut SqliteConnection, workspace: i64) -> Result<(u64, ChainHash), StoreError> {
    let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_chain_heads WHERE workspace_id = ?")
        .bind(workspace)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
    let Some((seq, hash)) = head else { return Ok((1, ChainHash::genesis())) };
    let seq = u64::try_from(seq).map_err(|e| corrupt("audit_chain_heads.seq", e))?;
    let hash = ChainHash::parse(hash).map_err(|e| corrupt("audit_chain_heads.hash", e))?;
    Ok((seq + 1, hash))
}

async fn insert_event(tx: &mut SqliteConnection, event: &AuditEvent) -> Result<(), StoreError> {
    let (actor_type, actor_id) = actor_columns(event.actor());
    let metadata = serde_json::to_string(event.metadata()).map_err(|e| StoreError::Unexpected(e.into()))?;
    sqlx::query(concat!(
        "INSERT INTO audit_logs (",
        audit_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(event.id().to_string())
    .bind(event.workspace_id().get())
    .bind(seq_column(event.seq())?)
    .bind(timestamp(event.occurred_at()))
    .bind(event.tenant_id().map(TenantId::get))
    .bind(actor_type)
    .bind(actor_id)
    .bind(event.action().as_str())
    .bind(subject_type_name(event.subject().kind))
    .bind(event.subject().id.as_str())
    .bind(metadata)
    .bind(event.prev_hash().as_str())
    .bind(event.hash().as_str())
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Moves the head to `event`, but only from its predecessor: a head that moved otherwise means
/// the chain was written outside this adapter, and the transaction must not commit.
async fn advance_head(tx: &mut SqliteConnection, event: &AuditEvent) -> Result<(), StoreError> {
    let moved = sqlx::query(
        "INSERT INTO audit_chain_heads (workspace_id, seq, hash) VALUES (?, ?, ?) \
         ON CONFLICT (workspace_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash \
         WHERE audit_chain_heads.seq = excluded.seq - 1",
    )
    .bind(event.workspace_id().get())
    .bind(seq_column(event.seq())?)
    .bind(event.hash().as_str())
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    if moved.rows_affected() == 1 { Ok(()) } else { Err(invariant("the audit chain head moved during an append")) }
}

fn seq_column(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|e| corrupt("audit_logs.seq", e))
}

fn actor_columns(actor: &Actor) -> (&'static str, &str) {
    match actor {
        Actor::User(user) => ("user", user.as_str()),
        Actor::System(component) => ("system", component.as_str()),
    }
}

const fn subject_type_name(kind: SubjectType) -> &'static str {
    match kind {
        SubjectType::OperationRun => "operation_run",
        SubjectType::ProviderConnection => "provider_connection",
        SubjectType::Acknowledgement => "acknowledgement",
    }
}

fn parse_subject_type(name: &str) -> Option<SubjectType> {
    [SubjectType::OperationRun, SubjectType::ProviderConnection, SubjectType::Acknowledgement]
        .into_iter()
        .find(|kind| subject_type_name(*kind) == name)
}

/// A row of `audit_logs`.
#[derive(Debug, sqlx::FromRow)]
struct AuditRow {
    id: String,
    workspace_id: i64,
    seq: i64,
    occurred_at: String,
    tenant_id: Option<i64>,
    actor_type: String,
    actor_id: String,
    action: String,
    subject_type: String,
    subject_id: String,
    metadata: String,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    fn actor(&self) -> Result<Actor, StoreError> {
        match self.actor_type.as_str() {
            "user" => UserId::parse(self.actor_id.as_str()).map(Actor::User).map_err(|e| corrupt("actor_id", e)),
            "system" => Ok(Actor::System(self.actor_id.clone())),
            _ => Err(invariant("stored column `actor_type` is neither user nor system")),
        }
    }

    fn into_event(self) -> Result<AuditEvent, StoreError> {
        let actor = self.actor()?;
        let kind = parse_subject_type(&self.subject_type)
            .ok_or_else(|| invariant("stored column `subject_type` names no known subject"))?;
        let occurred_at =
            DateTime::parse_from_rfc3339(&self.occurred_at).map_err(|e| corrupt("occurred_at", e))?.with_timezone(&Utc);
        Ok(AuditEvent::from_stored(StoredAuditEvent {
            id: self.id.parse().map_err(|e| corrupt("id", e))?,
            seq: u64::try_from(self.seq).map_err(|e| corrupt("seq", e))?,
            occurred_at: to_micros(occurred_at),
            workspace_id: WorkspaceId::new(self.workspace_id).map_err(|e| corrupt("workspace_id", e))?,
            tenant_id: self.tenant_id.map(TenantId::new).transpose().map_err(|e| corrupt("tenant_id", e))?,
            actor,
            action: AuditAction::parse(&self.action).map_err(|e| corrupt("action", e))?,
            subject: Subject { kind, id: self.subject_id },
            metadata: serde_json::from_str::<Map<String, Value>>(&self.metadata).map_err(|e| corrupt("metadata", e))?,
            prev_hash: ChainHash::parse(self.prev_hash).map_err(|e| corrupt("prev_hash", e))?,
            hash: ChainHash::parse(self.hash).map_err(|e| corrupt("hash", e))?,
        }))
    }
}

/// One statement per filter combination, so each can use its own index.
fn events_query(query: &AuditQuery) -> &'static str {
    macro_rules! select {
        ($filter:literal) => {
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_logs WHERE workspace_id = ?1 AND seq > ?2",
                $filter,
                " ORDER BY seq LIMIT ?5"
            )
        };
    }
    match (query.tenant.is_some(), query.action.is_some()) {
        (false, false) => select!(" AND ?3 IS NULL AND ?4 IS NULL"),
        (true, false) => select!(" AND tenant_id = ?3 AND ?4 IS NULL"),
        (false, true) => select!(" AND ?3 IS NULL AND action = ?4"),
        (true, true) => select!(" AND tenant_id = ?3 AND action = ?4"),
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = %query.workspace))]
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let after = i64::try_from(query.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
        let rows: Vec<AuditRow> = sqlx::query_as(events_query(&query))
            .bind(query.workspace.get())
            .bind(after)
            .bind(query.tenant.map(TenantId::get))
            .bind(query.action.map(AuditAction::as_str))
            .bind(i64::from(query.limit))
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(AuditRow::into_event).collect()
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT workspace_id, seq FROM audit_chain_heads WHERE seq >= 1 ORDER BY workspace_id")
                .fetch_all(&self.reader)
                .await
                .map_err(store_error)?;
        rows.into_iter()
            .map(|(workspace, seq)| {
                ChainHead::from_stored(workspace, seq).map_err(|e| StoreError::Unexpected(e.into()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_types_round_trip_through_their_stored_names() {
        for kind in [SubjectType::OperationRun, SubjectType::ProviderConnection, SubjectType::Acknowledgement] {
            assert_eq!(parse_subject_type(subject_type_name(kind)), Some(kind));
            let serde_name = serde_json::to_value(kind).unwrap();
            assert_eq!(serde_name, subject_type_name(kind), "stored names are the wire names");
        }
        assert_eq!(parse_subject_type("tenant"), None);
    }
}
