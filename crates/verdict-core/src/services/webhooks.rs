//! Managing a workspace's webhook subscriptions (docs/contract.md#continuous-verification): create (the only answer that shows
//! the new signing secret, besides a rotation's), list, read, delete, rotate the secret, and the
//! deliveries of one subscription.
//!
//! A subscription receives the events of every tenant of its workspace, so managing one — reads
//! included — needs `webhook.manage` and an entitlement to every tenant (`"*"`); a member with
//! less is refused with 403.

use serde_json::{Map, Value, json};

use super::Ports;
use crate::domain::{
    Actor, AuditAction, Capability, DeliveryCursor, DeliveryPage, EventTypes, PageLimit, ParseError, PendingAuditEvent,
    Principal, SigningSecret, Subject, SubjectType, TenantScope, UserId, Webhook, WebhookDescription, WebhookId,
    WebhookUrl, WorkspaceId,
};
use crate::ports::{CipherError, StoreError};
use crate::rules::{AccessDenied, authorize};

/// Why a webhook operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not a member, or no such subscription in the workspace.
    #[error("not found")]
    NotFound,
    /// Member without `webhook.manage`, or not entitled to every tenant of the workspace.
    #[error("forbidden")]
    Forbidden,
    /// The URL is not acceptable (scheme, credentials, a non-public address).
    #[error("invalid url")]
    InvalidUrl(#[source] ParseError),
    /// The secret could not be encrypted (a broken key).
    #[error("the signing secret could not be encrypted")]
    Encryption(#[source] CipherError),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccessDenied> for WebhookError {
    fn from(denied: AccessDenied) -> Self {
        match denied {
            AccessDenied::NotFound => Self::NotFound,
            AccessDenied::Forbidden => Self::Forbidden,
        }
    }
}

/// A new subscription as the caller asks for it.
#[derive(Debug, Clone)]
pub struct CreateWebhook {
    /// The URL as given; checked against the outbound policy.
    pub url: String,
    /// Which events.
    pub events: EventTypes,
    /// A note.
    pub description: WebhookDescription,
}

/// A subscription with its signing secret: what create and rotate answer, once.
#[derive(Debug)]
pub struct WebhookWithSecret {
    /// The subscription.
    pub webhook: Webhook,
    /// The secret, to show once.
    pub secret: SigningSecret,
}

/// Proof that the caller may manage the workspace's subscriptions. Made only by
/// [`WebhookService::authorize_manage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhooksPermit {
    workspace: WorkspaceId,
    user: UserId,
}

/// Proof that the caller may manage this existing subscription, which it holds as read. Made
/// only by [`WebhookService::authorize_webhook`].
#[derive(Debug, Clone)]
pub struct WebhookPermit {
    webhook: Webhook,
    user: UserId,
}

impl WebhookPermit {
    /// The subscription, as read when authorizing.
    #[must_use]
    pub fn webhook(&self) -> &Webhook {
        &self.webhook
    }
}

/// Webhook subscriptions, as the API manages them.
#[derive(Debug, Clone)]
pub struct WebhookService {
    ports: Ports,
}

fn require_manage(principal: &Principal, workspace: WorkspaceId) -> Result<(), WebhookError> {
    authorize(principal, workspace, None, Some(Capability::WebhookManage))?;
    match principal.membership(workspace).map(|m| &m.tenant_ids) {
        Some(TenantScope::All) => Ok(()),
        _ => Err(WebhookError::Forbidden),
    }
}

