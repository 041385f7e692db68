//! Webhook subscriptions and the outbox: deliveries are written with their completion (and only
//! then), fanned out to matching subscriptions, claimed exclusively, due again after a dead
//! dispatcher's claim expires, recorded under the claim, and listed newest first.

use std::collections::HashSet;

use chrono::Duration;
use serde_json::Map;

use super::Stores;
use super::fixtures::*;
use super::runs::blocked_start;
use crate::domain::{
    Actor, AttemptRecord, AttemptResult, AuditAction, DeliveryErrorClass, DeliveryState, EventTypes, OutboundPolicy,
    PageLimit, PendingAuditEvent, ProviderConnectionId, SecretCiphertext, Subject, SubjectType, Webhook,
    WebhookDescription, WebhookEventType, WebhookId, WebhookUrl,
};
use crate::ports::{AuditQuery, CompleteError};

/// A subscription of `workspace` to `events`.
#[must_use]
pub fn webhook(workspace: i64, events: &[WebhookEventType]) -> Webhook {
    let at = now();
    Webhook {
        id: WebhookId::generate(),
        workspace_id: ws(workspace),
        url: WebhookUrl::parse("https://hooks.example.com/verdict?team=ops", OutboundPolicy::default()).unwrap(),
        events: EventTypes::new(events.iter().copied()).unwrap(),
        description: WebhookDescription::parse("On-call alerts").unwrap(),
        secret_ciphertext: SecretCiphertext::from_bytes(vec![9, 8, 7, 6, 5]),
        created_at: at,
        updated_at: at,
        secret_rotated_at: at,
    }
}

fn webhook_event(webhook: &Webhook, action: AuditAction) -> PendingAuditEvent {
    PendingAuditEvent::new(
        now(),
        webhook.workspace_id,
        None,
        Actor::User(user()),
        action,
        Subject { kind: SubjectType::Webhook, id: webhook.id.to_string() },
        Map::new(),
    )
}

async fn subscribe(stores: &Stores, workspace: i64, events: &[WebhookEventType]) -> Webhook {
    let w = webhook(workspace, events);
    let event = webhook_event(&w, AuditAction::WebhookCreated);
    stores.webhooks.create(w, event).await.unwrap()
}

async fn deliveries_of(stores: &Stores, webhook: &Webhook) -> Vec<crate::domain::Delivery> {
    stores.outbox.list(webhook.id, None, PageLimit::new(100).unwrap()).await.unwrap().deliveries
}

/// A blocked stub of a fresh identity in `workspace`: raises `completed` and `regressed`.
async fn blocked_completion(stores: &Stores, workspace: i64) {
    let identity = identity(workspace, 10, Some(ProviderConnectionId::generate()));
    stores.runs.start_blocked(blocked_start(&identity, "No connection.", None)).await.unwrap();
}

