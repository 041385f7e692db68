//! The services' business sequences over the in-memory fakes: authorization, prerequisites,
//! idempotency, acknowledgement rules, connection secrets and the worker lifecycle.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::domain::{
    AckReason, AuditAction, Capability, CheckKey, CheckStatus, ClientId, ClientSecret, DirectoryId, DisplayName,
    FlowId, LeaseOwner, Membership, Outcome, Overall, PageLimit, Principal, ProviderConnectionId, ReasonCode, RunId,
    RunStatus, TenantId, TenantScope, UserId, WorkspaceId,
};
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::{FlowCatalog, PROVIDER_CONNECTION_CHECK};
use verdict_core::ports::{AuditLog, AuditQuery, ManualClock, NoQueueNotifier, SecretCipher, StartOutcome, StoreError};
use verdict_core::rules::{ChangeState, CheckChangeKind};
use verdict_core::services::{
    Acknowledge, AcknowledgeError, AcknowledgementService, AcknowledgementView, AuditReadError, AuditService,
    ConnectionError, ConnectionService, CreateConnection, ListRuns, MAX_ATTEMPTS, Ports, ReadRunError, RotateSecret,
    RunnerService, StartVerificationError, VerificationService,
};

mod connections;

struct World {
    store: InMemoryStore,
    clock: Arc<ManualClock>,
    cipher: Arc<Aes256GcmCipher>,
    ports: Ports,
}

fn world() -> World {
    let store = InMemoryStore::new();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let cipher = Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap());
    let ports =
        Ports::over(&store, cipher.clone(), Arc::new(FlowCatalog::builtin().unwrap()), Arc::new(NoQueueNotifier))
            .with_clock(clock.clone());
    World { store, clock, cipher, ports }
}

fn ws() -> WorkspaceId {
    WorkspaceId::new(1).unwrap()
}
fn t10() -> TenantId {
    TenantId::new(10).unwrap()
}

fn principal(capabilities: &[Capability]) -> Principal {
    Principal {
        user_id: UserId::parse("user-42").unwrap(),
        memberships: vec![Membership {
            workspace_id: ws(),
            tenant_ids: TenantScope::Only(BTreeSet::from([t10()])),
            capabilities: capabilities.iter().copied().collect(),
        }],
    }
}

fn admin() -> Principal {
    principal(&Capability::ALL)
}

const SECRET: &str = "Zq8~verdict-test-client-secret.0123456789";

async fn create_connection(w: &World) -> ProviderConnectionId {
    let connections = ConnectionService::new(w.ports.clone());
    let permit = connections.authorize_create(&admin(), ws(), t10()).unwrap();
    connections
        .create(
            permit,
            CreateConnection {
                display_name: DisplayName::parse("Contoso").unwrap(),
                entra_tenant_id: DirectoryId::parse("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f").unwrap(),
                client_id: ClientId::parse("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d").unwrap(),
                client_secret: ClientSecret::parse(SECRET.to_owned()).unwrap(),
                client_secret_expires_at: None,
            },
        )
        .await
        .unwrap()
        .id
}

/// What a caller asks to verify.
struct StartVerification {
    workspace_id: WorkspaceId,
    tenant_id: TenantId,
    flow: FlowId,
    provider_connection_id: Option<ProviderConnectionId>,
}

/// Authorizes, then starts: the sequence the HTTP handler follows.
async fn start(
    verifications: &VerificationService,
    principal: &Principal,
    request: StartVerification,
) -> Result<StartOutcome, StartVerificationError> {
    let permit = verifications.authorize_start(principal, request.workspace_id, request.tenant_id)?;
    verifications.start(permit, request.flow, request.provider_connection_id).await
}

async fn disable(
    connections: &ConnectionService,
    principal: &Principal,
    id: ProviderConnectionId,
) -> Result<verdict_core::domain::ProviderConnection, ConnectionError> {
    let permit = connections.authorize_change(principal, ws(), t10(), id).await?;
    connections.disable(permit).await
}

async fn rotate(
    connections: &ConnectionService,
    principal: &Principal,
    id: ProviderConnectionId,
    secret: ClientSecret,
) -> Result<verdict_core::domain::ProviderConnection, ConnectionError> {
    let permit = connections.authorize_change(principal, ws(), t10(), id).await?;
    connections.rotate_secret(permit, RotateSecret { client_secret: secret, client_secret_expires_at: None }).await
}

