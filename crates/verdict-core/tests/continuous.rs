//! Continuous verification over the in-memory fakes with a manual clock: schedules fire as the
//! system, re-arm with bounded jitter and catch up once; completions raise the four event types;
//! the dispatcher signs, retries on the backoff schedule, honours a rotated secret and gives up.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::domain::{
    Actor, AttemptResult, AuditAction, Capability, CheckStatus, ClientId, ClientSecret, DeliveryErrorClass,
    DeliveryState, DirectoryId, DisplayName, EventTypes, LeaseOwner, Membership, PageLimit, Principal,
    ProviderConnectionId, ReasonCode, RunId, ScheduleInterval, TenantId, TenantScope, UserId, WebhookDescription,
    WebhookEventType, WorkspaceId,
};
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::FlowCatalog;
use verdict_core::ports::{
    AuditLog, AuditQuery, Clock, ContinuousObserver, DeliveryOutbox, ManualClock, NoQueueNotifier, OutboundRequest,
    RunStore, ScheduleStore, ScheduledStart, WebhookTransport,
};
use verdict_core::services::{
    ConnectionService, CreateConnection, CreateWebhook, DispatcherService, Ports, RunnerService, ScheduleError,
    ScheduleService, SchedulerService, SetSchedule, WebhookError, WebhookService, WebhookWithSecret,
};

struct World {
    store: InMemoryStore,
    clock: Arc<ManualClock>,
    observed: Arc<Observed>,
    ports: Ports,
}

#[derive(Default)]
struct Observed {
    fired: Mutex<Vec<(Duration, ScheduledStart)>>,
    attempts: Mutex<Vec<(WebhookEventType, AttemptResult, DeliveryState)>>,
}

impl ContinuousObserver for Observed {
    fn schedule_fired(&self, lag: Duration, result: ScheduledStart) {
        self.fired.lock().unwrap().push((lag, result));
    }
    fn delivery_attempted(&self, event_type: WebhookEventType, result: AttemptResult, state: DeliveryState) {
        self.attempts.lock().unwrap().push((event_type, result, state));
    }
}

fn world() -> World {
    let store = InMemoryStore::new();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let observed = Arc::new(Observed::default());
    let cipher = Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap());
    let ports = Ports::over(&store, cipher, Arc::new(FlowCatalog::builtin().unwrap()), Arc::new(NoQueueNotifier))
        .with_clock(clock.clone())
        .with_observer(observed.clone());
    World { store, clock, observed, ports }
}

fn ws() -> WorkspaceId {
    WorkspaceId::new(1).unwrap()
}
fn t10() -> TenantId {
    TenantId::new(10).unwrap()
}

fn principal(capabilities: &[Capability], tenants: TenantScope) -> Principal {
    Principal {
        user_id: UserId::parse("user-42").unwrap(),
        memberships: vec![Membership {
            workspace_id: ws(),
            tenant_ids: tenants,
            capabilities: capabilities.iter().copied().collect(),
        }],
    }
}

fn admin() -> Principal {
    principal(&Capability::ALL, TenantScope::All)
}

async fn create_connection(w: &World) -> ProviderConnectionId {
    let connections = ConnectionService::new(w.ports.clone());
    let permit = connections.authorize_create(&admin(), ws(), t10()).unwrap();
    let request = CreateConnection {
        display_name: DisplayName::parse("Contoso").unwrap(),
        entra_tenant_id: DirectoryId::parse("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f").unwrap(),
        client_id: ClientId::parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").unwrap(),
        client_secret: ClientSecret::parse("Zq8~verdict-test-client-secret.0123456789".to_owned()).unwrap(),
        client_secret_expires_at: None,
    };
    connections.create(permit, request).await.unwrap().id
}

