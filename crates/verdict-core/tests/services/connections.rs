//! Provider connections through their service: secrets encrypted and bound to the connection,
//! never audited, their expiry kept on create and replaced on rotation.

use super::*;

#[tokio::test]
async fn secret_expiry_is_kept_on_create_and_replaced_on_rotation() {
    let w = world();
    let connections = ConnectionService::new(w.ports.clone());
    let expires = chrono::DateTime::parse_from_rfc3339("2031-02-03T04:05:06.1234567Z").unwrap().to_utc();
    let request = CreateConnection {
        display_name: DisplayName::parse("Contoso").unwrap(),
        entra_tenant_id: DirectoryId::parse("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f").unwrap(),
        client_id: ClientId::parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").unwrap(),
        client_secret: ClientSecret::parse(SECRET.to_owned()).unwrap(),
        client_secret_expires_at: Some(expires),
    };
    let permit = connections.authorize_create(&admin(), ws(), t10()).unwrap();
    let created = connections.create(permit, request).await.unwrap();
    let micros = verdict_core::domain::to_micros(expires);
    assert_eq!(created.client_secret_expires_at, Some(micros), "stored at the stores' precision");
    let secret = ClientSecret::parse("next-secret-1".to_owned()).unwrap();
    let rotated = rotate(&connections, &admin(), created.id, secret).await.unwrap();
    assert_eq!(rotated.client_secret_expires_at, None, "the old secret's date does not describe the new one");
}

#[tokio::test]
async fn connection_secrets_are_encrypted_bound_and_never_audited() {
    let w = world();
    let connections = ConnectionService::new(w.ports.clone());
    let id = create_connection(&w).await;
    let stored = connections.get(&principal(&[]), ws(), t10(), id).await.unwrap();
    let ciphertext = stored.client_secret_ciphertext.clone().unwrap();
    assert!(!ciphertext.as_bytes().windows(8).any(|win| SECRET.as_bytes().windows(8).any(|s| s == win)));
    assert_eq!(w.cipher.decrypt(id, &ciphertext).unwrap().expose(), SECRET);

    let rotated = rotate(&connections, &admin(), id, ClientSecret::parse("new-secret-value-1".to_owned()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        w.cipher.decrypt(id, rotated.client_secret_ciphertext.as_ref().unwrap()).unwrap().expose(),
        "new-secret-value-1"
    );
    let forbidden = disable(&connections, &principal(&[]), id).await.unwrap_err();
    assert!(matches!(forbidden, ConnectionError::Forbidden));
    disable(&connections, &admin(), id).await.unwrap();
    let err = rotate(&connections, &admin(), id, ClientSecret::parse("x".to_owned()).unwrap()).await.unwrap_err();
    assert!(matches!(err, ConnectionError::Disabled));
    let foreign = connections.get(&admin(), ws(), TenantId::new(11).unwrap(), id).await.unwrap_err();
    assert!(matches!(foreign, ConnectionError::NotFound));

    let events = w.store.events(AuditQuery::whole_chain(ws(), None, 100)).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.action()).collect::<Vec<_>>(),
        [
            AuditAction::ProviderConnectionCreated,
            AuditAction::ProviderConnectionSecretRotated,
            AuditAction::ProviderConnectionDisabled
        ]
    );
    for event in events {
        let json = serde_json::to_string(&event.to_json()).unwrap();
        assert!(!json.contains(SECRET) && !json.contains("new-secret-value-1"), "{json}");
    }
}
