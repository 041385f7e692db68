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
use verdict_core::ports::{AuditLog, AuditQuery, ManualClock, NoQueueNotifier, SecretCipher, StartOutcome};
use verdict_core::rules::{ChangeState, CheckChangeKind};
use verdict_core::services::{
    Acknowledge, AcknowledgeCheckError, AcknowledgementService, AuditReadError, AuditService, ConnectionError,
    ConnectionService, CreateConnection, Failure, ListRuns, MAX_ATTEMPTS, Ports, ReadRunError, RotateSecret,
    RunnerService, StartVerification, StartVerificationError, VerificationService,
};

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
    let ports = Ports {
        runs: Arc::new(store.clone()),
        acknowledgements: Arc::new(store.clone()),
        connections: Arc::new(store.clone()),
        audit: Arc::new(store.clone()),
        cipher: cipher.clone(),
        clock: clock.clone(),
        flows: Arc::new(FlowCatalog::builtin().unwrap()),
        queue: Arc::new(NoQueueNotifier),
    };
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
    ConnectionService::new(w.ports.clone())
        .create(
            &admin(),
            ws(),
            t10(),
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

fn rotation(secret: &str) -> RotateSecret {
    RotateSecret { client_secret: ClientSecret::parse(secret.to_owned()).unwrap(), client_secret_expires_at: None }
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
    w.store
        .events(AuditQuery { workspace: ws(), tenant: None, action: None, after_seq: None, limit: 1000 })
        .await
        .unwrap()
        .iter()
        .map(|e| e.action())
        .collect()
}

#[tokio::test]
async fn start_requires_membership_entitlement_and_capability() {
    let w = world();
    let verifications = VerificationService::new(w.ports.clone());
    let mut foreign = start_request(None);
    foreign.tenant_id = TenantId::new(11).unwrap();
    assert!(matches!(verifications.start(&admin(), foreign).await, Err(StartVerificationError::NotFound)));
    let viewer = principal(&[]);
    assert!(matches!(verifications.start(&viewer, start_request(None)).await, Err(StartVerificationError::Forbidden)));
    let mut unknown = start_request(None);
    unknown.flow = FlowId::parse("no.such.flow").unwrap();
    assert!(matches!(verifications.start(&admin(), unknown).await, Err(StartVerificationError::UnknownFlow)));
    assert!(audit_actions(&w).await.is_empty(), "refused starts write nothing");
}

#[tokio::test]
async fn a_queued_start_wakes_workers_once() {
    let mut w = world();
    let connection = create_connection(&w).await;
    let mut notifier = verdict_core::ports::MockQueueNotifier::new();
    notifier.expect_run_queued().times(1).return_const(());
    w.ports.queue = Arc::new(notifier);
    let verifications = VerificationService::new(w.ports.clone());
    verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
    verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
    verifications.start(&admin(), start_request(None)).await.unwrap();
}

#[tokio::test]
async fn a_start_without_a_usable_connection_is_completed_as_blocked() {
    let w = world();
    let verifications = VerificationService::new(w.ports.clone());
    let outcome = verifications.start(&admin(), start_request(None)).await.unwrap();
    let StartOutcome::Created(run) = outcome else { panic!("a blocked start creates a run") };
    assert_eq!((run.status, run.outcome), (RunStatus::Completed, Outcome::Blocked));
    let report = run.report.as_ref().unwrap();
    assert_eq!(report.summary().overall, Overall::Blocked);
    assert_eq!(report.checks()[0].reason_code, ReasonCode::MISSING_CONFIGURATION);
    assert_eq!(audit_actions(&w).await, [AuditAction::VerificationStarted, AuditAction::VerificationCompleted]);

    // A connection of another tenant is as missing as none at all.
    let missing = verifications.start(&admin(), start_request(Some(ProviderConnectionId::generate()))).await.unwrap();
    assert_eq!(missing.run().outcome, Outcome::Blocked);

    // A disabled connection blocks too, and the next stub links the previous one.
    let connection = create_connection(&w).await;
    ConnectionService::new(w.ports.clone()).disable(&admin(), ws(), t10(), connection).await.unwrap();
    let first = verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
    let second = verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
    assert_eq!(first.run().outcome, Outcome::Blocked);
    assert_eq!(second.run().report.as_ref().unwrap().previous_report_id(), Some(first.run().id));
    let view = verifications.view(&admin(), second.run().id).await.unwrap();
    assert_eq!(view.change.state, ChangeState::Unchanged);
}

#[tokio::test]
async fn starts_are_idempotent_while_a_run_is_active() {
    let w = world();
    let connection = create_connection(&w).await;
    let verifications = VerificationService::new(w.ports.clone());
    let first = verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(first, StartOutcome::Created(ref run) if run.status == RunStatus::Queued));
    let again = verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(again, StartOutcome::Deduplicated(ref run) if run.id == first.run().id));
    // While that run is active, disabling the connection does not pile stubs up beside it.
    ConnectionService::new(w.ports.clone()).disable(&admin(), ws(), t10(), connection).await.unwrap();
    let blocked = verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
    assert!(matches!(blocked, StartOutcome::Deduplicated(ref run) if run.id == first.run().id));
}