async fn set_schedule(
    w: &World,
    connection: ProviderConnectionId,
    interval: &str,
    first_run_at: Option<chrono::DateTime<Utc>>,
) -> Result<verdict_core::domain::Schedule, ScheduleError> {
    let schedules = ScheduleService::new(w.ports.clone());
    let permit = schedules.authorize_change(&admin(), ws(), t10(), connection).await?;
    schedules.set(permit, SetSchedule { interval: ScheduleInterval::parse(interval).unwrap(), first_run_at }).await
}

async fn runs_of(w: &World) -> Vec<verdict_core::domain::RunSummary> {
    let query = verdict_core::domain::RunListQuery {
        workspace_id: ws(),
        tenant_id: t10(),
        flow: None,
        status: None,
        provider_connection_id: None,
        limit: PageLimit::new(100).unwrap(),
        after: None,
    };
    RunStore::list(&w.store, query).await.unwrap().runs
}

fn scheduler_owner() -> LeaseOwner {
    LeaseOwner::parse("scheduler-test").unwrap()
}

#[tokio::test]
async fn a_due_schedule_starts_a_system_run_and_rearms_with_bounded_jitter() {
    let w = world();
    let connection = create_connection(&w).await;
    let start = w.clock.now();
    let schedule = set_schedule(&w, connection, "PT6H", None).await.unwrap();
    assert_eq!(schedule.next_run_at, start + Duration::hours(6), "by default one interval from now");
    let scheduler = SchedulerService::new(w.ports.clone());
    assert_eq!(scheduler.fire_due(&scheduler_owner()).await.unwrap(), 0, "not due yet");

    let mut fired_at = Vec::new();
    for round in 0..20 {
        let due = ScheduleStore::get(&w.store, ws(), t10(), connection).await.unwrap().unwrap().next_run_at;
        w.clock.advance(due - w.clock.now() + Duration::seconds(2));
        let now = w.clock.now();
        assert_eq!(scheduler.fire_due(&scheduler_owner()).await.unwrap(), 1, "round {round}");
        fired_at.push(now);
        let next = ScheduleStore::get(&w.store, ws(), t10(), connection).await.unwrap().unwrap().next_run_at;
        assert!(next >= now + Duration::hours(6), "round {round}: at least one interval later");
        assert!(next <= now + Duration::hours(6) + Duration::minutes(36), "round {round}: at most 10 % jitter");
        assert_eq!(scheduler.fire_due(&scheduler_owner()).await.unwrap(), 0, "fires once per due time");
        // Each round's run completes (as a worker would), so the next start is not deduplicated.
        complete_next(&w, &[]).await;
    }
    let jitters: BTreeSet<i64> = fired_at
        .windows(2)
        .map(|pair| (pair[1] - pair[0] - Duration::hours(6) - Duration::seconds(2)).num_milliseconds())
        .collect();
    assert!(jitters.len() > 1, "jitter varies between rounds: {jitters:?}");

    let runs = runs_of(&w).await;
    assert_eq!(runs.len(), 20);
    assert!(runs.iter().all(|r| r.initiator_user_id.is_none()), "system-started runs have no initiator");
    let events = w.store.events(AuditQuery::whole_chain(ws(), None, 1000)).await.unwrap();
    let started: Vec<_> = events.iter().filter(|e| e.action() == AuditAction::VerificationStarted).collect();
    assert_eq!(started.len(), 20);
    assert!(started.iter().all(|e| e.actor() == &Actor::System("scheduler".to_owned())));
    let fired = w.observed.fired.lock().unwrap();
    assert!(fired.iter().all(|(lag, result)| *result == ScheduledStart::Created && *lag == Duration::seconds(2)));
}