/// Subscriptions are created, read within their workspace only, listed, get a new secret and are
/// deleted (with their deliveries), each change with its audit event.
pub async fn webhooks_are_created_rotated_and_deleted_with_their_events(stores: &Stores) {
    let created = subscribe(stores, 1, &[WebhookEventType::Regressed]).await;
    assert_eq!(stores.webhooks.get(ws(1), created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(stores.webhooks.get(ws(2), created.id).await.unwrap(), None, "another workspace");
    let other = subscribe(stores, 2, &[WebhookEventType::Completed]).await;
    assert_eq!(stores.webhooks.list(ws(1)).await.unwrap(), vec![created.clone()]);

    let at = now() + Duration::seconds(3);
    let fresh = SecretCiphertext::from_bytes(vec![1, 1, 2, 3, 5, 8]);
    let event = webhook_event(&created, AuditAction::WebhookSecretRotated);
    let rotated = stores.webhooks.rotate_secret(ws(1), created.id, fresh.clone(), at, event).await.unwrap().unwrap();
    assert_eq!((rotated.secret_ciphertext.clone(), rotated.secret_rotated_at, rotated.updated_at), (fresh, at, at));
    assert_eq!(rotated.created_at, created.created_at);
    let event = webhook_event(&created, AuditAction::WebhookSecretRotated);
    let missing = SecretCiphertext::from_bytes(vec![0]);
    assert!(stores.webhooks.rotate_secret(ws(2), created.id, missing, at, event).await.unwrap().is_none());

    blocked_completion(stores, 1).await;
    assert_eq!(deliveries_of(stores, &created).await.len(), 1);
    let event = webhook_event(&created, AuditAction::WebhookDeleted);
    assert!(!stores.webhooks.delete(ws(2), created.id, event).await.unwrap(), "not in another workspace");
    let event = webhook_event(&created, AuditAction::WebhookDeleted);
    assert!(stores.webhooks.delete(ws(1), created.id, event).await.unwrap());
    assert_eq!(stores.webhooks.get(ws(1), created.id).await.unwrap(), None);
    assert!(deliveries_of(stores, &created).await.is_empty(), "its deliveries go with it");
    assert_eq!(stores.outbox.pending_count().await.unwrap(), 0);
    let event = webhook_event(&created, AuditAction::WebhookDeleted);
    assert!(!stores.webhooks.delete(ws(1), created.id, event).await.unwrap());
    assert_eq!(stores.webhooks.list(ws(2)).await.unwrap(), vec![other]);

    let query = |action| AuditQuery {
        workspace: ws(1),
        visible: crate::domain::TenantScope::All,
        tenant: None,
        action: Some(action),
        after_seq: None,
        limit: 100,
    };
    for (action, count) in
        [(AuditAction::WebhookCreated, 1), (AuditAction::WebhookSecretRotated, 1), (AuditAction::WebhookDeleted, 1)]
    {
        assert_eq!(stores.audit.events(query(action)).await.unwrap().len(), count, "{action:?}");
    }
}

/// A completion writes one pending delivery per (matching subscription of its workspace, event),
/// with the exact payload, due at once.
pub async fn completion_fans_events_out_to_matching_subscriptions(stores: &Stores) {
    let all = subscribe(stores, 1, &WebhookEventType::ALL).await;
    let recovered_only = subscribe(stores, 1, &[WebhookEventType::Recovered]).await;
    let foreign = subscribe(stores, 2, &WebhookEventType::ALL).await;
    let run = run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    let deliveries = deliveries_of(stores, &all).await;
    let mut types: Vec<&str> = deliveries.iter().map(|d| d.event_type.as_str()).collect();
    types.sort_unstable();
    assert_eq!(types, ["verification.completed", "verification.regressed"], "a first report that is not ready");
    for delivery in &deliveries {
        assert_eq!((delivery.state, delivery.attempts, delivery.run_id), (DeliveryState::Pending, 0, run.id));
        assert_eq!((delivery.last_status_code, delivery.last_error), (None, None));
        assert!(delivery.next_attempt_at.is_some_and(|at| at <= now()));
    }
    assert!(deliveries_of(stores, &recovered_only).await.is_empty(), "not subscribed to these types");
    assert!(deliveries_of(stores, &foreign).await.is_empty(), "another workspace");
    assert_eq!(stores.outbox.pending_count().await.unwrap(), 2);
    let claimed = stores.outbox.claim_due(&owner("d"), now(), now() + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    for c in &claimed {
        assert_eq!((c.url.as_str(), &c.secret_ciphertext), (all.url.as_str(), &all.secret_ciphertext));
        let payload: serde_json::Value = serde_json::from_str(&c.payload).unwrap();
        assert_eq!(payload["id"], c.delivery.event_id.to_string());
        assert_eq!(payload["type"], c.delivery.event_type.as_str());
        assert_eq!(payload["data"]["run_id"], run.id.to_string());
    }
}

/// A completion that is refused (lease lost, or already completed) writes no delivery; so does a
/// blocked start answered by an existing stub. A blocked stub that is written fans out.
pub async fn a_failed_completion_writes_no_deliveries(stores: &Stores) {
    let subscription = subscribe(stores, 1, &WebhookEventType::ALL).await;
    let new = new_run(&identity(1, 10, None), now());
    let event = started(&new);
    stores.runs.start_or_deduplicate(new, event).await.unwrap();
    let holder = owner("holder");
    let at = now();
    let run = stores.queue.claim_next(&holder, at, at + Duration::seconds(60)).await.unwrap().unwrap();
    let r = report(&run, mixed_checks(), None);
    let done = completion(r.clone());
    let events = crate::rules::completion_events(run.id, &run.identity, &done, None);
    let refused =
        stores.queue.complete(run.id, &owner("intruder"), done.clone(), completed(&run, &r), events.clone()).await;
    assert!(matches!(refused, Err(CompleteError::LeaseLost)), "{refused:?}");
    assert!(deliveries_of(stores, &subscription).await.is_empty(), "a refused completion writes no delivery");
    stores.queue.complete(run.id, &holder, done.clone(), completed(&run, &r), events.clone()).await.unwrap();
    assert_eq!(deliveries_of(stores, &subscription).await.len(), 2);
    let again = stores.queue.complete(run.id, &holder, done, completed(&run, &r), events).await;
    assert!(matches!(again, Err(CompleteError::AlreadyCompleted)));
    assert_eq!(deliveries_of(stores, &subscription).await.len(), 2, "completing again writes nothing");

    let identity = identity(1, 10, Some(ProviderConnectionId::generate()));
    stores.runs.start_blocked(blocked_start(&identity, "No connection.", None)).await.unwrap();
    assert_eq!(deliveries_of(stores, &subscription).await.len(), 4, "a blocked stub is a completion");
    stores.runs.start_blocked(blocked_start(&identity, "No connection.", None)).await.unwrap();
    assert_eq!(deliveries_of(stores, &subscription).await.len(), 4, "a reused stub writes nothing");
}

/// Concurrent dispatchers never claim the same delivery; every due delivery is claimed once.
pub async fn concurrent_delivery_claims_never_share_a_delivery(stores: &Stores) {
    subscribe(stores, 1, &WebhookEventType::ALL).await;
    for _ in 0..6 {
        blocked_completion(stores, 1).await;
    }
    let at = now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let outbox = stores.outbox.clone();
        tasks.spawn(async move {
            let owner = owner(&format!("dispatcher-{i}"));
            outbox.claim_due(&owner, at, at + Duration::seconds(60), 2).await
        });
    }
    let mut claimed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        claimed.extend(result.unwrap().expect("claims must not fail").into_iter().map(|c| c.delivery.event_id));
    }
    let unique: HashSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 12, "every delivery claimed once");
    assert_eq!(unique.len(), 12, "no delivery claimed twice");
}

