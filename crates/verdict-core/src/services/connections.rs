//! Managing provider connections: create, read, rotate the secret, disable. The secret is
//! encrypted before it reaches a store and is never returned.

use chrono::{DateTime, Utc};

use super::{Ports, events};
use crate::domain::{
    Actor, AuditAction, Capability, ClientId, ClientSecret, DirectoryId, DisplayName, Principal, ProviderConnection,
    ProviderConnectionId, SecretCiphertext, TenantId, UserId, WorkspaceId, to_micros,
};
use crate::ports::{ConnectionUpdateError, NewSecret, StoreError};
use crate::rules::{AccessDenied, authorize};

/// A new connection.
#[derive(Debug, Clone)]
pub struct CreateConnection {
    /// Human name.
    pub display_name: DisplayName,
    /// The Entra directory.
    pub entra_tenant_id: DirectoryId,
    /// The app registration.
    pub client_id: ClientId,
    /// The secret (encrypted before storage).
    pub client_secret: ClientSecret,
    /// When the secret expires, if the host knows (docs/contract.md#provider-flow).
    pub client_secret_expires_at: Option<DateTime<Utc>>,
}

/// A replacement secret.
#[derive(Debug, Clone)]
pub struct RotateSecret {
    /// The new secret (encrypted before storage).
    pub client_secret: ClientSecret,
    /// When the new secret expires, if the host knows; `None` forgets the old secret's date.
    pub client_secret_expires_at: Option<DateTime<Utc>>,
}

/// Why a connection operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Missing or not visible.
    #[error("not found")]
    NotFound,
    /// Member without `provider_connection.manage`.
    #[error("forbidden")]
    Forbidden,
    /// The connection is disabled.
    #[error("the provider connection is disabled")]
    Disabled,
    /// The secret could not be encrypted (a broken key).
    #[error("the secret could not be encrypted")]
    Encryption(#[source] crate::ports::CipherError),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessDenied> for ConnectionError {
    fn from(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotFound => Self::NotFound,
            AccessDenied::Forbidden => Self::Forbidden,
        }
    }
}

impl From<ConnectionUpdateError> for ConnectionError {
    fn from(e: ConnectionUpdateError) -> Self {
        match e {
            ConnectionUpdateError::NotFound => Self::NotFound,
            ConnectionUpdateError::Disabled => Self::Disabled,
            ConnectionUpdateError::Store(e) => Self::Store(e),
        }
    }
}

/// Proof that the caller may manage connections of a tenant. Made only by
/// [`ConnectionService::authorize_create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePermit {
    workspace: WorkspaceId,
    tenant: TenantId,
    user: UserId,
}

/// Proof that the caller may manage this existing connection, which it holds as read. Made only
/// by [`ConnectionService::authorize_change`].
#[derive(Debug, Clone)]
pub struct ChangePermit {
    connection: ProviderConnection,
    user: UserId,
}

/// Provider-connection management.
#[derive(Debug, Clone)]
pub struct ConnectionService {
    ports: Ports,
}