async fn acknowledge(
    acks: &AcknowledgementService,
    principal: &Principal,
    run: RunId,
    request: Acknowledge,
) -> Result<AcknowledgementView, AcknowledgeError> {
    let permit = acks.authorize(principal, run).await?;
    acks.acknowledge(permit, request).await
}

fn start_request(connection: Option<ProviderConnectionId>) -> StartVerification {
    StartVerification {
        workspace_id: ws(),
        tenant_id: t10(),
        flow: FlowId::parse(PROVIDER_CONNECTION_CHECK).unwrap(),
        provider_connection_id: connection,
    }
}

async fn audit_actions(w: &World) -> Vec<AuditAction> {
    w.store.events(AuditQuery::whole_chain(ws(), None, 1000)).await.unwrap().iter().map(|e| e.action()).collect()
}

#[tokio::test]
async fn start_requires_membership_entitlement_and_capability() {
    let w = world();
    let verifications = VerificationService::new(w.ports.clone());
    let mut foreign = start_request(None);
    foreign.tenant_id = TenantId::new(11).unwrap();
    assert!(matches!(start(&verifications, &admin(), foreign).await, Err(StartVerificationError::NotFound)));
    let viewer = principal(&[]);
    assert!(matches!(
        start(&verifications, &viewer, start_request(None)).await,
        Err(StartVerificationError::Forbidden)
    ));
    let mut unknown = start_request(None);
    unknown.flow = FlowId::parse("no.such.flow").unwrap();
    assert!(matches!(start(&verifications, &admin(), unknown).await, Err(StartVerificationError::UnknownFlow)));
    assert!(audit_actions(&w).await.is_empty(), "refused starts write nothing");
}

#[tokio::test]
async fn a_queued_start_wakes_workers_once() {
    let mut w = world();
    let connection = create_connection(&w).await;
    let mut notifier = verdict_core::ports::MockQueueNotifier::new();
    notifier.expect_run_queued().times(1).return_const(());
    w.ports.notifier = Arc::new(notifier);
    let verifications = VerificationService::new(w.ports.clone());
    start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    start(&verifications, &admin(), start_request(None)).await.unwrap();
}

#[tokio::test]
async fn a_start_without_a_usable_connection_is_completed_as_blocked() {
    let w = world();
    let verifications = VerificationService::new(w.ports.clone());
    let outcome = start(&verifications, &admin(), start_request(None)).await.unwrap();
    let StartOutcome::Created(run) = outcome else { panic!("a blocked start creates a run") };
    assert_eq!((run.status, run.outcome), (RunStatus::Completed, Outcome::Blocked));
    let report = run.report.as_ref().unwrap();
    assert_eq!(report.summary().overall, Overall::Blocked);
    assert_eq!(report.checks()[0].reason_code, ReasonCode::MISSING_CONFIGURATION);
    assert_eq!(audit_actions(&w).await, [AuditAction::VerificationStarted, AuditAction::VerificationCompleted]);

    // A connection of another tenant is as missing as none at all.
    let missing = start(&verifications, &admin(), start_request(Some(ProviderConnectionId::generate()))).await.unwrap();
    assert_eq!(missing.run().outcome, Outcome::Blocked);

    // A disabled connection blocks too, and the stub links the identity's previous report.
    let connection = create_connection(&w).await;
    let finished = run_once(&w, connection, None).await;
    disable(&ConnectionService::new(w.ports.clone()), &admin(), connection).await.unwrap();
    let first = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(first, StartOutcome::Created(_)));
    assert_eq!(first.run().outcome, Outcome::Blocked);
    assert_eq!(first.run().report.as_ref().unwrap().previous_report_id(), Some(finished));
    let view = verifications.view(&admin(), first.run().id).await.unwrap();
    assert_eq!(view.change.state, ChangeState::Changed);

    // Behind the clock of the run before it, a stub links no report newer than itself.
    let other = create_connection(&w).await;
    run_once(&w, other, None).await;
    w.clock.advance(Duration::hours(-1));
    disable(&ConnectionService::new(w.ports.clone()), &admin(), other).await.unwrap();
    let behind = start(&verifications, &admin(), start_request(Some(other))).await.unwrap();
    assert_eq!(behind.run().outcome, Outcome::Blocked);
    assert_eq!(behind.run().report.as_ref().unwrap().previous_report_id(), None);
}

