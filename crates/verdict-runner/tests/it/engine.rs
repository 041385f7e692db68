//! The flow engine with test-only flows: panics, errors and hangs become results of their own,
//! dependents of a failed check are skipped, and the run always completes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use verdict_core::domain::{
    CheckDescriptor, CheckKey, CheckStatus, CheckTitle, FlowDescriptor, FlowId, Outcome, ReasonCode, Severity,
};
use verdict_runner::{Check, CheckContext, CheckOutcome, Dependency, Gate};

use crate::support::{Backend, Options, check, on_every_backend, quick_workers, report, world_with};

const FLOW: &str = "test.misbehaving";

enum Behaviour {
    Pass,
    Warn,
    Fail,
    Panic,
    Error,
    Hang,
}

struct TestCheck {
    key: CheckKey,
    waits_for: Vec<Dependency>,
    behaviour: Behaviour,
}

#[async_trait]
impl Check for TestCheck {
    fn key(&self) -> &CheckKey {
        &self.key
    }

    fn waits_for(&self) -> &[Dependency] {
        &self.waits_for
    }

    async fn run(&self, _: &CheckContext) -> anyhow::Result<CheckOutcome> {
        match self.behaviour {
            Behaviour::Pass => Ok(CheckOutcome::pass("fine")),
            Behaviour::Warn => Ok(CheckOutcome::warn(ReasonCode::THROTTLED, "slow")),
            Behaviour::Fail => Ok(CheckOutcome::fail(ReasonCode::INVALID_STATE, "wrong")),
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
    let gated: Vec<(&str, Gate)> = depends_on.iter().map(|d| (*d, Gate::Passed)).collect();
    gated_check(key, &gated, behaviour)
}

fn gated_check(key: &str, waits_for: &[(&str, Gate)], behaviour: Behaviour) -> Arc<dyn Check> {
    Arc::new(TestCheck {
        key: CheckKey::parse(key).unwrap(),
        waits_for: waits_for
            .iter()
            .map(|(d, gate)| Dependency { key: CheckKey::parse(*d).unwrap(), gate: *gate })
            .collect(),
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

/// What a check waits for decides when it is skipped: `Passed` needs a pass, `NotFailed`
/// anything but a failure, `Finished` only that the other check ended.
async fn gates_decide_which_dependents_run(backend: Backend) {
    let flow = declared(&[
        ("g.warns", false),
        ("g.fails", false),
        ("g.needs_pass", false),
        ("g.not_after_warn", false),
        ("g.not_after_fail", false),
        ("g.after_fail", false),
    ]);
    let checks = vec![
        test_check("g.warns", &[], Behaviour::Warn),
        test_check("g.fails", &[], Behaviour::Fail),
        gated_check("g.needs_pass", &[("g.warns", Gate::Passed)], Behaviour::Pass),
        gated_check("g.not_after_warn", &[("g.warns", Gate::NotFailed)], Behaviour::Pass),
        gated_check("g.not_after_fail", &[("g.fails", Gate::NotFailed)], Behaviour::Pass),
        gated_check("g.after_fail", &[("g.fails", Gate::Finished)], Behaviour::Pass),
    ];
    let w = world_with(Options { backend, extra_flows: vec![(flow, checks)], ..Options::default() }).await;
    let pool = w.pool(quick_workers());
    let id = w.start_flow(FLOW, None).await;
    let run = w.wait_completed(id, Duration::from_secs(20)).await;
    pool.shutdown().await;
    let report = report(&run);
    let status = |key: &str| (check(report, key).status, check(report, key).reason_code);
    let skipped = (CheckStatus::Skip, ReasonCode::PREREQUISITE_FAILED);
    assert_eq!(status("g.needs_pass"), skipped);
    assert_eq!(status("g.not_after_warn"), (CheckStatus::Pass, ReasonCode::OK));
    assert_eq!(status("g.not_after_fail"), skipped);
    assert_eq!(check(report, "g.not_after_fail").message, "Skipped because g.fails failed.");
    assert_eq!(status("g.after_fail"), (CheckStatus::Pass, ReasonCode::OK));
}

on_every_backend!(
    a_panicking_check_becomes_its_own_result_and_the_run_completes,
    gates_decide_which_dependents_run,
    a_flow_the_worker_cannot_run_still_completes,
);
