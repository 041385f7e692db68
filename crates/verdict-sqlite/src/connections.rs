//! The [`ProviderConnectionStore`] port. Every lookup and change is scoped to the connection's
//! workspace and tenant in SQL, so a connection of another tenant is simply not found.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use verdict_core::domain::{PendingAuditEvent, ProviderConnection, ProviderConnectionId, TenantId, WorkspaceId};
use verdict_core::ports::{ConnectionUpdateError, NewSecret, ProviderConnectionStore, StoreError};

use crate::SqliteStore;
use crate::audit::append;
use crate::errors::store_error;
use verdict_sql::connection_columns;

use crate::rows::{ConnectionRow, stored_at, stored_optional_at};

/// Which connection, within which workspace and tenant.
#[derive(Clone, Copy)]
struct Scope {
    workspace: WorkspaceId,
    tenant: TenantId,
    id: ProviderConnectionId,
}

const SELECT_SCOPED: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM provider_connections WHERE id = ? AND workspace_id = ? AND tenant_id = ?"
);

async fn scoped(tx: &mut SqliteConnection, scope: Scope) -> Result<Option<ProviderConnection>, StoreError> {
    let row: Option<ConnectionRow> = sqlx::query_as(SELECT_SCOPED)
        .bind(scope.id.to_string())
        .bind(scope.workspace.get())
        .bind(scope.tenant.get())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
    row.map(ProviderConnection::try_from).transpose()
}

async fn insert(tx: &mut SqliteConnection, c: &ProviderConnection) -> Result<ProviderConnection, StoreError> {
    let row: ConnectionRow = sqlx::query_as(concat!(
        "INSERT INTO provider_connections (",
        connection_columns!(),
        ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ",
        connection_columns!()
    ))
    .bind(c.id.to_string())
    .bind(c.workspace_id.get())
    .bind(c.tenant_id.get())
    .bind(c.display_name.as_str())
    .bind(c.entra_tenant_id.to_string())
    .bind(c.client_id.to_string())
    .bind(c.client_secret_ciphertext.as_ref().map(|s| s.as_bytes().to_vec()))
    .bind(stored_optional_at(c.secret_updated_at))
    .bind(stored_at(c.created_at))
    .bind(stored_at(c.updated_at))
    .bind(stored_optional_at(c.disabled_at))
    .bind(stored_optional_at(c.client_secret_expires_at))
    .fetch_one(&mut *tx)
    .await
    .map_err(store_error)?;
    row.try_into()
}

/// Replaces the secret of an enabled connection; `None` when no enabled connection matched.
async fn update_secret(
    tx: &mut SqliteConnection,
    scope: Scope,
    secret: &NewSecret,
    at: DateTime<Utc>,
) -> Result<Option<ProviderConnection>, StoreError> {
    let row: Option<ConnectionRow> = sqlx::query_as(concat!(
        "UPDATE provider_connections SET client_secret_ciphertext = ?1, secret_updated_at = ?2, updated_at = ?2, \
         client_secret_expires_at = ?6 \
         WHERE id = ?3 AND workspace_id = ?4 AND tenant_id = ?5 AND disabled_at IS NULL RETURNING ",
        connection_columns!()
    ))
    .bind(secret.ciphertext.as_bytes().to_vec())
    .bind(stored_at(at))
    .bind(scope.id.to_string())
    .bind(scope.workspace.get())
    .bind(scope.tenant.get())
    .bind(stored_optional_at(secret.expires_at))
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    row.map(ProviderConnection::try_from).transpose()
}

/// Disables an enabled connection; `None` when no enabled connection matched.
async fn mark_disabled(
    tx: &mut SqliteConnection,
    scope: Scope,
    at: DateTime<Utc>,
) -> Result<Option<ProviderConnection>, StoreError> {
    let row: Option<ConnectionRow> = sqlx::query_as(concat!(
        "UPDATE provider_connections SET disabled_at = ?1, updated_at = ?1 \
         WHERE id = ?2 AND workspace_id = ?3 AND tenant_id = ?4 AND disabled_at IS NULL RETURNING ",
        connection_columns!()
    ))
    .bind(stored_at(at))
    .bind(scope.id.to_string())
    .bind(scope.workspace.get())
    .bind(scope.tenant.get())
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    row.map(ProviderConnection::try_from).transpose()
}

#[async_trait]
impl ProviderConnectionStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %connection.id))]
    async fn create(
        &self,
        connection: ProviderConnection,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, StoreError> {
        let mut tx = self.begin_write().await?;
        let stored = insert(tx.conn(), &connection).await?;
        append(tx.conn(), event).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<Option<ProviderConnection>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(store_error)?;
        scoped(&mut conn, Scope { workspace, tenant, id }).await
    }

    async fn list(&self, workspace: WorkspaceId, tenant: TenantId) -> Result<Vec<ProviderConnection>, StoreError> {
        let rows: Vec<ConnectionRow> = sqlx::query_as(concat!(
            "SELECT ",
            connection_columns!(),
            " FROM provider_connections WHERE workspace_id = ? AND tenant_id = ? ORDER BY created_at, id"
        ))
        .bind(workspace.get())
        .bind(tenant.get())
        .fetch_all(&self.reader)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(ProviderConnection::try_from).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %id))]
    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        secret: NewSecret,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let scope = Scope { workspace, tenant, id };
        let mut tx = self.begin_write().await?;
        let Some(rotated) = update_secret(tx.conn(), scope, &secret, at).await? else {
            let exists = scoped(tx.conn(), scope).await?.is_some();
            tx.rollback().await?;
            return Err(if exists { ConnectionUpdateError::Disabled } else { ConnectionUpdateError::NotFound });
        };
        append(tx.conn(), event).await?;
        tx.commit().await?;
        Ok(rotated)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(connection_id = %id))]
    async fn disable(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let scope = Scope { workspace, tenant, id };
        let mut tx = self.begin_write().await?;
        let Some(disabled) = mark_disabled(tx.conn(), scope, at).await? else {
            // Already disabled: returned unchanged, nothing written.
            let unchanged = scoped(tx.conn(), scope).await?;
            tx.rollback().await?;
            let unchanged = unchanged.ok_or(ConnectionUpdateError::NotFound)?;
            return Ok(unchanged);
        };
        append(tx.conn(), event).await?;
        tx.commit().await?;
        Ok(disabled)
    }
}