#[tokio::test]
async fn blocked_starts_return_the_latest_stub_until_something_changes() {
    let w = world();
    let verifications = VerificationService::new(w.ports.clone());
    let first = start(&verifications, &admin(), start_request(None)).await.unwrap();
    let again = start(&verifications, &admin(), start_request(None)).await.unwrap();
    assert!(matches!(again, StartOutcome::Deduplicated(ref run) if run.id == first.run().id), "{again:?}");
    assert_eq!(audit_actions(&w).await.len(), 2, "one stub, two events");

    let connection = create_connection(&w).await;
    let connections = ConnectionService::new(w.ports.clone());
    disable(&connections, &admin(), connection).await.unwrap();
    let disabled = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    w.clock.advance(Duration::seconds(1));
    let repeat = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(repeat, StartOutcome::Deduplicated(ref run) if run.id == disabled.run().id));

    // Concurrent starts of one broken identity still write one stub.
    let missing = Some(ProviderConnectionId::generate());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let verifications = verifications.clone();
        tasks.spawn(async move { start(&verifications, &admin(), start_request(missing)).await.unwrap().run().id });
    }
    let runs = tasks.join_all().await;
    assert!(runs.iter().all(|id| *id == runs[0]));
}

#[tokio::test]
async fn starts_are_idempotent_while_a_run_is_active() {
    let w = world();
    let connection = create_connection(&w).await;
    let verifications = VerificationService::new(w.ports.clone());
    let first = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(first, StartOutcome::Created(ref run) if run.status == RunStatus::Queued));
    let again = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(again, StartOutcome::Deduplicated(ref run) if run.id == first.run().id));
    // While that run is active, disabling the connection does not pile stubs up beside it.
    disable(&ConnectionService::new(w.ports.clone()), &admin(), connection).await.unwrap();
    let blocked = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(blocked, StartOutcome::Deduplicated(ref run) if run.id == first.run().id));
}

async fn run_once(w: &World, connection: ProviderConnectionId, fail_key: Option<&str>) -> RunId {
    let verifications = VerificationService::new(w.ports.clone());
    let started = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap();
    let runner = RunnerService::new(w.ports.clone(), Duration::seconds(30));
    let owner = LeaseOwner::parse("worker-1").unwrap();
    let mut claimed = runner.claim(&owner).await.unwrap().expect("a queued run");
    assert_eq!(claimed.run.id, started.run().id);
    assert_eq!(claimed.secret.as_ref().unwrap().expose(), SECRET, "the worker gets the decrypted secret");
    let live = w.store.clone();
    let stored = verdict_core::ports::RunStore::get(&live, claimed.run.id).await.unwrap().unwrap();
    assert_eq!(stored.report.unwrap().summary().overall, Overall::Running, "live report written at claim");
    let keys: Vec<CheckKey> = claimed.checks().iter().map(|c| c.key.clone()).collect();
    for key in keys {
        let mut result = claimed.checks().iter().find(|c| c.key == key).unwrap().clone();
        if fail_key == Some(key.as_str()) {
            result.status = CheckStatus::Fail;
            result.reason_code = ReasonCode::PERMISSION_DENIED;
        } else {
            result.status = CheckStatus::Pass;
            result.reason_code = ReasonCode::OK;
        }
        runner.record(&mut claimed, result).await.unwrap();
    }
    runner.heartbeat(&claimed).await.unwrap();
    let done = runner.complete(&claimed).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    done.id
}