impl ConnectionService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    fn encrypt(&self, id: ProviderConnectionId, secret: &ClientSecret) -> Result<SecretCiphertext, ConnectionError> {
        self.ports.cipher.encrypt(id, secret).map_err(ConnectionError::Encryption)
    }

    /// Decides whether `principal` may create connections in the tenant.
    ///
    /// # Errors
    /// [`ConnectionError::NotFound`] or [`ConnectionError::Forbidden`].
    pub fn authorize_create(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: TenantId,
    ) -> Result<CreatePermit, ConnectionError> {
        authorize(principal, workspace, Some(tenant), Some(Capability::ProviderConnectionManage))?;
        Ok(CreatePermit { workspace, tenant, user: principal.user_id.clone() })
    }

    /// Decides whether `principal` may change the connection: a connection that is missing is
    /// "not found" before a missing capability is "forbidden", exactly as for a foreign one.
    ///
    /// # Errors
    /// [`ConnectionError::NotFound`] or [`ConnectionError::Forbidden`].
    pub async fn authorize_change(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<ChangePermit, ConnectionError> {
        authorize(principal, workspace, Some(tenant), None)?;
        let connection = self.ports.connections.get(workspace, tenant, id).await?.ok_or(ConnectionError::NotFound)?;
        authorize(principal, workspace, Some(tenant), Some(Capability::ProviderConnectionManage))?;
        Ok(ChangePermit { connection, user: principal.user_id.clone() })
    }

    /// Creates a connection.
    ///
    /// # Errors
    /// See [`ConnectionError`].
    #[tracing::instrument(skip_all, fields(workspace_id = %permit.workspace, tenant_id = %permit.tenant))]
    pub async fn create(
        &self,
        permit: CreatePermit,
        request: CreateConnection,
    ) -> Result<ProviderConnection, ConnectionError> {
        let id = ProviderConnectionId::generate();
        let now = self.ports.clock.now();
        let connection = ProviderConnection {
            id,
            workspace_id: permit.workspace,
            tenant_id: permit.tenant,
            display_name: request.display_name,
            entra_tenant_id: request.entra_tenant_id,
            client_id: request.client_id,
            client_secret_ciphertext: Some(self.encrypt(id, &request.client_secret)?),
            secret_updated_at: Some(now),
            client_secret_expires_at: request.client_secret_expires_at.map(to_micros),
            created_at: now,
            updated_at: now,
            disabled_at: None,
        };
        let event = events::connection_event(
            &connection,
            Actor::User(permit.user),
            AuditAction::ProviderConnectionCreated,
            now,
        );
        Ok(self.ports.connections.create(connection, event).await?)
    }

    /// One connection.
    ///
    /// # Errors
    /// [`ConnectionError::NotFound`] when missing or not visible.
    pub async fn get(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<ProviderConnection, ConnectionError> {
        authorize(principal, workspace, Some(tenant), None)?;
        self.ports.connections.get(workspace, tenant, id).await?.ok_or(ConnectionError::NotFound)
    }

    /// A tenant's connections.
    ///
    /// # Errors
    /// [`ConnectionError::NotFound`] when the tenant is not visible.
    pub async fn list(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        tenant: TenantId,
    ) -> Result<Vec<ProviderConnection>, ConnectionError> {
        authorize(principal, workspace, Some(tenant), None)?;
        Ok(self.ports.connections.list(workspace, tenant).await?)
    }

    /// Replaces a connection's secret.
    ///
    /// # Errors
    /// See [`ConnectionError`].
    #[tracing::instrument(skip_all, fields(connection_id = %permit.connection.id))]
    pub async fn rotate_secret(
        &self,
        permit: ChangePermit,
        rotation: RotateSecret,
    ) -> Result<ProviderConnection, ConnectionError> {
        let current = permit.connection;
        if current.disabled_at.is_some() {
            return Err(ConnectionError::Disabled);
        }
        let now = self.ports.clock.now();
        let secret = NewSecret {
            ciphertext: self.encrypt(current.id, &rotation.client_secret)?,
            expires_at: rotation.client_secret_expires_at.map(to_micros),
        };
        let event = events::connection_event(
            &current,
            Actor::User(permit.user),
            AuditAction::ProviderConnectionSecretRotated,
            now,
        );
        Ok(self
            .ports
            .connections
            .rotate_secret(current.workspace_id, current.tenant_id, current.id, secret, now, event)
            .await?)
    }

    /// Disables a connection (idempotent).
    ///
    /// # Errors
    /// See [`ConnectionError`].
    #[tracing::instrument(skip_all, fields(connection_id = %permit.connection.id))]
    pub async fn disable(&self, permit: ChangePermit) -> Result<ProviderConnection, ConnectionError> {
        let current = permit.connection;
        let now = self.ports.clock.now();
        let event =
            events::connection_event(&current, Actor::User(permit.user), AuditAction::ProviderConnectionDisabled, now);
        Ok(self.ports.connections.disable(current.workspace_id, current.tenant_id, current.id, now, event).await?)
    }
}
