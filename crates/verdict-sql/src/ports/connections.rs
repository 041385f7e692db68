//! The template of the provider-connection store (see [`crate::ports`] for the names it uses).

/// Implements `verdict_core::ports::ProviderConnectionStore` for `$store`, whose rows decode with
/// `$dialect` from the driver `$database`, with the names in the module documentation.
///
/// A rotation or a disable is one conditional `UPDATE` on an enabled connection; only when it
/// matches nothing does a second read tell a disabled connection (refused, or for a disable
/// returned unchanged with nothing written) from a missing one.
#[macro_export]
macro_rules! connection_store {
    ($store:ty, $dialect:ty, $database:ty) => {
        const _: () = {
            use ::chrono::{DateTime, Utc};
            use ::tracing::instrument;
            use ::verdict_core::domain::{
                PendingAuditEvent, ProviderConnection, ProviderConnectionId, TenantId, WorkspaceId,
            };
            use ::verdict_core::ports::{ConnectionUpdateError, NewSecret, ProviderConnectionStore, StoreError};
            use $crate::rows::ConnectionRow;
            use $crate::statements::{
                DISABLE_CONNECTION, INSERT_CONNECTION, LIST_CONNECTIONS, ROTATE_CONNECTION_SECRET, SCOPED_CONNECTION,
            };

            /// The connection `connection` within `workspace` and `tenant`, read on `conn`.
            async fn scoped(
                conn: &mut <$database as ::sqlx::Database>::Connection,
                workspace: WorkspaceId,
                tenant: TenantId,
                connection: ProviderConnectionId,
            ) -> Result<Option<ProviderConnection>, StoreError> {
                let row: Option<ConnectionRow<$dialect>> = ::sqlx::query_as(SCOPED_CONNECTION)
                    .bind(stored_id(connection.as_uuid()))
                    .bind(workspace.get())
                    .bind(tenant.get())
                    .fetch_optional(conn)
                    .await
                    .map_err(store_error)?;
                row.map(ProviderConnection::try_from).transpose()
            }

            #[::async_trait::async_trait]
            impl ProviderConnectionStore for $store {
                #[instrument(level = "debug", skip_all, fields(connection_id = %connection.id))]
                async fn create(
                    &self,
                    connection: ProviderConnection,
                    event: PendingAuditEvent,
                ) -> Result<ProviderConnection, StoreError> {
                    let mut tx = self.begin_write().await?;
                    let row: ConnectionRow<$dialect> = ::sqlx::query_as(INSERT_CONNECTION)
                        .bind(stored_id(connection.id.as_uuid()))
                        .bind(connection.workspace_id.get())
                        .bind(connection.tenant_id.get())
                        .bind(connection.display_name.as_str())
                        .bind(connection.entra_tenant_id.to_string())
                        .bind(connection.client_id.to_string())
                        .bind(connection.client_secret_ciphertext.as_ref().map(|s| s.as_bytes().to_vec()))
                        .bind(stored_optional_at(connection.secret_updated_at))
                        .bind(stored_at(connection.created_at))
                        .bind(stored_at(connection.updated_at))
                        .bind(stored_optional_at(connection.disabled_at))
                        .bind(stored_optional_at(connection.client_secret_expires_at))
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let stored = ProviderConnection::try_from(row)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(stored)
                }

                async fn get(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                ) -> Result<Option<ProviderConnection>, StoreError> {
                    self.reading(async |conn| scoped(conn, workspace, tenant, connection).await).await
                }

                async fn list(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                ) -> Result<Vec<ProviderConnection>, StoreError> {
                    let rows: Vec<ConnectionRow<$dialect>> = self
                        .reading(async |conn| {
                            ::sqlx::query_as(LIST_CONNECTIONS)
                                .bind(workspace.get())
                                .bind(tenant.get())
                                .fetch_all(conn)
                                .await
                                .map_err(store_error)
                        })
                        .await?;
                    rows.into_iter().map(ProviderConnection::try_from).collect()
                }

                #[instrument(level = "debug", skip_all, fields(connection_id = %connection))]
                async fn rotate_secret(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                    secret: NewSecret,
                    rotated_at: DateTime<Utc>,
                    event: PendingAuditEvent,
                ) -> Result<ProviderConnection, ConnectionUpdateError> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<ConnectionRow<$dialect>> = ::sqlx::query_as(ROTATE_CONNECTION_SECRET)
                        .bind(stored_id(connection.as_uuid()))
                        .bind(workspace.get())
                        .bind(tenant.get())
                        .bind(secret.ciphertext.as_bytes().to_vec())
                        .bind(stored_at(rotated_at))
                        .bind(stored_optional_at(secret.expires_at))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let Some(row) = row else {
                        let exists = scoped(&mut tx, workspace, tenant, connection).await?.is_some();
                        tx.rollback().await?;
                        return Err(if exists {
                            ConnectionUpdateError::Disabled
                        } else {
                            ConnectionUpdateError::NotFound
                        });
                    };
                    let rotated = ProviderConnection::try_from(row)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(rotated)
                }

                #[instrument(level = "debug", skip_all, fields(connection_id = %connection))]
                async fn disable(
                    &self,
                    workspace: WorkspaceId,
                    tenant: TenantId,
                    connection: ProviderConnectionId,
                    disabled_at: DateTime<Utc>,
                    event: PendingAuditEvent,
                ) -> Result<ProviderConnection, ConnectionUpdateError> {
                    let mut tx = self.begin_write().await?;
                    let row: Option<ConnectionRow<$dialect>> = ::sqlx::query_as(DISABLE_CONNECTION)
                        .bind(stored_id(connection.as_uuid()))
                        .bind(workspace.get())
                        .bind(tenant.get())
                        .bind(stored_at(disabled_at))
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(store_error)?;
                    let Some(row) = row else {
                        // Already disabled (idempotent: returned unchanged, nothing written) or missing.
                        let unchanged = scoped(&mut tx, workspace, tenant, connection).await?;
                        tx.rollback().await?;
                        return unchanged.ok_or(ConnectionUpdateError::NotFound);
                    };
                    let disabled = ProviderConnection::try_from(row)?;
                    append(&mut tx, event).await?;
                    tx.commit().await?;
                    Ok(disabled)
                }
            }
        };
    };
}
