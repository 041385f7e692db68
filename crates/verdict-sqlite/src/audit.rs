//! The audit trail: appending an event inside the caller's write transaction (so the action and
//! its event commit together), and the [`AuditLog`] read side. Core seals the event and computes
//! its hash and its stored columns; SQL only stores them.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use verdict_core::domain::{
    AuditAction, AuditEvent, ChainHeadRecord, PendingAuditEvent, TenantId, TenantScope, WorkspaceId,
};
use verdict_core::ports::{AuditLog, AuditQuery, ChainHead, StoreError};

use crate::SqliteStore;
use crate::errors::{invariant, store_error};
use crate::rows::{AuditRow, audit_columns, stored_at};

/// Appends `event` to its workspace's chain inside the write transaction `tx`; see [`append_all`].
///
/// # Errors
/// [`StoreError`] on storage failure or a chain head that does not match the log.
pub(crate) async fn append(tx: &mut SqliteConnection, event: PendingAuditEvent) -> Result<AuditEvent, StoreError> {
    let mut sealed = append_all(tx, vec![event]).await?;
    sealed.pop().ok_or_else(|| invariant("no event appended"))
}

/// Appends `events`, in order, to their workspace's chain, as the next `seq`s after the chain
/// head, inside the write transaction `tx` (which holds the write lock, so no other append can
/// interleave): one read of the head, core's `ChainHeadRecord::seal_next`, one insert of every
/// event, one move of the head — three statements however many events an action appends. The events belong to one workspace, as
/// every audited action's do.
///
/// # Errors
/// [`StoreError`] on storage failure, events of several workspaces, or a chain head that does
/// not match the log.
pub(crate) async fn append_all(
    tx: &mut SqliteConnection,
    events: Vec<PendingAuditEvent>,
) -> Result<Vec<AuditEvent>, StoreError> {
    let Some(workspace) = events.first().map(|event| event.workspace_id) else { return Ok(Vec::new()) };
    let head = chain_head_in(tx, workspace).await?.unwrap_or_else(ChainHeadRecord::empty);
    let head_seq = head.seq;
    let sealed_events = head.seal_next(events)?;
    insert_and_advance(tx, workspace, head_seq, &sealed_events).await?;
    Ok(sealed_events)
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

/// Inserts the sealed events and moves the chain head from `from_seq` to the last of them, as
/// one execution of two statements: one crossing to the connection's thread instead of two. The
/// head moves only from the sequence number the events were sealed on (the single writer makes
/// that certain; the condition proves it), so the statements change exactly one row more than
/// the events they insert.
async fn insert_and_advance(
    tx: &mut SqliteConnection,
    workspace: WorkspaceId,
    from_seq: u64,
    events: &[AuditEvent],
) -> Result<(), StoreError> {
    let Some(last) = events.last() else { return Ok(()) };
    let number = |n: u64| i64::try_from(n).map_err(|e| StoreError::Unexpected(e.into()));
    let mut sql = QueryBuilder::<Sqlite>::new(concat!("INSERT INTO audit_logs (", audit_columns!(), ") "));
    sql.push_values(events.iter().map(AuditEvent::to_stored), |mut values, row| {
        values
            .push_bind(row.id.hyphenated().to_string())
            .push_bind(row.workspace_id)
            .push_bind(row.seq)
            .push_bind(stored_at(row.occurred_at))
            .push_bind(row.tenant_id)
            .push_bind(row.actor_type)
            .push_bind(row.actor_id)
            .push_bind(row.action)
            .push_bind(row.subject_type)
            .push_bind(row.subject_id)
            .push_bind(row.metadata)
            .push_bind(row.prev_hash)
            .push_bind(row.hash);
    });
    sql.push("; INSERT INTO audit_chain_heads (workspace_id, seq, hash) VALUES (")
        .push_bind(workspace.get())
        .push(", ")
        .push_bind(number(last.seq())?)
        .push(", ")
        .push_bind(last.hash().as_str().to_owned())
        .push(
            ") ON CONFLICT (workspace_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash \
             WHERE audit_chain_heads.seq = ",
        )
        .push_bind(number(from_seq)?);
    let changed = sql.build().execute(&mut *tx).await.map_err(store_error)?.rows_affected();
    if changed == events.len() as u64 + 1 {
        Ok(())
    } else {
        Err(invariant("the audit chain head moved during an append"))
    }
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
        let rows: Vec<AuditRow> = self
            .reading(async |conn| {
                sqlx::query_as(events_query(&query))
                    .bind(query.workspace.get())
                    .bind(after)
                    .bind(query.tenant.map(TenantId::get))
                    .bind(query.action.map(AuditAction::as_str))
                    .bind(i64::from(query.limit))
                    .bind(visible)
                    .fetch_all(conn)
                    .await
                    .map_err(store_error)
            })
            .await?;
        rows.into_iter().map(AuditEvent::try_from).collect()
    }

    async fn chain_head(&self, workspace: WorkspaceId) -> Result<Option<ChainHeadRecord>, StoreError> {
        self.reading(async |conn| chain_head_in(conn, workspace).await).await
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
