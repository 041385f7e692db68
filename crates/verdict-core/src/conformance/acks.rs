//! Acknowledgement store behaviour: one immutable row per (run, check), audited.

use super::Stores;
use super::fixtures::*;
use crate::domain::{AuditAction, ProviderConnectionId, TenantScope};
use crate::ports::{AckInsertError, AuditQuery};

async fn ack_events(stores: &Stores) -> usize {
    stores
        .audit
        .events(AuditQuery {
            workspace: ws(1),
            visible: TenantScope::All,
            tenant: None,
            action: Some(AuditAction::CheckAcknowledged),
            after_seq: None,
            limit: 1000,
        })
        .await
        .unwrap()
        .len()
}

/// A second acknowledgement of the same check returns the first and writes nothing.
pub async fn acknowledgement_is_unique_per_run_and_check(stores: &Stores) {
    let run = run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    let first = acknowledgement(&run, "b");
    let event = acknowledged(&first);
    let stored = stores.acknowledgements.acknowledge(first.clone(), event).await.unwrap();
    assert_eq!(stored.id, first.id);
    assert_eq!(stored.reason, first.reason);
    assert_eq!(stored.expires_at, first.expires_at);
    assert_eq!(stored.acknowledged_at, first.acknowledged_at);

    let mut second = acknowledgement(&run, "b");
    second.reason = crate::domain::AckReason::parse("another reason").unwrap();
    let event = acknowledged(&second);
    match stores.acknowledgements.acknowledge(second, event).await {
        Err(AckInsertError::AlreadyAcknowledged(existing)) => assert_eq!(*existing, stored),
        other => panic!("expected AlreadyAcknowledged, got {other:?}"),
    }
    let other_check = acknowledgement(&run, "c");
    let event = acknowledged(&other_check);
    stores.acknowledgements.acknowledge(other_check, event).await.unwrap();

    let rows = stores.acknowledgements.list_for_run(run.id).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], stored);
    assert_eq!(ack_events(stores).await, 2);
    let other_run =
        run_to_completion(stores, &identity(1, 10, Some(ProviderConnectionId::generate())), mixed_checks()).await;
    assert!(stores.acknowledgements.list_for_run(other_run.id).await.unwrap().is_empty());
}

/// Concurrent acknowledgements of one check: exactly one wins, the rest see it.
pub async fn concurrent_acknowledgements_have_one_winner(stores: &Stores) {
    let run = run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let acks = stores.acknowledgements.clone();
        let ack = acknowledgement(&run, "b");
        tasks.spawn(async move {
            let event = acknowledged(&ack);
            acks.acknowledge(ack, event).await
        });
    }
    let (mut won, mut lost) = (Vec::new(), Vec::new());
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(ack) => won.push(ack),
            Err(AckInsertError::AlreadyAcknowledged(existing)) => lost.push(*existing),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won.len(), 1);
    assert_eq!(lost.len(), 19);
    assert!(lost.iter().all(|a| a.id == won[0].id));
    assert_eq!(ack_events(stores).await, 1);
}

/// Acknowledging a run that does not exist fails and writes nothing.
pub async fn acknowledgement_of_a_missing_run_writes_nothing(stores: &Stores) {
    let mut run = run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    run.id = crate::domain::RunId::generate();
    let ack = acknowledgement(&run, "b");
    let event = acknowledged(&ack);
    assert!(matches!(stores.acknowledgements.acknowledge(ack, event).await, Err(AckInsertError::RunNotFound)));
    // A real run named under another tenant's scope is just as missing.
    run.id =
        run_to_completion(stores, &identity(1, 10, Some(ProviderConnectionId::generate())), mixed_checks()).await.id;
    let mut foreign = acknowledgement(&run, "b");
    foreign.tenant_id = tenant(11);
    let event = acknowledged(&foreign);
    assert!(matches!(stores.acknowledgements.acknowledge(foreign, event).await, Err(AckInsertError::RunNotFound)));
    assert_eq!(ack_events(stores).await, 0);
}