/// A delivery whose dispatcher died becomes due again when the claim expires; the next claim
/// counts another attempt, and the dead dispatcher's late record is refused.
pub async fn a_delivery_claimed_by_a_dead_dispatcher_is_due_again(stores: &Stores) {
    let subscription = subscribe(stores, 1, &[WebhookEventType::Completed]).await;
    blocked_completion(stores, 1).await;
    let (a, b) = (owner("dispatcher-a"), owner("dispatcher-b"));
    let t0 = now();
    let first = stores.outbox.claim_due(&a, t0, t0 + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].delivery.attempts, 1);
    let t1 = t0 + Duration::seconds(30);
    assert!(stores.outbox.claim_due(&b, t1, t1 + Duration::seconds(60), 10).await.unwrap().is_empty());
    assert_eq!(stores.outbox.next_due_at().await.unwrap(), Some(t0 + Duration::seconds(60)));
    let t2 = t0 + Duration::seconds(61);
    let second = stores.outbox.claim_due(&b, t2, t2 + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!((second[0].delivery.event_id, second[0].delivery.attempts), (first[0].delivery.event_id, 2));
    let d = &first[0].delivery;
    let late = AttemptRecord::decide(1, AttemptResult::Status(200), t2);
    assert!(!stores.outbox.record_attempt(d.webhook_id, d.event_id, &a, 1, late).await.unwrap(), "fenced");
    let done = AttemptRecord::decide(2, AttemptResult::Status(204), t2);
    assert!(stores.outbox.record_attempt(d.webhook_id, d.event_id, &b, 2, done).await.unwrap());
    let listed = deliveries_of(stores, &subscription).await;
    assert_eq!(
        (listed[0].state, listed[0].attempts, listed[0].last_status_code),
        (DeliveryState::Delivered, 2, Some(204))
    );
    assert_eq!(listed[0].next_attempt_at, None);
    assert!(!stores.outbox.record_attempt(d.webhook_id, d.event_id, &b, 2, done).await.unwrap(), "recorded once");
}