async fn run_once(w: &World, connection: ProviderConnectionId, fail_key: Option<&str>) -> RunId {
    let verifications = VerificationService::new(w.ports.clone());
    let started = verifications.start(&admin(), start_request(Some(connection))).await.unwrap();
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
    assert_eq!(latest.id, third);
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
    let queued = verifications.start(&admin(), start_request(Some(connection))).await.unwrap().run().id;
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
        run_id: run,
        report_id: None,
        check_key: CheckKey::parse(key).unwrap(),
        reason: AckReason::parse(reason).unwrap(),
        expires_at: None,
    };
    let err = acks.acknowledge(&admin(), request("graph.intune_reachable", "x")).await.unwrap_err();
    assert!(matches!(err, AcknowledgeCheckError::NotAcknowledgeable { status: CheckStatus::Pass }));
    let err = acks.acknowledge(&admin(), request("no.such.check", "x")).await.unwrap_err();
    assert!(matches!(err, AcknowledgeCheckError::CheckNotFound));
    let err = acks.acknowledge(&principal(&[]), request("graph.organization", "x")).await.unwrap_err();
    assert!(matches!(err, AcknowledgeCheckError::Forbidden));
    let mut mismatch = request("graph.organization", "x");
    mismatch.report_id = Some(RunId::generate());
    assert!(matches!(acks.acknowledge(&admin(), mismatch).await, Err(AcknowledgeCheckError::ReportMismatch)));
    let mut past = request("graph.organization", "x");
    past.expires_at = Some(w.clock_now() - Duration::seconds(1));
    assert!(matches!(acks.acknowledge(&admin(), past).await, Err(AcknowledgeCheckError::ExpiresInPast)));

    let mut ok = request("graph.organization", "Vendor ticket SECRET-REASON-4711");
    ok.expires_at = Some(w.clock_now() + Duration::hours(1));
    let ack = acks.acknowledge(&admin(), ok).await.unwrap();
    let err = acks.acknowledge(&admin(), request("graph.organization", "again")).await.unwrap_err();
    assert!(matches!(err, AcknowledgeCheckError::AlreadyAcknowledged(ref existing) if existing.id == ack.id));

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
    let run = VerificationService::new(w.ports.clone()).start(&admin(), start_request(Some(connection))).await.unwrap();
    let err = AcknowledgementService::new(w.ports.clone())
        .acknowledge(
            &admin(),
            Acknowledge {
                run_id: run.run().id,
                report_id: Some(run.run().id),
                check_key: CheckKey::parse("graph.organization").unwrap(),
                reason: AckReason::parse("x").unwrap(),
                expires_at: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AcknowledgeCheckError::RunNotCompleted));
}

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
    let created = connections.create(&admin(), ws(), t10(), request).await.unwrap();
    let micros = verdict_core::domain::to_micros(expires);
    assert_eq!(created.client_secret_expires_at, Some(micros), "stored at the stores' precision");
    let rotated =
        connections.rotate_secret(&admin(), ws(), t10(), created.id, rotation("next-secret-1")).await.unwrap();
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

    let rotated = connections.rotate_secret(&admin(), ws(), t10(), id, rotation("new-secret-value-1")).await.unwrap();
    assert_eq!(
        w.cipher.decrypt(id, rotated.client_secret_ciphertext.as_ref().unwrap()).unwrap().expose(),
        "new-secret-value-1"
    );
    let forbidden = connections.disable(&principal(&[]), ws(), t10(), id).await.unwrap_err();
    assert!(matches!(forbidden, ConnectionError::Forbidden));
    connections.disable(&admin(), ws(), t10(), id).await.unwrap();
    let err = connections.rotate_secret(&admin(), ws(), t10(), id, rotation("x")).await.unwrap_err();
    assert!(matches!(err, ConnectionError::Disabled));
    let foreign = connections.get(&admin(), ws(), TenantId::new(11).unwrap(), id).await.unwrap_err();
    assert!(matches!(foreign, ConnectionError::NotFound));

    let events = w
        .store
        .events(AuditQuery { workspace: ws(), tenant: None, action: None, after_seq: None, limit: 100 })
        .await
        .unwrap();
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