impl WebhookService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Decides whether `principal` may manage the workspace's subscriptions.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`] or [`WebhookError::Forbidden`].
    pub fn authorize_manage(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
    ) -> Result<WebhooksPermit, WebhookError> {
        require_manage(principal, workspace)?;
        Ok(WebhooksPermit { workspace, user: principal.user_id.clone() })
    }

    /// Decides whether `principal` may manage the subscription: a missing one is "not found"
    /// before a missing capability is "forbidden".
    ///
    /// # Errors
    /// [`WebhookError::NotFound`] or [`WebhookError::Forbidden`].
    pub async fn authorize_webhook(
        &self,
        principal: &Principal,
        workspace: WorkspaceId,
        id: WebhookId,
    ) -> Result<WebhookPermit, WebhookError> {
        authorize(principal, workspace, None, None)?;
        let webhook = self.ports.webhooks.get(workspace, id).await?.ok_or(WebhookError::NotFound)?;
        require_manage(principal, workspace)?;
        Ok(WebhookPermit { webhook, user: principal.user_id.clone() })
    }

    /// Creates a subscription with a fresh signing secret.
    ///
    /// # Errors
    /// [`WebhookError::InvalidUrl`], or a storage or encryption failure.
    #[tracing::instrument(skip_all, fields(workspace_id = %permit.workspace))]
    pub async fn create(
        &self,
        permit: WebhooksPermit,
        request: CreateWebhook,
    ) -> Result<WebhookWithSecret, WebhookError> {
        let url = WebhookUrl::parse(&request.url, self.ports.outbound).map_err(WebhookError::InvalidUrl)?;
        let id = WebhookId::generate();
        let secret = SigningSecret::generate();
        let secret_ciphertext =
            self.ports.cipher.encrypt_signing_secret(id, &secret).map_err(WebhookError::Encryption)?;
        let now = self.ports.clock.now();
        let webhook = Webhook {
            id,
            workspace_id: permit.workspace,
            url,
            events: request.events,
            description: request.description,
            secret_ciphertext,
            created_at: now,
            updated_at: now,
            secret_rotated_at: now,
        };
        let mut metadata = Map::new();
        metadata.insert("url_host".into(), Value::String(webhook.url.host()));
        metadata.insert("events".into(), json!(webhook.events.names()));
        let event = webhook_event(&webhook, permit.user, AuditAction::WebhookCreated, now, metadata);
        let webhook = self.ports.webhooks.create(webhook, event).await?;
        tracing::info!(webhook_id = %webhook.id, "webhook subscription created");
        Ok(WebhookWithSecret { webhook, secret })
    }

    /// The workspace's subscriptions, oldest first.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn list(&self, permit: &WebhooksPermit) -> Result<Vec<Webhook>, WebhookError> {
        Ok(self.ports.webhooks.list(permit.workspace).await?)
    }

    /// Deletes a subscription and its deliveries.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`] when it was deleted meanwhile, or a storage failure.
    #[tracing::instrument(skip_all, fields(webhook_id = %permit.webhook.id))]
    pub async fn delete(&self, permit: WebhookPermit) -> Result<(), WebhookError> {
        let webhook = permit.webhook;
        let mut metadata = Map::new();
        metadata.insert("url_host".into(), Value::String(webhook.url.host()));
        let now = self.ports.clock.now();
        let event = webhook_event(&webhook, permit.user, AuditAction::WebhookDeleted, now, metadata);
        if self.ports.webhooks.delete(webhook.workspace_id, webhook.id, event).await? {
            Ok(())
        } else {
            Err(WebhookError::NotFound)
        }
    }

    /// Replaces the signing secret; later attempts, retries included, use the new one only.
    ///
    /// # Errors
    /// [`WebhookError::NotFound`] when it was deleted meanwhile, or a storage or encryption
    /// failure.
    #[tracing::instrument(skip_all, fields(webhook_id = %permit.webhook.id))]
    pub async fn rotate_secret(&self, permit: WebhookPermit) -> Result<WebhookWithSecret, WebhookError> {
        let current = permit.webhook;
        let secret = SigningSecret::generate();
        let ciphertext =
            self.ports.cipher.encrypt_signing_secret(current.id, &secret).map_err(WebhookError::Encryption)?;
        let now = self.ports.clock.now();
        let event = webhook_event(&current, permit.user, AuditAction::WebhookSecretRotated, now, Map::new());
        let webhook = self
            .ports
            .webhooks
            .rotate_secret(current.workspace_id, current.id, ciphertext, now, event)
            .await?
            .ok_or(WebhookError::NotFound)?;
        Ok(WebhookWithSecret { webhook, secret })
    }

    /// A page of the subscription's deliveries, newest event first.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn deliveries(
        &self,
        permit: &WebhookPermit,
        after: Option<DeliveryCursor>,
        limit: PageLimit,
    ) -> Result<DeliveryPage, WebhookError> {
        Ok(self.ports.outbox.list(permit.webhook.id, after, limit).await?)
    }

    /// How many deliveries are pending across workspaces: an operator metric, so it takes no
    /// principal.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    pub async fn outbox_depth(&self) -> Result<u64, StoreError> {
        self.ports.outbox.pending_count().await
    }
}

fn webhook_event(
    webhook: &Webhook,
    user: UserId,
    action: AuditAction,
    at: chrono::DateTime<chrono::Utc>,
    metadata: Map<String, Value>,
) -> PendingAuditEvent {
    PendingAuditEvent::new(
        at,
        webhook.workspace_id,
        None,
        Actor::User(user),
        action,
        Subject { kind: SubjectType::Webhook, id: webhook.id.to_string() },
        metadata,
    )
}