#[tokio::test]
async fn after_downtime_a_schedule_catches_up_once_and_an_active_run_is_not_doubled() {
    let w = world();
    let connection = create_connection(&w).await;
    set_schedule(&w, connection, "PT5M", None).await.unwrap();
    let scheduler = SchedulerService::new(w.ports.clone());
    // The cluster was down for three hours: 36 intervals missed.
    w.clock.advance(Duration::hours(3));
    let now = w.clock.now();
    assert_eq!(scheduler.fire_due(&scheduler_owner()).await.unwrap(), 1);
    assert_eq!(scheduler.fire_due(&scheduler_owner()).await.unwrap(), 0, "once, not once per missed interval");
    assert_eq!(runs_of(&w).await.len(), 1);
    let next = ScheduleStore::get(&w.store, ws(), t10(), connection).await.unwrap().unwrap().next_run_at;
    assert!(next >= now + Duration::minutes(5) && next <= now + Duration::minutes(5) + Duration::seconds(30));
    let (lag, _) = w.observed.fired.lock().unwrap()[0];
    assert_eq!(lag, Duration::hours(3) - Duration::minutes(5), "lag: how long past due it started");

    // Still queued when it is due again: the start dedupes (docs/contract.md#idempotent-starts).
    w.clock.advance(Duration::minutes(6));
    assert_eq!(scheduler.fire_due(&scheduler_owner()).await.unwrap(), 1);
    assert_eq!(runs_of(&w).await.len(), 1);
    assert_eq!(w.observed.fired.lock().unwrap()[1].1, ScheduledStart::Deduplicated);
}

#[tokio::test]
async fn schedules_are_validated_and_authorized() {
    let w = world();
    let connection = create_connection(&w).await;
    let now = w.clock.now();
    assert!(matches!(
        set_schedule(&w, connection, "PT6H", Some(now + Duration::hours(6) + Duration::seconds(1))).await,
        Err(ScheduleError::FirstRunTooLate)
    ));
    let exact = set_schedule(&w, connection, "PT6H", Some(now + Duration::hours(6))).await.unwrap();
    assert_eq!(exact.next_run_at, now + Duration::hours(6));
    let soon = set_schedule(&w, connection, "PT6H", Some(now - Duration::minutes(1))).await.unwrap();
    assert_eq!(soon.next_run_at, now - Duration::minutes(1), "a past first run means as soon as possible");
    assert_eq!(soon.created_at, exact.created_at);

    let schedules = ScheduleService::new(w.ports.clone());
    let viewer = principal(&[], TenantScope::Only(BTreeSet::from([t10()])));
    let foreign = principal(&Capability::ALL, TenantScope::Only(BTreeSet::from([TenantId::new(11).unwrap()])));
    assert!(matches!(
        schedules.authorize_change(&viewer, ws(), t10(), connection).await,
        Err(ScheduleError::Forbidden)
    ));
    assert!(matches!(
        schedules.authorize_change(&viewer, ws(), t10(), ProviderConnectionId::generate()).await,
        Err(ScheduleError::NotFound)
    ));
    assert!(matches!(
        schedules.authorize_change(&foreign, ws(), t10(), connection).await,
        Err(ScheduleError::NotFound)
    ));
    assert_eq!(schedules.get(&viewer, ws(), t10(), connection).await.unwrap().interval.as_str(), "PT6H");
    assert!(matches!(schedules.get(&foreign, ws(), t10(), connection).await, Err(ScheduleError::NotFound)));

    let permit = schedules.authorize_change(&admin(), ws(), t10(), connection).await.unwrap();
    schedules.remove(permit).await.unwrap();
    let permit = schedules.authorize_change(&admin(), ws(), t10(), connection).await.unwrap();
    assert!(matches!(schedules.remove(permit).await, Err(ScheduleError::NotFound)));
    let actions: Vec<AuditAction> =
        w.store.events(AuditQuery::whole_chain(ws(), None, 100)).await.unwrap().iter().map(|e| e.action()).collect();
    assert_eq!(
        actions,
        [
            AuditAction::ProviderConnectionCreated,
            AuditAction::ScheduleSet,
            AuditAction::ScheduleSet,
            AuditAction::ScheduleRemoved
        ]
    );
}

