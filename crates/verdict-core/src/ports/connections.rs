//! The provider-connection store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{
    PendingAuditEvent, ProviderConnection, ProviderConnectionId, SecretCiphertext, TenantId, WorkspaceId,
};

/// A replacement secret as stored: its ciphertext and, when the host knows it, its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    /// The encrypted secret.
    pub ciphertext: SecretCiphertext,
    /// When it expires; `None` when unknown (a previous secret's expiry is not kept).
    pub expires_at: Option<DateTime<Utc>>,
}

/// Why a connection change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionUpdateError {
    /// No such connection in this workspace and tenant.
    #[error("no such provider connection")]
    NotFound,
    /// The connection is disabled; its secret can no longer be changed.
    #[error("the provider connection is disabled")]
    Disabled,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Provider connections, always addressed within their workspace and tenant.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProviderConnectionStore: Send + Sync {
    /// Inserts a connection with its audit event, atomically.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure; nothing is written then.
    async fn create(
        &self,
        connection: ProviderConnection,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, StoreError>;

    /// One connection of a workspace and tenant; a connection of another tenant is `None`.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<Option<ProviderConnection>, StoreError>;

    /// A tenant's connections, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn list(&self, workspace: WorkspaceId, tenant: TenantId) -> Result<Vec<ProviderConnection>, StoreError>;

    /// Replaces the secret of an enabled connection and its expiry, with its audit event,
    /// atomically.
    ///
    /// # Errors
    /// [`ConnectionUpdateError::NotFound`], [`ConnectionUpdateError::Disabled`]; nothing is
    /// written on error.
    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        secret: NewSecret,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError>;

    /// Disables a connection, with its audit event, atomically. Disabling a disabled
    /// connection returns it unchanged and writes nothing.
    ///
    /// # Errors
    /// [`ConnectionUpdateError::NotFound`]; nothing is written on error.
    async fn disable(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError>;
}
