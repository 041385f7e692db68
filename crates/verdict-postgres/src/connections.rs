//! The provider-connection store. Every read and change is scoped by workspace and tenant in the
//! SQL itself; changes lock the row so the disabled check and the update cannot interleave with
//! another writer.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use verdict_core::domain::{
    PendingAuditEvent, ProviderConnection, ProviderConnectionId, SecretCiphertext, TenantId, WorkspaceId, to_micros,
};
use verdict_core::ports::{ConnectionUpdateError, NewSecret, ProviderConnectionStore, StoreError};

use verdict_sql::connection_columns;

use crate::PgStore;
use crate::audit::append;
use crate::error::store_error;
use crate::rows::ConnectionRow;

const INSERT: &str = concat!(
    "INSERT INTO provider_connections (",
    connection_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ",
    connection_columns!()
);

const SCOPED: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM provider_connections WHERE id = $1 AND workspace_id = $2 AND tenant_id = $3"
);

const SCOPED_FOR_UPDATE: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM provider_connections WHERE id = $1 AND workspace_id = $2 AND tenant_id = $3 FOR UPDATE"
);

const LIST: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM provider_connections WHERE workspace_id = $1 AND tenant_id = $2 ORDER BY created_at, id"
);

const ROTATE: &str = concat!(
    "UPDATE provider_connections SET client_secret_ciphertext = $2, secret_updated_at = $3, updated_at = $3, ",
    "client_secret_expires_at = $4 ",
    "WHERE id = $1 RETURNING ",
    connection_columns!()
);

const DISABLE: &str = concat!(
    "UPDATE provider_connections SET disabled_at = $2, updated_at = $2 WHERE id = $1 RETURNING ",
    connection_columns!()
);

impl PgStore {
    async fn scoped_connection(
        &self,
        sql: &'static str,
        conn: &mut sqlx::PgConnection,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<Option<ProviderConnection>, StoreError> {
        let row: Option<ConnectionRow> = sqlx::query_as(sql)
            .bind(id.as_uuid())
            .bind(workspace.get())
            .bind(tenant.get())
            .fetch_optional(conn)
            .await
            .map_err(store_error)?;
        row.map(ProviderConnection::try_from).transpose()
    }
}

#[async_trait]
impl ProviderConnectionStore for PgStore {
    #[tracing::instrument(skip_all, fields(connection_id = %connection.id))]
    async fn create(
        &self,
        connection: ProviderConnection,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, StoreError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let row: ConnectionRow = sqlx::query_as(INSERT)
            .bind(connection.id.as_uuid())
            .bind(connection.workspace_id.get())
            .bind(connection.tenant_id.get())
            .bind(connection.display_name.as_str())
            .bind(connection.entra_tenant_id.to_string())
            .bind(connection.client_id.to_string())
            .bind(connection.client_secret_ciphertext.as_ref().map(SecretCiphertext::as_bytes))
            .bind(connection.secret_updated_at.map(to_micros))
            .bind(to_micros(connection.created_at))
            .bind(to_micros(connection.updated_at))
            .bind(connection.disabled_at.map(to_micros))
            .bind(connection.client_secret_expires_at.map(to_micros))
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let stored = ProviderConnection::try_from(row)?;
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(stored)
    }

    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<Option<ProviderConnection>, StoreError> {
        let mut conn = self.pool().acquire().await.map_err(store_error)?;
        self.scoped_connection(SCOPED, &mut conn, workspace, tenant, id).await
    }

    async fn list(&self, workspace: WorkspaceId, tenant: TenantId) -> Result<Vec<ProviderConnection>, StoreError> {
        let rows: Vec<ConnectionRow> = sqlx::query_as(LIST)
            .bind(workspace.get())
            .bind(tenant.get())
            .fetch_all(self.pool())
            .await
            .map_err(store_error)?;
        rows.into_iter().map(ProviderConnection::try_from).collect()
    }

    #[tracing::instrument(skip_all, fields(connection_id = %id))]
    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        secret: NewSecret,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let current = self.scoped_connection(SCOPED_FOR_UPDATE, &mut tx, workspace, tenant, id).await?;
        match current {
            None => return Err(ConnectionUpdateError::NotFound),
            Some(c) if c.disabled_at.is_some() => return Err(ConnectionUpdateError::Disabled),
            Some(_) => {}
        }
        let row: ConnectionRow = sqlx::query_as(ROTATE)
            .bind(id.as_uuid())
            .bind(secret.ciphertext.as_bytes())
            .bind(to_micros(at))
            .bind(secret.expires_at.map(to_micros))
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let rotated = ProviderConnection::try_from(row)?;
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(rotated)
    }

    #[tracing::instrument(skip_all, fields(connection_id = %id))]
    async fn disable(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        let current = self.scoped_connection(SCOPED_FOR_UPDATE, &mut tx, workspace, tenant, id).await?;
        match current {
            None => return Err(ConnectionUpdateError::NotFound),
            // Idempotent: already disabled, nothing is written (and no audit event).
            Some(c) if c.disabled_at.is_some() => return Ok(c),
            Some(_) => {}
        }
        let row: ConnectionRow = sqlx::query_as(DISABLE)
            .bind(id.as_uuid())
            .bind(to_micros(at))
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let disabled = ProviderConnection::try_from(row)?;
        append(&mut tx, event).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(disabled)
    }
}