/// Completes the next queued run with every check passing except `failing` ones.
async fn complete_next(w: &World, failing: &[&str]) -> RunId {
    let runner = RunnerService::new(w.ports.clone(), Duration::seconds(30));
    let owner = LeaseOwner::parse("test-worker").unwrap();
    let mut claimed = runner.claim(&owner).await.unwrap().expect("a queued run");
    for mut check in claimed.checks().to_vec() {
        let fails = failing.contains(&check.key.as_str());
        check.status = if fails { CheckStatus::Fail } else { CheckStatus::Pass };
        check.reason_code = if fails { ReasonCode::PERMISSION_DENIED } else { ReasonCode::OK };
        runner.record(&mut claimed, check).await.unwrap();
    }
    runner.complete(&claimed).await.unwrap().id
}

async fn subscribe(w: &World, events: &[WebhookEventType]) -> WebhookWithSecret {
    let webhooks = WebhookService::new(w.ports.clone());
    let permit = webhooks.authorize_manage(&admin(), ws()).unwrap();
    let request = CreateWebhook {
        url: "https://hooks.example.com/verdict".to_owned(),
        events: EventTypes::new(events.iter().copied()).unwrap(),
        description: WebhookDescription::parse("tests").unwrap(),
    };
    webhooks.create(permit, request).await.unwrap()
}

async fn types_delivered(w: &World, subscription: &WebhookWithSecret) -> Vec<WebhookEventType> {
    let page =
        DeliveryOutbox::list(&w.store, subscription.webhook.id, None, PageLimit::new(100).unwrap()).await.unwrap();
    let mut types: Vec<_> = page.deliveries.iter().map(|d| d.event_type).collect();
    types.sort();
    types
}

#[tokio::test]
async fn completions_raise_completed_changed_regressed_and_recovered() {
    use WebhookEventType::{Changed, Completed, Recovered, Regressed};
    let w = world();
    let connection = create_connection(&w).await;
    let subscription = subscribe(&w, &WebhookEventType::ALL).await;
    let verifications = verdict_core::services::VerificationService::new(w.ports.clone());
    let mut expected: Vec<WebhookEventType> = Vec::new();
    for (failing, raised) in [
        (&["permissions.intune_apps"][..], &[Completed, Regressed][..]), // a first report that is not ready
        (&["permissions.intune_apps"][..], &[Completed][..]),            // unchanged
        (&[][..], &[Completed, Changed, Recovered][..]),                 // back to ready
        (&["graph.organization"][..], &[Completed, Changed, Regressed][..]), // a blocker appears
    ] {
        let permit = verifications.authorize_start(&admin(), ws(), t10()).unwrap();
        let flow = verdict_core::domain::FlowId::parse("provider.connection.check").unwrap();
        verifications.start(permit, flow, Some(connection)).await.unwrap();
        complete_next(&w, failing).await;
        w.clock.advance(Duration::seconds(1));
        expected.extend_from_slice(raised);
        expected.sort();
        assert_eq!(types_delivered(&w, &subscription).await, expected, "after failing {failing:?}");
    }
    // A blocked stub is a completion too: its events reach the outbox with it.
    let permit = verifications.authorize_start(&admin(), ws(), t10()).unwrap();
    let flow = verdict_core::domain::FlowId::parse("provider.connection.check").unwrap();
    verifications.start(permit, flow, None).await.unwrap();
    expected.extend_from_slice(&[Completed, Regressed]);
    expected.sort();
    assert_eq!(types_delivered(&w, &subscription).await, expected);
}

/// A transport that answers from a script and keeps every request.
#[derive(Default)]
struct ScriptedTransport {
    answers: Mutex<Vec<AttemptResult>>,
    sent: Mutex<Vec<OutboundRequest>>,
}

#[async_trait]
impl WebhookTransport for ScriptedTransport {
    async fn send(&self, request: OutboundRequest) -> AttemptResult {
        self.sent.lock().unwrap().push(request);
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() { AttemptResult::Status(200) } else { answers.remove(0) }
    }
}