#[tokio::test]
async fn runs_whose_workers_keep_dying_are_abandoned_after_three_attempts() {
    let w = world();
    let connection = create_connection(&w).await;
    let run = VerificationService::new(w.ports.clone())
        .start(&admin(), start_request(Some(connection)))
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
    let run = VerificationService::new(w.ports.clone())
        .start(&admin(), start_request(Some(connection)))
        .await
        .unwrap()
        .run()
        .id;
    ConnectionService::new(w.ports.clone()).disable(&admin(), ws(), t10(), connection).await.unwrap();
    let runner = RunnerService::new(w.ports.clone(), Duration::seconds(30));
    assert!(runner.claim(&LeaseOwner::parse("w").unwrap()).await.unwrap().is_none());
    let stored = VerificationService::new(w.ports.clone()).run(&admin(), run).await.unwrap();
    assert_eq!((stored.status, stored.outcome), (RunStatus::Completed, Outcome::Blocked));
}

#[tokio::test]
async fn released_runs_are_picked_up_again_and_unknown_checks_are_refused() {
    let w = world();
    let connection = create_connection(&w).await;
    VerificationService::new(w.ports.clone()).start(&admin(), start_request(Some(connection))).await.unwrap();
    let runner = RunnerService::new(w.ports.clone(), Duration::seconds(30));
    let mut claimed = runner.claim(&LeaseOwner::parse("a").unwrap()).await.unwrap().unwrap();
    let mut alien = claimed.checks()[0].clone();
    alien.key = CheckKey::parse("not.in.flow").unwrap();
    assert!(runner.record(&mut claimed, alien).await.is_err());
    runner.release(&claimed).await.unwrap();
    let again = runner.claim(&LeaseOwner::parse("b").unwrap()).await.unwrap().unwrap();
    assert_eq!((again.run.id, again.run.attempt), (claimed.run.id, 2));
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
    let err = VerificationService::new(ports).start(&admin(), start_request(Some(connection))).await.unwrap_err();
    assert!(matches!(err, StartVerificationError::Failure(Failure::Unavailable(_))));
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<Utc>;
}

impl ClockNow for World {
    fn clock_now(&self) -> chrono::DateTime<Utc> {
        verdict_core::ports::Clock::now(self.clock.as_ref())
    }
}