/// Attempts are recorded as the retry schedule says: a failure waits for its pause (and is not
/// claimable before), the last failure is final; pages list newest first without gaps.
pub async fn attempts_follow_the_retry_schedule_and_pages_list_newest_first(stores: &Stores) {
    let subscription = subscribe(stores, 1, &[WebhookEventType::Completed]).await;
    for _ in 0..3 {
        blocked_completion(stores, 1).await;
    }
    let d = owner("dispatcher");
    let t0 = now();
    let claimed = stores.outbox.claim_due(&d, t0, t0 + Duration::seconds(60), 1).await.unwrap();
    let first = &claimed[0].delivery;
    let failure = AttemptRecord::decide(1, AttemptResult::Status(500), t0);
    assert!(stores.outbox.record_attempt(first.webhook_id, first.event_id, &d, 1, failure).await.unwrap());
    let retry_at = t0 + Duration::seconds(5);
    let others = stores.outbox.claim_due(&d, t0 + Duration::seconds(4), t0 + Duration::seconds(64), 10).await.unwrap();
    assert!(others.iter().all(|c| c.delivery.event_id != first.event_id), "not before its pause");
    for other in &others {
        let record = AttemptRecord::decide(1, AttemptResult::Error(DeliveryErrorClass::Timeout), t0);
        assert!(
            stores
                .outbox
                .record_attempt(other.delivery.webhook_id, other.delivery.event_id, &d, 1, record)
                .await
                .unwrap()
        );
    }
    assert_eq!(stores.outbox.next_due_at().await.unwrap(), Some(retry_at));
    let again = stores.outbox.claim_due(&d, retry_at, retry_at + Duration::seconds(60), 1).await.unwrap();
    assert_eq!((again[0].delivery.event_id, again[0].delivery.attempts), (first.event_id, 2));
    let last = AttemptRecord::decide(7, AttemptResult::Error(DeliveryErrorClass::Connect), retry_at);
    assert_eq!(last.state(), DeliveryState::Failed);
    // Recorded as attempt 2 under the claim, with the final state the 7th failure leaves.
    assert!(stores.outbox.record_attempt(first.webhook_id, first.event_id, &d, 2, last).await.unwrap());
    assert_eq!(stores.outbox.pending_count().await.unwrap(), 2);

    let page = PageLimit::new(2).unwrap();
    let one = stores.outbox.list(subscription.id, None, page).await.unwrap();
    assert_eq!(one.deliveries.len(), 2);
    let two = stores.outbox.list(subscription.id, one.next, page).await.unwrap();
    assert_eq!((two.deliveries.len(), two.next), (1, None));
    let ids: Vec<_> = one.deliveries.iter().chain(&two.deliveries).map(|x| x.event_id).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "newest event first");
    let failed = one.deliveries.iter().chain(&two.deliveries).find(|x| x.event_id == first.event_id).unwrap();
    assert_eq!(
        (failed.state, failed.last_error, failed.last_status_code, failed.next_attempt_at),
        (DeliveryState::Failed, Some(DeliveryErrorClass::Connect), None, None)
    );
    let timed_out = one.deliveries.iter().chain(&two.deliveries).find(|x| x.event_id != first.event_id).unwrap();
    assert_eq!((timed_out.state, timed_out.last_error), (DeliveryState::Pending, Some(DeliveryErrorClass::Timeout)));
    assert_eq!(timed_out.last_attempt_at, Some(t0));
}