/// Verifies a Standard Webhooks signature with the `hmac` crate directly, independently of core.
fn signature_valid(whsec: &str, request: &OutboundRequest) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(whsec.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", request.webhook_id, request.webhook_timestamp, request.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    request.webhook_signature == format!("v1,{expected}")
}

#[tokio::test]
async fn the_dispatcher_signs_retries_on_the_backoff_schedule_and_uses_a_rotated_secret() {
    let w = world();
    let subscription = subscribe(&w, &[WebhookEventType::Completed]).await;
    let verifications = verdict_core::services::VerificationService::new(w.ports.clone());
    let permit = verifications.authorize_start(&admin(), ws(), t10()).unwrap();
    let flow = verdict_core::domain::FlowId::parse("provider.connection.check").unwrap();
    verifications.start(permit, flow, None).await.unwrap();

    let transport = Arc::new(ScriptedTransport::default());
    transport.answers.lock().unwrap().extend([AttemptResult::Status(500), AttemptResult::Status(503)]);
    let dispatcher = DispatcherService::new(w.ports.clone(), transport.clone());
    let owner = LeaseOwner::parse("dispatcher-test").unwrap();
    assert_eq!(dispatcher.dispatch_due(&owner).await.unwrap(), 1);
    let first = transport.sent.lock().unwrap()[0].clone();
    assert!(signature_valid(&subscription.secret.expose_whsec(), &first));
    assert_eq!(first.webhook_timestamp, w.clock.now().timestamp());
    let payload: serde_json::Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(payload["id"], first.webhook_id.as_str());
    assert_eq!(payload["type"], "verification.completed");

    // Not before the first pause (5 s); then again, with the same id and body.
    w.clock.advance(Duration::seconds(4));
    assert_eq!(dispatcher.dispatch_due(&owner).await.unwrap(), 0);
    assert_eq!(dispatcher.next_due_at().await.unwrap(), Some(w.clock.now() + Duration::seconds(1)));
    // The secret is rotated between attempts: the retry is signed with the new one only.
    let webhooks = WebhookService::new(w.ports.clone());
    let permit = webhooks.authorize_webhook(&admin(), ws(), subscription.webhook.id).await.unwrap();
    let rotated = webhooks.rotate_secret(permit).await.unwrap();
    w.clock.advance(Duration::seconds(1));
    assert_eq!(dispatcher.dispatch_due(&owner).await.unwrap(), 1);
    let second = transport.sent.lock().unwrap()[1].clone();
    assert_eq!((&second.webhook_id, &second.body), (&first.webhook_id, &first.body), "the same message");
    assert!(signature_valid(&rotated.secret.expose_whsec(), &second));
    assert!(!signature_valid(&subscription.secret.expose_whsec(), &second), "never the old secret");

    w.clock.advance(Duration::seconds(30));
    assert_eq!(dispatcher.dispatch_due(&owner).await.unwrap(), 1);
    let page =
        DeliveryOutbox::list(&w.store, subscription.webhook.id, None, PageLimit::new(10).unwrap()).await.unwrap();
    let delivery = &page.deliveries[0];
    assert_eq!(
        (delivery.state, delivery.attempts, delivery.last_status_code),
        (DeliveryState::Delivered, 3, Some(200))
    );
    let attempts = w.observed.attempts.lock().unwrap().clone();
    let states: Vec<DeliveryState> = attempts.iter().map(|(_, _, s)| *s).collect();
    assert_eq!(states, [DeliveryState::Pending, DeliveryState::Pending, DeliveryState::Delivered]);
    assert_eq!(DeliveryOutbox::pending_count(&w.store).await.unwrap(), 0);
}

