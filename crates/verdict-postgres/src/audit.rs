//! The audit trail: appending inside the caller's transaction under the workspace's chain-head
//! lock, and the read side ([`AuditLog`]). Core seals the event (computes its hash); SQL only
//! stores it.

use async_trait::async_trait;
use sqlx::PgConnection;
use verdict_core::domain::{
    AuditEvent, ChainHeadRecord, GENESIS_HASH, PendingAuditEvent, StoredAuditEvent, WorkspaceId,
};
use verdict_core::ports::{AuditLog, AuditQuery, ChainHead, StoreError};

use crate::PgStore;
use crate::error::store_error;
use crate::queries::{self, APPEND_AUDIT_EVENTS, LOCK_CHAIN_HEAD};
use crate::rows::AuditRow;

const CHAIN_HEAD: &str = "SELECT seq, hash FROM audit_chain_heads WHERE workspace_id = $1 AND seq >= 1";

/// Appends `event` to its workspace's chain within the open transaction `conn`; see
/// [`append_all`].
///
/// # Errors
/// [`StoreError`] on storage failure; the caller's transaction must then be rolled back.
pub(crate) async fn append(conn: &mut PgConnection, event: PendingAuditEvent) -> Result<AuditEvent, StoreError> {
    let mut sealed = append_all(conn, vec![event]).await?;
    sealed.pop().ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("no event appended")))
}

/// Appends `events`, in order, to their workspace's chain within the open transaction `conn`:
/// locks the chain head once, has core seal the events as the next `seq`s
/// (`ChainHeadRecord::seal_next`), then inserts them all and moves the head in one statement.
/// The lock is held until the transaction ends, so concurrent appends queue up behind it — callers take it as late as they can (after their other writes),
/// since every statement between it and the commit is time the workspace's other writers wait
/// (docs/benchmarks.md, "Audit chain throughput"). The events of one call belong to one
/// workspace, as every audited action does.
///
/// # Errors
/// [`StoreError`] on storage failure, or events of several workspaces; the caller's transaction
/// must then be rolled back.
pub(crate) async fn append_all(
    conn: &mut PgConnection,
    events: Vec<PendingAuditEvent>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let Some(workspace) = events.first().map(|event| event.workspace_id) else { return Ok(Vec::new()) };
    let (head_seq, head_hash): (i64, String) = sqlx::query_as(LOCK_CHAIN_HEAD)
        .bind(workspace.get())
        .bind(GENESIS_HASH)
        .fetch_one(&mut *conn)
        .await
        .map_err(store_error)?;
    append_after(conn, workspace, (head_seq, head_hash), events).await
}

/// [`append_all`] after the chain head of workspace `locked` was locked, and read as
/// `(seq, hash)`, by a statement of the caller's in the same transaction (`INSERT_QUEUED`).
///
/// # Errors
/// As [`append_all`], and when the events belong to another workspace than `locked` (their
/// seqs would follow a head that is not theirs).
pub(crate) async fn append_after(
    conn: &mut PgConnection,
    locked: WorkspaceId,
    (head_seq, head_hash): (i64, String),
    events: Vec<PendingAuditEvent>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let Some(workspace) = events.first().map(|event| event.workspace_id) else { return Ok(Vec::new()) };
    if workspace != locked {
        return Err(StoreError::Unexpected(anyhow::anyhow!(
            "audit events of workspace {workspace} after the chain head of workspace {locked}"
        )));
    }
    let sealed_events = ChainHeadRecord::from_stored(head_seq, head_hash)?.seal_next(events)?;
    let rows: Vec<StoredAuditEvent> = sealed_events.iter().map(AuditEvent::to_stored).collect();
    sqlx::query(APPEND_AUDIT_EVENTS)
        .bind(workspace.get())
        .bind(rows.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.seq).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.occurred_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.tenant_id).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.actor_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.actor_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.action.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.subject_type.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.subject_id.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.metadata.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.prev_hash.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.hash.as_str()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(sealed_events)
}

#[async_trait]
impl AuditLog for PgStore {
    #[tracing::instrument(skip_all, fields(workspace_id = %query.workspace))]
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<AuditRow> = self
            .reading(async |conn| {
                queries::audit_events(&query).build_query_as().fetch_all(conn).await.map_err(store_error)
            })
            .await?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }

    async fn chain_head(&self, workspace: WorkspaceId) -> Result<Option<ChainHeadRecord>, StoreError> {
        let head: Option<(i64, String)> = self
            .reading(async |conn| {
                sqlx::query_as(CHAIN_HEAD).bind(workspace.get()).fetch_optional(conn).await.map_err(store_error)
            })
            .await?;
        Ok(head.map(|(seq, hash)| ChainHeadRecord::from_stored(seq, hash)).transpose()?)
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let rows: Vec<(i64, i64)> = self
            .reading(async |conn| {
                sqlx::query_as("SELECT workspace_id, seq FROM audit_chain_heads WHERE seq >= 1 ORDER BY workspace_id")
                    .fetch_all(conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        Ok(rows.into_iter().map(|(workspace, seq)| ChainHead::from_stored(workspace, seq)).collect::<Result<_, _>>()?)
    }
}
