//! The flow engine with test-only flows: panics, errors and hangs become results of their own,
//! dependents of a failed check are skipped, and the run always completes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use verdict_core::domain::{
    CheckDescriptor, CheckKey, CheckStatus, CheckTitle, FlowDescriptor, FlowId, Outcome, ReasonCode, Severity,
};
use verdict_runner::{Check, CheckContext, CheckOutcome};

use crate::support::{Backend, Options, check, on_every_backend, quick_workers, report, world_with};

const FLOW: &str = "test.misbehaving";

enum Behaviour {
    Pass,
    Panic,
    Error,
    Hang,
}

struct TestCheck {
    key: CheckKey,
    depends_on: Vec<CheckKey>,
    behaviour: Behaviour,
}

#[async_trait]
impl Check for TestCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn depends_on(&self) -> &[CheckKey] {
        &self.depends_on
    }

    async fn run(&self, _: &CheckContext) -> anyhow::Result<CheckOutcome> {
        match self.behaviour {
            Behaviour::Pass => Ok(CheckOutcome::pass("fine")),
            Behaviour::Panic => panic!("boom: internal detail that must stay in the log"),
            Behaviour::Error => anyhow::bail!("internal detail that must stay in the log"),
            Behaviour::Hang => {
                std::future::pending::<()>().await;
                Ok(CheckOutcome::pass("never"))
            }
        }
    }
}

fn declared(checks: &[(&str, bool)]) -> FlowDescriptor {
    FlowDescriptor {
        id: FlowId::parse(FLOW).unwrap(),
        requires_provider_connection: false,
        checks: checks
            .iter()
            .map(|(key, blocking)| CheckDescriptor {
                key: CheckKey::parse(*key).unwrap(),
                title: CheckTitle::parse(format!("Test check {key}")).unwrap(),
                severity: Severity::Medium,
                blocking: *blocking,
            })
            .collect(),
    }
}

fn test_check(key: &str, depends_on: &[&str], behaviour: Behaviour) -> Arc<dyn Check> {
    Arc::new(TestCheck {
        key: CheckKey::parse(key).unwrap(),
        depends_on: depends_on.iter().map(|d| CheckKey::parse(*d).unwrap()).collect(),
        behaviour,
    })
}

async fn a_panicking_check_becomes_its_own_result_and_the_run_completes(backend: Backend) {
    let flow = declared(&[
        ("t.fine", false),
        ("t.panics", false),
        ("t.after", false),
        ("t.errors", false),
        ("t.hangs", false),
    ]);
    let checks = vec![
        test_check("t.fine", &[], Behaviour::Pass),
        test_check("t.panics", &["t.fine"], Behaviour::Panic),
        test_check("t.after", &["t.panics"], Behaviour::Pass),
        test_check("t.errors", &[], Behaviour::Error),
        test_check("t.hangs", &[], Behaviour::Hang),
    ];
    let options = Options {
        backend,
        extra_flows: vec![(flow, checks)],
        check_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let w = world_with(options).await;
    let pool = w.pool(quick_workers());
    let id = w.start_flow(FLOW, None).await;
    let run = w.wait_completed(id, Duration::from_secs(20)).await;
    pool.shutdown().await;
    let report = report(&run);
    assert_eq!(check(report, "t.fine").status, CheckStatus::Pass);
    for key in ["t.panics", "t.errors"] {
        let failed = check(report, key);
        assert_eq!((failed.status, failed.reason_code), (CheckStatus::Fail, ReasonCode::UNKNOWN_ERROR), "{key}");
        assert!(!failed.message.contains("internal detail"), "details stay in the log: {}", failed.message);
    }
    let after = check(report, "t.after");
    assert_eq!((after.status, after.reason_code), (CheckStatus::Skip, ReasonCode::PREREQUISITE_FAILED));
    let hangs = check(report, "t.hangs");
    assert_eq!((hangs.status, hangs.reason_code), (CheckStatus::Warn, ReasonCode::RUNNER_TIMEOUT));
    assert_eq!(run.outcome, Outcome::Succeeded, "non-blocking failures need attention but do not fail the run");
}

async fn a_flow_the_worker_cannot_run_still_completes(backend: Backend) {
    let flow = declared(&[("t.only", true)]);
    let w = world_with(Options { backend, unimplemented_flows: vec![flow], ..Options::default() }).await;
    let pool = w.pool(quick_workers());
    let id = w.start_flow(FLOW, None).await;
    let run = w.wait_completed(id, Duration::from_secs(20)).await;
    pool.shutdown().await;
    let only = check(report(&run), "t.only");
    assert_eq!((only.status, only.reason_code), (CheckStatus::Fail, ReasonCode::UNKNOWN_ERROR));
    assert_eq!(run.outcome, Outcome::Failed);
}

on_every_backend!(
    a_panicking_check_becomes_its_own_result_and_the_run_completes,
    a_flow_the_worker_cannot_run_still_completes,
);
