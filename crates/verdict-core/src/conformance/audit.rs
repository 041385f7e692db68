//! Audit trail behaviour: one gap-free, valid chain per workspace under concurrency.

use std::collections::HashSet;

use super::Stores;
use super::fixtures::*;
use std::collections::BTreeSet;

use crate::domain::{AuditAction, AuditEvent, ChainHash, ChainHeadRecord, GENESIS_HASH, TenantScope};
use crate::ports::{AuditQuery, ChainHead};
use crate::services::verify_chain;

async fn all(stores: &Stores, workspace: i64) -> Vec<AuditEvent> {
    stores
        .audit
        .events(AuditQuery {
            workspace: ws(workspace),
            visible: TenantScope::All,
            tenant: None,
            action: None,
            after_seq: None,
            limit: 100_000,
        })
        .await
        .unwrap()
}

/// 50 concurrent state changes in one workspace give `seq` 1..=50 and a valid chain.
pub async fn concurrent_writes_keep_one_gap_free_chain(stores: &Stores) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let connections = stores.connections.clone();
        let runs = stores.runs.clone();
        tasks.spawn(async move {
            if i % 2 == 0 {
                let conn = connection(1, 10);
                let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
                connections.create(conn, event).await.map(|_| ())
            } else {
                let new = new_run(&identity(1, 10 + i, None), now());
                let event = started(&new);
                runs.start_or_deduplicate(new, event).await.map(|_| ())
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("no write may fail");
    }
    let events = all(stores, 1).await;
    let seqs: Vec<u64> = events.iter().map(AuditEvent::seq).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    assert_eq!(events[0].prev_hash().as_str(), GENESIS_HASH);
    let verification = verify_chain(stores.audit.as_ref(), ws(1)).await.unwrap();
    assert!(verification.valid, "{verification:?}");
    assert_eq!(verification.events_checked, 50);
    let ids: HashSet<_> = events.iter().map(AuditEvent::id).collect();
    assert_eq!(ids.len(), 50);
}

/// An action that appends several events (a blocked start: started, then completed) extends the
/// chain by all of them, adjacent and in order, also while single appends run beside it.
pub async fn multi_event_appends_extend_one_gap_free_chain(stores: &Stores) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let connections = stores.connections.clone();
        let runs = stores.runs.clone();
        tasks.spawn(async move {
            if i % 3 == 0 {
                let conn = connection(1, 10);
                let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
                connections.create(conn, event).await.map(|_| ())
            } else {
                let start = super::runs::blocked_start(&identity(1, 10 + i, None), "No connection.", None);
                runs.start_blocked(start).await.map(|_| ())
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("no write may fail");
    }
    let events = all(stores, 1).await;
    let seqs: Vec<u64> = events.iter().map(AuditEvent::seq).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "10 single appends and 20 of two events");
    let verification = verify_chain(stores.audit.as_ref(), ws(1)).await.unwrap();
    assert!(verification.valid, "{verification:?}");
    for (i, event) in events.iter().enumerate() {
        if event.action() == AuditAction::VerificationStarted {
            let next = events.get(i + 1).expect("a started event is followed by its completion");
            assert_eq!(next.action(), AuditAction::VerificationCompleted, "seq {}", event.seq());
            assert_eq!(next.subject(), event.subject(), "the same run");
        }
    }
    let head = stores.audit.chain_head(ws(1)).await.unwrap().unwrap();
    assert_eq!((head.seq, &head.hash), (50, events[49].hash()));
}

/// Each workspace has its own chain starting at seq 1.
pub async fn chains_are_per_workspace(stores: &Stores) {
    for workspace in [1, 2, 1, 3, 2, 1] {
        let conn = connection(workspace, 10);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        stores.connections.create(conn, event).await.unwrap();
    }
    for (workspace, expected) in [(1, 3), (2, 2), (3, 1), (4, 0)] {
        let events = all(stores, workspace).await;
        assert_eq!(events.len(), expected);
        assert_eq!(events.first().map(AuditEvent::seq), (expected > 0).then_some(1));
        assert!(events.iter().all(|e| e.workspace_id() == ws(workspace)));
        assert!(verify_chain(stores.audit.as_ref(), ws(workspace)).await.unwrap().valid);
    }
}

/// Reads filter by tenant and action, continue after a seq and honour the limit, in seq order.
pub async fn audit_events_filter_and_page_by_seq(stores: &Stores) {
    for t in [10, 11, 10, 12, 10] {
        let conn = connection(1, t);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        stores.connections.create(conn, event).await.unwrap();
    }
    let run = run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    assert_eq!(run.identity.tenant_id, tenant(10));
    let query = |tenant_id: Option<i64>, action: Option<AuditAction>, after_seq: Option<u64>, limit: u32| AuditQuery {
        workspace: ws(1),
        visible: TenantScope::All,
        tenant: tenant_id.map(tenant),
        action,
        after_seq,
        limit,
    };
    let seqs = |events: Vec<AuditEvent>| events.iter().map(AuditEvent::seq).collect::<Vec<_>>();
    assert_eq!(seqs(stores.audit.events(query(None, None, None, 100)).await.unwrap()), [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(seqs(stores.audit.events(query(Some(10), None, None, 100)).await.unwrap()), [1, 3, 5, 6, 7]);
    assert_eq!(
        seqs(stores.audit.events(query(None, Some(AuditAction::VerificationCompleted), None, 100)).await.unwrap()),
        [7]
    );
    assert_eq!(seqs(stores.audit.events(query(None, None, Some(2), 3)).await.unwrap()), [3, 4, 5]);
    assert_eq!(seqs(stores.audit.events(query(Some(10), None, Some(3), 2)).await.unwrap()), [5, 6]);
    assert!(stores.audit.events(query(None, None, Some(7), 100)).await.unwrap().is_empty());
}

/// What is read back hashes to what was stored, links to its predecessor and carries the
/// sanitized metadata exactly.
pub async fn stored_events_keep_their_hash(stores: &Stores) {
    let run = run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    let events = all(stores, 1).await;
    assert_eq!(events.len(), 2);
    let mut prev = ChainHash::genesis();
    for event in &events {
        assert_eq!(event.prev_hash(), &prev);
        assert_eq!(&event.recompute_hash(), event.hash());
        prev = event.hash().clone();
    }
    let completed = &events[1];
    assert_eq!(completed.action(), AuditAction::VerificationCompleted);
    assert_eq!(completed.subject().id, run.id.to_string());
    assert_eq!(completed.metadata()["outcome"], "failed");
    assert_eq!(completed.metadata()["counts"]["total"], 3);
    assert_eq!(completed.tenant_id(), Some(tenant(10)));
}

/// Chain heads name every workspace with events and the seq of its newest one.
pub async fn chain_heads_name_every_workspace_and_its_newest_seq(stores: &Stores) {
    assert!(stores.audit.chain_heads().await.unwrap().is_empty());
    for workspace in [3, 1, 3, 3] {
        let conn = connection(workspace, 10);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        stores.connections.create(conn, event).await.unwrap();
    }
    let heads = stores.audit.chain_heads().await.unwrap();
    assert_eq!(heads, [ChainHead { workspace: ws(1), seq: 1 }, ChainHead { workspace: ws(3), seq: 3 }]);
}

/// The chain head names the newest event's seq and hash, per workspace.
pub async fn chain_head_records_the_newest_event(stores: &Stores) {
    assert_eq!(stores.audit.chain_head(ws(1)).await.unwrap(), None);
    for workspace in [1, 2, 1] {
        let conn = connection(workspace, 10);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        stores.connections.create(conn, event).await.unwrap();
    }
    let newest = all(stores, 1).await.pop().unwrap();
    let head = ChainHeadRecord { seq: 2, hash: newest.hash().clone() };
    assert_eq!(stores.audit.chain_head(ws(1)).await.unwrap(), Some(head));
    assert_eq!(stores.audit.chain_head(ws(2)).await.unwrap().map(|h| h.seq), Some(1));
}

/// A reader entitled to some tenants sees their events and the workspace-level ones only.
pub async fn audit_events_are_visible_by_tenant_entitlement(stores: &Stores) {
    for t in [10, 11, 12] {
        let conn = connection(1, t);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        stores.connections.create(conn, event).await.unwrap();
    }
    let mut workspace_level = connection_event(&connection(1, 10), AuditAction::ProviderConnectionCreated);
    workspace_level.tenant_id = None;
    let conn = connection(1, 13);
    stores.connections.create(conn, workspace_level).await.unwrap();
    let visible = |scope: TenantScope| AuditQuery {
        workspace: ws(1),
        visible: scope,
        tenant: None,
        action: None,
        after_seq: None,
        limit: 100,
    };
    let tenants_of =
        |events: Vec<AuditEvent>| events.iter().map(|e| e.tenant_id().map(|t| t.get())).collect::<Vec<_>>();
    let only_10 = TenantScope::Only(BTreeSet::from([tenant(10)]));
    assert_eq!(tenants_of(stores.audit.events(visible(only_10)).await.unwrap()), [Some(10), None]);
    let none = TenantScope::Only(BTreeSet::new());
    assert_eq!(tenants_of(stores.audit.events(visible(none)).await.unwrap()), [None]);
    assert_eq!(stores.audit.events(visible(TenantScope::All)).await.unwrap().len(), 4);
    let mut filtered = visible(TenantScope::Only(BTreeSet::from([tenant(10), tenant(11)])));
    filtered.tenant = Some(tenant(11));
    assert_eq!(tenants_of(stores.audit.events(filtered).await.unwrap()), [Some(11)]);
}
