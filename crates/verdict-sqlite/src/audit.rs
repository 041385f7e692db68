//! The audit trail: appending an event inside the caller's write transaction (so the action and
//! its event commit together), and the [`AuditLog`] read side. Core seals the event and computes
//! its hash and its stored columns; SQL only stores them.

use async_trait::async_trait;
use sqlx::SqliteConnection;
use verdict_core::domain::{
    AuditAction, AuditEvent, ChainHash, ChainHeadRecord, PendingAuditEvent, TenantId, TenantScope, WorkspaceId,
};
use verdict_core::ports::{AuditLog, AuditQuery, ChainHead, StoreError};

use crate::SqliteStore;
use crate::errors::{invariant, store_error};
use crate::rows::{AuditRow, audit_columns, timestamp};

/// Appends `event` to its workspace's chain, as the next `seq` after the chain head, inside the
/// write transaction `tx` (which holds the write lock, so no other append can interleave).
///
/// # Errors
/// [`StoreError`] on storage failure or a chain head that does not match the log.
pub(crate) async fn append(tx: &mut SqliteConnection, event: PendingAuditEvent) -> Result<AuditEvent, StoreError> {
    let (seq, prev_hash) = match chain_head_in(tx, event.workspace_id).await? {
        Some(head) => (head.seq + 1, head.hash),
        None => (1, ChainHash::genesis()),
    };
    let sealed = event.seal(seq, prev_hash);
    insert_event(tx, &sealed).await?;
    advance_head(tx, &sealed).await?;
    Ok(sealed)
}

async fn chain_head_in(
    conn: &mut SqliteConnection,
    workspace: WorkspaceId,
) -> Result<Option<ChainHeadRecord>, StoreError> {
    let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_chain_heads WHERE workspace_id = ?")
        .bind(workspace.get())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
    Ok(head.map(|(seq, hash)| ChainHeadRecord::from_stored(seq, hash)).transpose()?)
}

async fn insert_event(tx: &mut SqliteConnection, event: &AuditEvent) -> Result<(), StoreError> {
    let row = event.to_stored();
    sqlx::query(concat!(
        "INSERT INTO audit_logs (",
        audit_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(row.id.hyphenated().to_string())
    .bind(row.workspace_id)
    .bind(row.seq)
    .bind(timestamp(row.occurred_at))
    .bind(row.tenant_id)
    .bind(row.actor_type)
    .bind(row.actor_id)
    .bind(row.action)
    .bind(row.subject_type)
    .bind(row.subject_id)
    .bind(row.metadata)
    .bind(row.prev_hash)
    .bind(row.hash)
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    Ok(())
}

/// Moves the head to `event`, but only from its predecessor: a head that moved otherwise means
/// the chain was written outside this adapter, and the transaction must not commit.
async fn advance_head(tx: &mut SqliteConnection, event: &AuditEvent) -> Result<(), StoreError> {
    let seq = i64::try_from(event.seq()).map_err(|e| StoreError::Unexpected(e.into()))?;
    let moved = sqlx::query(
        "INSERT INTO audit_chain_heads (workspace_id, seq, hash) VALUES (?, ?, ?) \
         ON CONFLICT (workspace_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash \
         WHERE audit_chain_heads.seq = excluded.seq - 1",
    )
    .bind(event.workspace_id().get())
    .bind(seq)
    .bind(event.hash().as_str())
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    if moved.rows_affected() == 1 { Ok(()) } else { Err(invariant("the audit chain head moved during an append")) }
}

/// One statement per filter combination, so each can use its own index. `?6` is the JSON array
/// of the tenants a reader may see (workspace-level events are always visible).
fn events_query(query: &AuditQuery) -> &'static str {
    macro_rules! select {
        ($($filter:literal),+) => {
            concat!(
                "SELECT ",
                audit_columns!(),
                " FROM audit_logs WHERE workspace_id = ?1 AND seq > ?2",
                $($filter,)+
                " ORDER BY seq LIMIT ?5"
            )
        };
    }
    macro_rules! visible {
        ($filter:literal) => {
            select!($filter, " AND (tenant_id IS NULL OR tenant_id IN (SELECT value FROM json_each(?6)))")
        };
    }
    let only = matches!(query.visible, TenantScope::Only(_));
    match (query.tenant.is_some(), query.action.is_some(), only) {
        (false, false, false) => select!(" AND ?3 IS NULL AND ?4 IS NULL AND ?6 IS NULL"),
        (true, false, false) => select!(" AND tenant_id = ?3 AND ?4 IS NULL AND ?6 IS NULL"),
        (false, true, false) => select!(" AND ?3 IS NULL AND action = ?4 AND ?6 IS NULL"),
        (true, true, false) => select!(" AND tenant_id = ?3 AND action = ?4 AND ?6 IS NULL"),
        (false, false, true) => visible!(" AND ?3 IS NULL AND ?4 IS NULL"),
        (true, false, true) => visible!(" AND tenant_id = ?3 AND ?4 IS NULL"),
        (false, true, true) => visible!(" AND ?3 IS NULL AND action = ?4"),
        (true, true, true) => visible!(" AND tenant_id = ?3 AND action = ?4"),
    }
}

#[async_trait]
impl AuditLog for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(workspace_id = %query.workspace))]
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let after = i64::try_from(query.after_seq.unwrap_or(0)).unwrap_or(i64::MAX);
        let visible = match &query.visible {
            TenantScope::All => None,
            TenantScope::Only(tenants) => {
                Some(serde_json::to_string(tenants).map_err(|e| StoreError::Unexpected(e.into()))?)
            }
        };
        let rows: Vec<AuditRow> = sqlx::query_as(events_query(&query))
            .bind(query.workspace.get())
            .bind(after)
            .bind(query.tenant.map(TenantId::get))
            .bind(query.action.map(AuditAction::as_str))
            .bind(i64::from(query.limit))
            .bind(visible)
            .fetch_all(&self.reader)
            .await
            .map_err(store_error)?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }

    async fn chain_head(&self, workspace: WorkspaceId) -> Result<Option<ChainHeadRecord>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(store_error)?;
        chain_head_in(&mut conn, workspace).await
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT workspace_id, seq FROM audit_chain_heads WHERE seq >= 1 ORDER BY workspace_id")
                .fetch_all(&self.reader)
                .await
                .map_err(store_error)?;
        Ok(rows.into_iter().map(|(workspace, seq)| ChainHead::from_stored(workspace, seq)).collect::<Result<_, _>>()?)
    }
}