#[tokio::test]
async fn the_worker_lifecycle_links_previous_reports_and_shows_change() {
    let w = world();
    let connection = create_connection(&w).await;
    let first = run_once(&w, connection, None).await;
    let second = run_once(&w, connection, None).await;
    let third = run_once(&w, connection, Some("permissions.intune_apps")).await;
    let verifications = VerificationService::new(w.ports.clone());

    let view = verifications.view(&admin(), first).await.unwrap();
    assert_eq!(view.run.outcome, Outcome::Succeeded);
    assert_eq!(view.change.state, ChangeState::None);
    let view = verifications.view(&admin(), second).await.unwrap();
    assert_eq!((view.change.state, view.change.previous_report_id), (ChangeState::Unchanged, Some(first)));
    let view = verifications.view(&admin(), third).await.unwrap();
    assert_eq!(view.change.state, ChangeState::Changed);
    assert_eq!(view.run.report.as_ref().unwrap().summary().overall, Overall::NeedsAttention);
    let regressed: Vec<&str> =
        view.change.checks.iter().filter(|c| c.change == CheckChangeKind::Regressed).map(|c| c.key.as_str()).collect();
    assert_eq!(regressed, ["permissions.intune_apps"]);

    let latest = verifications
        .latest(
            &admin(),
            &verdict_core::domain::RunIdentity {
                flow: FlowId::parse(PROVIDER_CONNECTION_CHECK).unwrap(),
                workspace_id: ws(),
                tenant_id: t10(),
                provider_connection_id: Some(connection),
            },
        )
        .await
        .unwrap();
    assert_eq!(latest.run.id, third);
    let page = verifications
        .list(
            &admin(),
            ListRuns {
                workspace_id: ws(),
                tenant_id: t10(),
                flow: None,
                status: Some(RunStatus::Completed),
                provider_connection_id: Some(connection),
                limit: PageLimit::new(2).unwrap(),
                cursor: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.runs.iter().map(|r| r.id).collect::<Vec<_>>(), [third, second]);
    assert!(page.next.is_some());
}

#[tokio::test]
async fn reading_runs_hides_foreign_ones_and_waits_for_reports() {
    let w = world();
    let connection = create_connection(&w).await;
    let verifications = VerificationService::new(w.ports.clone());
    let queued = start(&verifications, &admin(), start_request(Some(connection))).await.unwrap().run().id;
    assert!(matches!(verifications.report(&admin(), queued).await, Err(ReadRunError::ReportNotReady)));
    let outsider = Principal { user_id: UserId::parse("mallory").unwrap(), memberships: vec![] };
    assert!(matches!(verifications.view(&outsider, queued).await, Err(ReadRunError::NotFound)));
    assert!(matches!(verifications.report(&outsider, queued).await, Err(ReadRunError::NotFound)));
    assert!(matches!(verifications.view(&admin(), RunId::generate()).await, Err(ReadRunError::NotFound)));
    let viewer = principal(&[]);
    assert!(verifications.view(&viewer, queued).await.is_ok(), "viewing needs no capability");
}

#[tokio::test]
async fn acknowledgements_follow_the_rules_and_keep_the_reason_out_of_audit() {
    let w = world();
    let connection = create_connection(&w).await;
    let run = run_once(&w, connection, Some("graph.organization")).await;
    let acks = AcknowledgementService::new(w.ports.clone());
    let request = |key: &str, reason: &str| Acknowledge {
        report_id: None,
        check_key: CheckKey::parse(key).unwrap(),
        reason: AckReason::parse(reason).unwrap(),
        expires_at: None,
    };
    let err = acknowledge(&acks, &admin(), run, request("graph.intune_reachable", "x")).await.unwrap_err();
    assert!(matches!(err, AcknowledgeError::NotAcknowledgeable { status: CheckStatus::Pass }));
    let err = acknowledge(&acks, &admin(), run, request("no.such.check", "x")).await.unwrap_err();
    assert!(matches!(err, AcknowledgeError::CheckNotFound));
    let err = acknowledge(&acks, &principal(&[]), run, request("graph.organization", "x")).await.unwrap_err();
    assert!(matches!(err, AcknowledgeError::Forbidden));
    let mut mismatch = request("graph.organization", "x");
    mismatch.report_id = Some(RunId::generate());
    assert!(matches!(acknowledge(&acks, &admin(), run, mismatch).await, Err(AcknowledgeError::ReportMismatch)));
    let mut past = request("graph.organization", "x");
    past.expires_at = Some(w.clock_now() - Duration::seconds(1));
    assert!(matches!(acknowledge(&acks, &admin(), run, past).await, Err(AcknowledgeError::ExpiresInPast)));

    let mut ok = request("graph.organization", "Vendor ticket SECRET-REASON-4711");
    ok.expires_at = Some(w.clock_now() + Duration::hours(1));
    let ack = acknowledge(&acks, &admin(), run, ok).await.unwrap();
    let err = acknowledge(&acks, &admin(), run, request("graph.organization", "again")).await.unwrap_err();
    assert!(
        matches!(err, AcknowledgeError::AlreadyAcknowledged(ref existing) if existing.acknowledgement.id == ack.acknowledgement.id)
    );

    let listed = acks.list(&admin(), run).await.unwrap();
    assert_eq!((listed.len(), listed[0].expired), (1, false));
    w.clock.advance(Duration::hours(2));
    let view = VerificationService::new(w.ports.clone()).view(&admin(), run).await.unwrap();
    assert!(view.acknowledgements[0].expired, "expiry is computed at read time");
    assert_eq!(view.run.report.unwrap().summary().overall, Overall::Blocked, "no greenwashing");

    let events = w
        .store
        .events(AuditQuery {
            workspace: ws(),
            visible: TenantScope::All,
            tenant: None,
            action: Some(AuditAction::CheckAcknowledged),
            after_seq: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let json = serde_json::to_string(&events[0].to_json()).unwrap();
    assert!(!json.contains("SECRET-REASON-4711"), "{json}");
    assert!(json.contains("graph.organization"));
}

#[tokio::test]
async fn acknowledging_an_unfinished_run_is_refused() {
    let w = world();
    let connection = create_connection(&w).await;
    let run =
        start(&VerificationService::new(w.ports.clone()), &admin(), start_request(Some(connection))).await.unwrap();
    let err = acknowledge(
        &AcknowledgementService::new(w.ports.clone()),
        &admin(),
        run.run().id,
        Acknowledge {
            report_id: Some(run.run().id),
            check_key: CheckKey::parse("graph.organization").unwrap(),
            reason: AckReason::parse("x").unwrap(),
            expires_at: None,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AcknowledgeError::RunNotCompleted));
}

#[tokio::test]
async fn runs_whose_workers_keep_dying_are_abandoned_after_three_attempts() {
    let w = world();
    let connection = create_connection(&w).await;
    let run = start(&VerificationService::new(w.ports.clone()), &admin(), start_request(Some(connection)))
        .await
        .unwrap()
        .run()
        .id;
    let runner = RunnerService::new(w.ports.clone(), Duration::seconds(30));
    for attempt in 1..=MAX_ATTEMPTS {
        let owner = LeaseOwner::parse(format!("doomed-{attempt}")).unwrap();
        let mut claimed = runner.claim(&owner).await.unwrap().expect("claimable again after the lease expired");
        assert_eq!((claimed.run.id, claimed.run.attempt), (run, attempt));
        // Each attempt starts from a fresh live report; what the last one finished is kept.
        if attempt == MAX_ATTEMPTS {
            let mut first = claimed.checks()[1].clone();
            first.status = CheckStatus::Pass;
            first.reason_code = ReasonCode::OK;
            runner.record(&mut claimed, first).await.unwrap();
        }
        // The worker dies: nothing completes the run, the lease runs out.
        w.clock.advance(Duration::seconds(31));
    }
    let survivor = LeaseOwner::parse("survivor").unwrap();
    assert!(runner.claim(&survivor).await.unwrap().is_none(), "the exhausted run is completed, not handed out");
    let view = VerificationService::new(w.ports.clone()).view(&admin(), run).await.unwrap();
    assert_eq!((view.run.status, view.run.outcome), (RunStatus::Completed, Outcome::Failed));
    let report = view.run.report.unwrap();
    let aborted = report.checks().iter().filter(|c| c.reason_code == ReasonCode::RUNNER_ABORTED).count();
    assert_eq!(aborted, report.checks().len() - 1, "every unfinished check is recorded as aborted");
    assert!(report.checks().iter().all(|c| c.status != CheckStatus::Running));
}

#[tokio::test]
async fn a_connection_disabled_after_the_start_blocks_the_run_at_claim() {
    let w = world();
    let connection = create_connection(&w).await;
    let run = start(&VerificationService::new(w.ports.clone()), &admin(), start_request(Some(connection)))
        .await
        .unwrap()
        .run()
        .id;
    disable(&ConnectionService::new(w.ports.clone()), &admin(), connection).await.unwrap();
    let runner = RunnerService::new(w.ports.clone(), Duration::seconds(30));
    assert!(runner.claim(&LeaseOwner::parse("w").unwrap()).await.unwrap().is_none());
    let stored = VerificationService::new(w.ports.clone()).run(&admin(), run).await.unwrap();
    assert_eq!((stored.status, stored.outcome), (RunStatus::Completed, Outcome::Blocked));
}

#[tokio::test]
async fn released_runs_are_picked_up_again_without_spending_an_attempt() {
    let w = world();
    let connection = create_connection(&w).await;
    start(&VerificationService::new(w.ports.clone()), &admin(), start_request(Some(connection))).await.unwrap();
    let runner = RunnerService::new(w.ports.clone(), Duration::seconds(30));
    let mut claimed = runner.claim(&LeaseOwner::parse("a").unwrap()).await.unwrap().unwrap();
    let mut alien = claimed.checks()[0].clone();
    alien.key = CheckKey::parse("not.in.flow").unwrap();
    assert!(runner.record(&mut claimed, alien).await.is_err());
    runner.release(&claimed).await.unwrap();
    let again = runner.claim(&LeaseOwner::parse("b").unwrap()).await.unwrap().unwrap();
    assert_eq!((again.run.id, again.run.attempt), (claimed.run.id, 1), "a graceful hand-back spends no attempt");
    assert!(runner.heartbeat(&claimed).await.is_err(), "the old owner is fenced off");
}

#[tokio::test]
async fn audit_reads_need_the_capability_and_the_chain_verifies() {
    let w = world();
    create_connection(&w).await;
    let audit = AuditService::new(w.ports.clone());
    let verification = audit.verify(&principal(&[Capability::AuditRead]), ws()).await.unwrap();
    assert!(verification.valid);
    assert_eq!(verification.events_checked, 1);
    assert!(matches!(audit.verify(&principal(&[]), ws()).await, Err(AuditReadError::Forbidden)));
    let outsider = Principal { user_id: UserId::parse("m").unwrap(), memberships: vec![] };
    assert!(matches!(audit.verify(&outsider, ws()).await, Err(AuditReadError::NotFound)));
}

#[tokio::test]
async fn an_unavailable_store_is_reported_as_unavailable() {
    let w = world();
    let mut runs = verdict_core::ports::MockRunStore::new();
    runs.expect_start_or_deduplicate()
        .returning(|_, _| Err(verdict_core::ports::StoreError::Unavailable(anyhow::anyhow!("connection refused"))));
    let mut ports = w.ports.clone();
    ports.runs = Arc::new(runs);
    let connection = create_connection(&w).await;
    let err = start(&VerificationService::new(ports), &admin(), start_request(Some(connection))).await.unwrap_err();
    assert!(matches!(err, StartVerificationError::Store(StoreError::Unavailable(_))));
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<Utc>;
}

impl ClockNow for World {
    fn clock_now(&self) -> chrono::DateTime<Utc> {
        verdict_core::ports::Clock::now(self.clock.as_ref())
    }
}

#[tokio::test]
async fn a_foreign_run_is_refused_from_its_scope_before_anything_large_is_read() {
    let w = world();
    let foreign = verdict_core::domain::RunScope::from_stored(2, 20).unwrap();
    let mut runs = verdict_core::ports::MockRunStore::new();
    runs.expect_scope().returning(move |_| Ok(Some(foreign)));
    runs.expect_get().never();
    // The view asks the store for the run in context, which reads the scope first and stops
    // when the caller may not see it (conformance: `runs.rs`, `a_run_in_context_is_read_only_when_visible`).
    runs.expect_get_in_context().returning(move |_, visible| {
        assert!(!visible(foreign), "a run of another workspace is not visible to this caller");
        Ok(None)
    });
    let mut ports = w.ports.clone();
    ports.runs = Arc::new(runs);
    let verifications = VerificationService::new(ports.clone());
    let id = RunId::generate();
    assert!(matches!(verifications.view(&admin(), id).await, Err(ReadRunError::NotFound)));
    assert!(matches!(verifications.report(&admin(), id).await, Err(ReadRunError::NotFound)));
    let acks = AcknowledgementService::new(ports);
    assert!(matches!(acks.list(&admin(), id).await, Err(ReadRunError::NotFound)));
    assert!(matches!(acks.authorize(&admin(), id).await, Err(AcknowledgeError::NotFound)));
}

#[tokio::test]
async fn acknowledgements_carry_expired_as_of_the_answer() {
    let w = world();
    let connection = create_connection(&w).await;
    let run = run_once(&w, connection, Some("graph.organization")).await;
    let acks = AcknowledgementService::new(w.ports.clone());
    let request = |reason: &str| Acknowledge {
        report_id: None,
        check_key: CheckKey::parse("graph.organization").unwrap(),
        reason: AckReason::parse(reason).unwrap(),
        expires_at: Some(w.clock_now() + Duration::minutes(5)),
    };
    let created = acknowledge(&acks, &admin(), run, request("known")).await.unwrap();
    assert!(!created.expired, "fresh: not expired");
    w.clock.advance(Duration::minutes(10));
    let err = acknowledge(&acks, &admin(), run, request("again")).await.unwrap_err();
    let AcknowledgeError::AlreadyAcknowledged(existing) = err else { panic!("a second acknowledgement is refused") };
    assert!(existing.expired, "the existing one is shown as expired now");
}
