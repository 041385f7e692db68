//! Provider-connection store behaviour.

use chrono::Duration;

use super::Stores;
use super::fixtures::*;
use crate::domain::{AuditAction, SecretCiphertext, TenantScope};
use crate::ports::{AuditQuery, ConnectionUpdateError, NewSecret};

fn new_secret(bytes: Vec<u8>) -> NewSecret {
    NewSecret { ciphertext: SecretCiphertext::from_bytes(bytes), expires_at: None }
}

async fn count(stores: &Stores, action: AuditAction) -> usize {
    stores
        .audit
        .events(AuditQuery {
            workspace: ws(1),
            visible: TenantScope::All,
            tenant: None,
            action: Some(action),
            after_seq: None,
            limit: 1000,
        })
        .await
        .unwrap()
        .len()
}

/// A connection is visible only within its workspace and tenant.
pub async fn connections_are_scoped_to_their_tenant(stores: &Stores) {
    let mine = connection(1, 10);
    let event = connection_event(&mine, AuditAction::ProviderConnectionCreated);
    let created = stores.connections.create(mine.clone(), event).await.unwrap();
    assert_eq!(created, mine);
    let sibling = connection(1, 11);
    let event = connection_event(&sibling, AuditAction::ProviderConnectionCreated);
    stores.connections.create(sibling.clone(), event).await.unwrap();

    assert_eq!(stores.connections.get(ws(1), tenant(10), mine.id).await.unwrap(), Some(mine.clone()));
    assert_eq!(stores.connections.get(ws(1), tenant(11), mine.id).await.unwrap(), None, "foreign tenant");
    assert_eq!(stores.connections.get(ws(2), tenant(10), mine.id).await.unwrap(), None, "foreign workspace");
    let listed = stores.connections.list(ws(1), tenant(10)).await.unwrap();
    assert_eq!(listed, vec![mine]);
    assert!(stores.connections.list(ws(2), tenant(10)).await.unwrap().is_empty());
    assert_eq!(count(stores, AuditAction::ProviderConnectionCreated).await, 2);
}

/// Rotation replaces the secret of an enabled connection; disabling is idempotent and a
/// disabled connection's secret cannot be rotated. Refusals write nothing.
pub async fn rotate_and_disable_follow_the_rules(stores: &Stores) {
    let conn = connection(1, 10);
    let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
    stores.connections.create(conn.clone(), event).await.unwrap();

    let later = now() + Duration::seconds(5);
    let new_secret = new_secret(vec![9; 40]);
    let event = connection_event(&conn, AuditAction::ProviderConnectionSecretRotated);
    let rotated =
        stores.connections.rotate_secret(ws(1), tenant(10), conn.id, new_secret.clone(), later, event).await.unwrap();
    assert_eq!(rotated.client_secret_ciphertext, Some(new_secret.ciphertext.clone()));
    assert_eq!((rotated.secret_updated_at, rotated.updated_at), (Some(later), later));
    assert_eq!(rotated.created_at, conn.created_at);

    let event = connection_event(&conn, AuditAction::ProviderConnectionSecretRotated);
    let foreign = stores.connections.rotate_secret(ws(1), tenant(11), conn.id, new_secret.clone(), later, event).await;
    assert!(matches!(foreign, Err(ConnectionUpdateError::NotFound)));

    let disabled_at = later + Duration::seconds(5);
    let event = connection_event(&conn, AuditAction::ProviderConnectionDisabled);
    let disabled = stores.connections.disable(ws(1), tenant(10), conn.id, disabled_at, event).await.unwrap();
    assert_eq!(disabled.disabled_at, Some(disabled_at));
    let event = connection_event(&conn, AuditAction::ProviderConnectionDisabled);
    let again = stores
        .connections
        .disable(ws(1), tenant(10), conn.id, disabled_at + Duration::seconds(5), event)
        .await
        .unwrap();
    assert_eq!(again.disabled_at, Some(disabled_at), "disabling twice changes nothing");

    let event = connection_event(&conn, AuditAction::ProviderConnectionSecretRotated);
    let refused = stores.connections.rotate_secret(ws(1), tenant(10), conn.id, new_secret, later, event).await;
    assert!(matches!(refused, Err(ConnectionUpdateError::Disabled)));
    let event = connection_event(&conn, AuditAction::ProviderConnectionDisabled);
    let missing = stores.connections.disable(ws(1), tenant(10), connection(1, 10).id, later, event).await;
    assert!(matches!(missing, Err(ConnectionUpdateError::NotFound)));

    assert_eq!(count(stores, AuditAction::ProviderConnectionSecretRotated).await, 1);
    assert_eq!(count(stores, AuditAction::ProviderConnectionDisabled).await, 1);
    assert_eq!(stores.connections.get(conn.workspace_id, conn.tenant_id, conn.id).await.unwrap(), Some(again));
}

/// The secret's expiry is stored with the connection, returned by every read, and replaced —
/// cleared too — by a rotation, because it describes the secret stored.
pub async fn secret_expiry_is_stored_and_replaced_by_rotation(stores: &Stores) {
    let expires = now() + Duration::days(90);
    let conn = crate::domain::ProviderConnection { client_secret_expires_at: Some(expires), ..connection(1, 10) };
    let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
    let created = stores.connections.create(conn.clone(), event).await.unwrap();
    assert_eq!(created.client_secret_expires_at, Some(expires));
    assert_eq!(stores.connections.get(ws(1), tenant(10), conn.id).await.unwrap(), Some(created.clone()));
    assert_eq!(stores.connections.list(ws(1), tenant(10)).await.unwrap(), vec![created]);

    let later = now() + Duration::seconds(5);
    let next = now() + Duration::days(700);
    let secret = NewSecret { ciphertext: SecretCiphertext::from_bytes(vec![7; 40]), expires_at: Some(next) };
    let event = connection_event(&conn, AuditAction::ProviderConnectionSecretRotated);
    let rotated = stores.connections.rotate_secret(ws(1), tenant(10), conn.id, secret, later, event).await.unwrap();
    assert_eq!(rotated.client_secret_expires_at, Some(next));
    assert_eq!(
        stores.connections.get(ws(1), tenant(10), conn.id).await.unwrap().unwrap().client_secret_expires_at,
        Some(next)
    );

    let event = connection_event(&conn, AuditAction::ProviderConnectionSecretRotated);
    let unknown = stores.connections.rotate_secret(ws(1), tenant(10), conn.id, new_secret(vec![8; 40]), later, event);
    assert_eq!(unknown.await.unwrap().client_secret_expires_at, None, "a secret of unknown expiry clears the date");
    assert_eq!(
        stores.connections.get(ws(1), tenant(10), conn.id).await.unwrap().unwrap().client_secret_expires_at,
        None
    );
}