#[tokio::test]
async fn a_delivery_that_keeps_failing_is_marked_failed_after_the_last_pause() {
    let w = world();
    let subscription = subscribe(&w, &[WebhookEventType::Completed]).await;
    let verifications = verdict_core::services::VerificationService::new(w.ports.clone());
    let permit = verifications.authorize_start(&admin(), ws(), t10()).unwrap();
    let flow = verdict_core::domain::FlowId::parse("provider.connection.check").unwrap();
    verifications.start(permit, flow, None).await.unwrap();
    let transport = Arc::new(ScriptedTransport::default());
    transport.answers.lock().unwrap().extend([AttemptResult::Error(DeliveryErrorClass::Timeout); 7]);
    let dispatcher = DispatcherService::new(w.ports.clone(), transport.clone());
    let owner = LeaseOwner::parse("dispatcher-test").unwrap();
    let mut pauses = Vec::new();
    while let Some(due) = dispatcher.next_due_at().await.unwrap() {
        let before = w.clock.now();
        if due > before {
            w.clock.advance(due - before);
            pauses.push((due - before).num_seconds());
        }
        assert_eq!(dispatcher.dispatch_due(&owner).await.unwrap(), 1);
    }
    assert_eq!(pauses, [5, 30, 120, 600, 3600, 21_600]);
    assert_eq!(transport.sent.lock().unwrap().len(), 7);
    let page =
        DeliveryOutbox::list(&w.store, subscription.webhook.id, None, PageLimit::new(10).unwrap()).await.unwrap();
    let delivery = &page.deliveries[0];
    assert_eq!(
        (delivery.state, delivery.attempts, delivery.last_error, delivery.next_attempt_at),
        (DeliveryState::Failed, 7, Some(DeliveryErrorClass::Timeout), None)
    );
}

#[tokio::test]
async fn webhook_management_needs_the_capability_and_every_tenant() {
    let w = world();
    let webhooks = WebhookService::new(w.ports.clone());
    let scoped = principal(&Capability::ALL, TenantScope::Only(BTreeSet::from([t10()])));
    assert!(matches!(webhooks.authorize_manage(&scoped, ws()), Err(WebhookError::Forbidden)));
    let lacking = principal(&[Capability::AuditRead], TenantScope::All);
    assert!(matches!(webhooks.authorize_manage(&lacking, ws()), Err(WebhookError::Forbidden)));
    let stranger = Principal { user_id: UserId::parse("u").unwrap(), memberships: vec![] };
    assert!(matches!(webhooks.authorize_manage(&stranger, ws()), Err(WebhookError::NotFound)));
    let subscription = subscribe(&w, &[WebhookEventType::Regressed]).await;
    let id = subscription.webhook.id;
    assert!(matches!(webhooks.authorize_webhook(&lacking, ws(), id).await, Err(WebhookError::Forbidden)));
    let missing = verdict_core::domain::WebhookId::generate();
    assert!(matches!(webhooks.authorize_webhook(&lacking, ws(), missing).await, Err(WebhookError::NotFound)));
    assert!(matches!(webhooks.authorize_webhook(&stranger, ws(), id).await, Err(WebhookError::NotFound)));

    let permit = webhooks.authorize_manage(&admin(), ws()).unwrap();
    for bad in ["http://hooks.example.com/", "https://10.0.0.8/", "https://[fd00::1]/", "https://u:p@example.com/"] {
        let request = CreateWebhook {
            url: bad.to_owned(),
            events: EventTypes::new([WebhookEventType::Completed]).unwrap(),
            description: WebhookDescription::default(),
        };
        assert!(matches!(webhooks.create(permit.clone(), request).await, Err(WebhookError::InvalidUrl(_))), "{bad}");
    }
    let events = w.store.events(AuditQuery::whole_chain(ws(), None, 100)).await.unwrap();
    let created = events.iter().find(|e| e.action() == AuditAction::WebhookCreated).unwrap();
    assert_eq!(created.tenant_id(), None, "a workspace-level event");
    let text = serde_json::to_string(&created.to_json()).unwrap();
    assert!(!text.contains(&subscription.secret.expose_whsec()[6..]), "no secret in audit metadata");
    assert!(!text.contains("/verdict"), "the URL's path is not recorded, only its host");
}
