//! The outbox shares the completion's transaction: when any statement of a completion fails —
//! here the audit append, made to fail by a trigger — neither the run's change nor a single
//! delivery is committed; and a subscription deleted during a fan-out fails nothing.

use chrono::Duration;
use verdict_core::conformance::{
    blocked_start, completed, completion, identity, mixed_checks, new_run, now, owner, report, started,
};
use verdict_core::domain::{
    Actor, AuditAction, PageLimit, PendingAuditEvent, RunStatus, Subject, SubjectType, Webhook, WebhookEventType,
};
use verdict_core::ports::{CompleteError, DeliveryOutbox, RunQueue, RunStore, StartOutcome, WebhookStore};

/// A subscription of workspace 1 to every event type.
async fn subscribe(store: &verdict_postgres::PgStore) -> Webhook {
    let subscription = verdict_core::conformance::webhook(1, &WebhookEventType::ALL);
    let event = PendingAuditEvent::new(
        now(),
        subscription.workspace_id,
        None,
        Actor::System("test".into()),
        AuditAction::WebhookCreated,
        Subject { kind: SubjectType::Webhook, id: subscription.id.to_string() },
        serde_json::Map::new(),
    );
    WebhookStore::create(store, subscription.clone(), event).await.unwrap();
    subscription
}

#[tokio::test]
async fn a_completion_whose_transaction_fails_writes_no_delivery() {
    let (store, _database) = crate::support::store().await;
    let subscription = subscribe(&store).await;
    let new = new_run(&identity(1, 10, None), now());
    let event = started(&new);
    store.start_or_deduplicate(new, event).await.unwrap();
    let worker = owner("worker");
    let at = now();
    let run = store.claim_next(&worker, at, at + Duration::seconds(60)).await.unwrap().unwrap();

    sqlx::raw_sql(
        "CREATE FUNCTION fail_completed_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RAISE EXCEPTION 'injected failure'; END; $$; \
         CREATE TRIGGER fail_completed_event BEFORE INSERT ON audit_logs FOR EACH ROW \
         WHEN (NEW.action = 'verification.completed') EXECUTE FUNCTION fail_completed_event();",
    )
    .execute(store.pool())
    .await
    .unwrap();

    let r = report(&run, mixed_checks(), None);
    let done = completion(r.clone());
    let events = verdict_core::rules::completion_events(run.id, &run.identity, &done, None);
    assert_eq!(events.len(), 2);
    let failed = store.complete(run.id, &worker, done.clone(), completed(&run, &r), events.clone()).await;
    assert!(matches!(failed, Err(CompleteError::Store(_))), "{failed:?}");
    let limit = PageLimit::new(10).unwrap();
    assert!(DeliveryOutbox::list(&store, subscription.id, None, limit).await.unwrap().deliveries.is_empty());
    assert_eq!(store.pending_count().await.unwrap(), 0);
    assert_eq!(RunStore::get(&store, run.id).await.unwrap().unwrap().status, RunStatus::Running);

    // Once the cause is gone the same completion commits, deliveries included.
    sqlx::raw_sql("DROP TRIGGER fail_completed_event ON audit_logs").execute(store.pool()).await.unwrap();
    store.complete(run.id, &worker, done, completed(&run, &r), events).await.unwrap();
    assert_eq!(DeliveryOutbox::list(&store, subscription.id, None, limit).await.unwrap().deliveries.len(), 2);
}

/// A subscription deleted while a completion fans out to it: the completion waits for the
/// deletion's transaction and then commits without a delivery to it, instead of failing on the
/// foreign key to the row that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_deleted_during_a_fan_out_gets_no_delivery_and_fails_nothing() {
    let (store, _database) = crate::support::store().await;
    let subscription = subscribe(&store).await;
    let mut deleting = store.pool().begin().await.unwrap();
    sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(subscription.id.as_uuid())
        .execute(&mut *deleting)
        .await
        .unwrap();
    let start = {
        let store = store.clone();
        let blocked = blocked_start(&identity(1, 10, None), "No connection.", None);
        tokio::spawn(async move { store.start_blocked(blocked).await })
    };
    crate::support::until_waiting(&store, 1, "the start never waited for the deletion").await;
    deleting.commit().await.unwrap();
    let outcome = start.await.unwrap();
    assert!(matches!(outcome, Ok(StartOutcome::Created(_))), "{outcome:?}");
    let deliveries: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries").fetch_one(store.pool()).await.unwrap();
    assert_eq!(deliveries, 0);
}
