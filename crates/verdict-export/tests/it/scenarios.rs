//! Named, representative export scenarios: every status and severity, a baseline with each
//! baseline state, acknowledgements, a blocked stub, an abandoned run, a live report, hostile
//! text. The SARIF and JUnit tests assert on them, and the multitool validates them all.

use verdict_core::domain::{Acknowledgement, Report};
use verdict_core::domain::{CheckResult, CheckStatus, Evidence, NextStep, ReasonCode, Severity};
use verdict_export::ExportInput;

use crate::support::{Stored, ack, check, completed, connection, identity, running};
use CheckStatus::{Fail, Pass, Running, Skip, Warn};

/// A scenario's stored rows; [`Scenario::input`] pairs them like the handler does.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub current: Stored,
    pub previous: Option<Report>,
    pub acks: Vec<Acknowledgement>,
}

impl Scenario {
    pub fn input(&self) -> ExportInput<'_> {
        ExportInput::new(&self.current.run, &self.current.report, self.previous.as_ref(), &self.acks).unwrap()
    }
}

pub const HOSTILE: &str = "a <b> & c ]]> \"d\" 'e' \u{1}f\u{b}g\u{7f}h\u{fffe}i\u{ffff} ✓";

/// One check of every status × blocking, with varied severities, evidence and links.
pub fn every_status() -> Vec<CheckResult> {
    vec![
        check("a.pass", Pass, false, Severity::Info, ReasonCode::OK).with_message("All good."),
        check("b.blocker", Fail, true, Severity::Critical, ReasonCode::PERMISSION_DENIED)
            .with_message("Permission DeviceManagementApps.Read.All is not granted.")
            .with_evidence(Evidence::new("permission", "DeviceManagementApps.Read.All").unwrap())
            .with_evidence(Evidence::new("http_status", 403_i64).unwrap())
            .with_next_step(NextStep::new("Open the connection", "/connections/1"))
            .with_next_step(NextStep::new("Grant consent", "https://login.microsoftonline.com/common/adminconsent"))
            .with_next_step(NextStep::new("Docs", "https://learn.microsoft.com/graph")),
        check("c.fail-medium", Fail, false, Severity::Medium, ReasonCode::THROTTLED).with_message("Throttled."),
        check("d.fail-low", Fail, false, Severity::Low, ReasonCode::DEPENDENCY_UNREACHABLE),
        check("e.fail-unknown", Fail, false, Severity::Unknown, ReasonCode::UNKNOWN_ERROR).with_message("Odd."),
        check("f.warn", Warn, false, Severity::High, ReasonCode::INVALID_STATE)
            .with_message("Looks off.")
            .with_evidence(Evidence::new("consistent", false).unwrap()),
        check("g.skip", Skip, true, Severity::High, ReasonCode::PREREQUISITE_FAILED).with_message("Skipped."),
    ]
}

fn plain(name: &'static str, current: Stored) -> Scenario {
    Scenario { name, current, previous: None, acks: Vec::new() }
}

/// The baseline scenario: `same` unchanged, `worse` updated, `fresh` new, `gone` absent.
pub fn baseline() -> Scenario {
    let id = identity(10, Some(connection()));
    let before = completed(
        &id,
        0,
        None,
        vec![
            check("same", Warn, false, Severity::Low, ReasonCode::THROTTLED).with_message("before"),
            check("worse", Fail, false, Severity::High, ReasonCode::PERMISSION_DENIED),
            check("gone", Fail, true, Severity::Critical, ReasonCode::AUTHENTICATION_FAILED)
                .with_message("Credentials rejected.")
                .with_next_step(NextStep::new("Rotate", "https://portal.azure.com/rotate")),
        ],
    );
    let after = completed(
        &id,
        1,
        Some(&before.report),
        vec![
            // Only the message differs: the outcome line (docs/contract.md#fingerprint) is the same.
            check("same", Warn, false, Severity::Low, ReasonCode::THROTTLED).with_message("after"),
            check("worse", Fail, true, Severity::High, ReasonCode::PERMISSION_DENIED),
            check("fresh", Pass, false, Severity::Info, ReasonCode::OK),
        ],
    );
    Scenario { name: "baseline", current: after, previous: Some(before.report), acks: Vec::new() }
}

/// Two acknowledged checks (one with markup in its reason) and one that is not.
pub fn acknowledged() -> Scenario {
    let current = completed(&identity(10, None), 0, None, every_status());
    let acks = vec![
        ack(&current.run, "b.blocker", "Vendor ticket <4711> & \"known\" ]]>"),
        ack(&current.run, "f.warn", "Expected during migration"),
    ];
    Scenario { name: "acknowledged", current, previous: None, acks }
}

/// Hostile text in messages, titles and evidence values.
pub fn hostile() -> Scenario {
    let title = verdict_core::domain::CheckTitle::parse("Title <x> & \"y\" 'z' ]]>").unwrap();
    let mut checks: Vec<CheckResult> = [Fail, Warn, Skip, Pass]
        .into_iter()
        .enumerate()
        .map(|(i, status)| {
            let mut c = check(&format!("hostile.{i}"), status, i == 0, Severity::High, ReasonCode::INVALID_STATE)
                .with_message(HOSTILE)
                .with_evidence(Evidence::new("detail", HOSTILE).unwrap());
            c.title = title.clone();
            c
        })
        .collect();
    checks.push(check("hostile.empty-message", Fail, false, Severity::Medium, ReasonCode::UNKNOWN_ERROR));
    plain("hostile", completed(&identity(11, Some(connection())), 0, None, checks))
}

/// Every scenario the exports are checked on.
pub fn all() -> Vec<Scenario> {
    let id = identity(10, None);
    let mut abandoned = every_status();
    abandoned.push(check("h.unfinished", Fail, false, Severity::High, ReasonCode::RUNNER_ABORTED));
    let blocked = verdict_core::rules::blocked_stub_report(
        verdict_core::domain::RunId::generate(),
        &id,
        None,
        "The provider connection is disabled.",
        chrono::Utc::now(),
        None,
    );
    let blocked_checks = blocked.checks().to_vec();
    let live = vec![
        check("a.pass", Pass, false, Severity::Info, ReasonCode::OK),
        check("b.running", Running, true, Severity::High, ReasonCode::RUNNER_IN_PROGRESS),
        check("c.running", Running, false, Severity::Unknown, ReasonCode::RUNNER_IN_PROGRESS),
    ];
    vec![
        plain("every-status", completed(&id, 0, None, every_status())),
        plain("no-checks", completed(&id, 0, None, Vec::new())),
        plain("blocked-stub", completed(&id, 0, None, blocked_checks)),
        plain("abandoned", completed(&id, 0, None, abandoned)),
        plain("live", running(&id, live)),
        baseline(),
        acknowledged(),
        hostile(),
    ]
}
