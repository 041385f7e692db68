//! Executing a claimed run's flow: every check whose dependencies finished as it requires starts
//! at once in its own task under the per-check timeout; a check whose dependency did not (see
//! [`Gate`](super::Gate)) is skipped; each result is recorded in the live report as it arrives,
//! and the lease is extended meanwhile.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument as _;
use verdict_core::domain::{CheckKey, CheckResult, CheckStatus, ReasonCode};
use verdict_core::services::{ClaimedRun, RunnerError, RunnerService};

use super::context::RunShared;
use super::registry::{FlowPlan, PlannedCheck};
use super::{Artifact, CheckContext, CheckOutcome, FlowRegistry, Gate, RunInput};
use crate::ErrorChain;

/// The per-check timeout when none is configured (`VERDICT_CHECK_TIMEOUT_MS`).
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// How a check's task ended.
enum Finished {
    Outcome(CheckOutcome),
    Error(anyhow::Error),
    TimedOut,
    Crashed,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done(CheckStatus),
}

/// Runs flows from a [`FlowRegistry`].
#[derive(Debug)]
pub struct FlowEngine {
    registry: FlowRegistry,
    check_timeout: Duration,
}

impl FlowEngine {
    /// An engine running the registry's flows, each check under `check_timeout`.
    #[must_use]
    pub fn new(registry: FlowRegistry, check_timeout: Duration) -> Self {
        Self { registry, check_timeout }
    }

    /// The per-check timeout.
    #[must_use]
    pub fn check_timeout(&self) -> Duration {
        self.check_timeout
    }

    /// Runs every check of the claimed run's flow and records each result through
    /// [`RunnerService::record`] as it finishes, extending the lease every `heartbeat_every`.
    /// It does not complete the run. Dropping the future aborts the checks still running.
    ///
    /// A flow this engine has no implementation for records every check as `unknown_error`, so
    /// the run completes instead of bouncing between workers.
    ///
    /// # Errors
    /// [`RunnerError::LeaseLost`] when the run is no longer ours: stop working on it.
    /// [`RunnerError::UnknownCheck`] would be a bug (the registry validated the keys). A store
    /// failure while writing the live report is only logged: the result is kept in the claimed
    /// run and reaches the final report.
    #[tracing::instrument(skip_all, fields(run_id = %claimed.run.id, flow = %claimed.run.identity.flow))]
    pub async fn execute(
        &self,
        runner: &RunnerService,
        claimed: &mut ClaimedRun,
        heartbeat_every: Duration,
    ) -> Result<(), RunnerError> {
        let plan = self.registry.plan(&claimed.run.identity.flow).filter(|plan| plan.descriptor == *claimed.flow);
        let Some(plan) = plan else {
            tracing::error!("this worker has no implementation of the run's flow as declared; recording it as failed");
            for declared in claimed.flow.checks.clone() {
                let outcome = CheckOutcome::fail(
                    ReasonCode::UNKNOWN_ERROR,
                    "This worker cannot run this flow; the details are in the service log.",
                );
                record(runner, claimed, outcome.into_result(&declared).0).await?;
            }
            return Ok(());
        };
        let input = Arc::new(RunInput {
            run_id: claimed.run.id,
            identity: claimed.run.identity.clone(),
            connection: claimed.connection.clone(),
            secret: claimed.secret.clone(),
        });
        let mut run = Execution {
            plan: &plan,
            input,
            shared: Arc::new(RunShared::default()),
            timeout: self.check_timeout,
            state: vec![State::Pending; plan.checks.len()],
            artifacts: BTreeMap::new(),
            tasks: JoinSet::new(),
            task_index: HashMap::new(),
        };
        let mut heartbeat = tokio::time::interval_at(Instant::now() + heartbeat_every, heartbeat_every);
        heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            for result in run.start_ready_checks() {
                record(runner, claimed, result).await?;
            }
            if run.tasks.is_empty() {
                return Ok(());
            }
            tokio::select! {
                Some(joined) = run.tasks.join_next_with_id() => {
                    let result = run.finish(joined);
                    record(runner, claimed, result).await?;
                }
                _ = heartbeat.tick() => beat(runner, claimed).await?,
            }
        }
    }
}

/// The state of one flow execution.
struct Execution<'a> {
    plan: &'a FlowPlan,
    input: Arc<RunInput>,
    shared: Arc<RunShared>,
    timeout: Duration,
    state: Vec<State>,
    artifacts: BTreeMap<CheckKey, Artifact>,
    tasks: JoinSet<(usize, Finished)>,
    task_index: HashMap<tokio::task::Id, usize>,
}

impl Execution<'_> {
    /// Starts every pending check whose dependencies are done as it requires; returns the skip
    /// results of those with a dependency that is not (cascading to their dependents).
    fn start_ready_checks(&mut self) -> Vec<CheckResult> {
        let mut skipped = Vec::new();
        loop {
            let mut changed = false;
            for (index, planned) in self.plan.checks.iter().enumerate() {
                let finished = |(d, _): &(usize, super::Dependency)| matches!(self.state[*d], State::Done(_));
                if self.state[index] != State::Pending || !planned.dependencies.iter().all(finished) {
                    continue;
                }
                changed = true;
                let unmet = planned.dependencies.iter().find(|(d, dependency)| match self.state[*d] {
                    State::Done(status) => !dependency.admits(status),
                    State::Pending | State::Running => true,
                });
                if let Some((failed, dependency)) = unmet {
                    self.state[index] = State::Done(CheckStatus::Skip);
                    let key = &self.plan.checks[*failed].declared.key;
                    let message = match dependency.gate {
                        Gate::NotFailed => format!("Skipped because {key} failed."),
                        Gate::Passed | Gate::Finished => format!("Skipped because {key} did not pass."),
                    };
                    let outcome = CheckOutcome::skip(ReasonCode::PREREQUISITE_FAILED, message);
                    skipped.push(outcome.into_result(&planned.declared).0);
                } else {
                    self.state[index] = State::Running;
                    self.spawn(index, planned);
                }
            }
            if !changed {
                return skipped;
            }
        }
    }

    fn spawn(&mut self, index: usize, planned: &PlannedCheck) {
        let ctx =
            CheckContext::new(Arc::clone(&self.input), self.artifacts.clone(), Arc::clone(&self.shared), self.timeout);
        let check = Arc::clone(&planned.check);
        let timeout = self.timeout;
        let span = tracing::info_span!("check", key = %planned.declared.key);
        let task = async move {
            let finished = match tokio::time::timeout(timeout, check.run(&ctx)).await {
                Ok(Ok(outcome)) => Finished::Outcome(outcome),
                Ok(Err(error)) => Finished::Error(error),
                Err(_) => Finished::TimedOut,
            };
            (index, finished)
        };
        let handle = self.tasks.spawn(task.instrument(span));
        self.task_index.insert(handle.id(), index);
    }

    /// Turns a joined task into its report row and keeps its artifact.
    fn finish(&mut self, joined: Result<(tokio::task::Id, (usize, Finished)), tokio::task::JoinError>) -> CheckResult {
        let (index, finished) = match joined {
            Ok((_, pair)) => pair,
            Err(error) => {
                let index = self.task_index.get(&error.id()).copied().unwrap_or_default();
                let key = &self.plan.checks[index].declared.key;
                if error.is_panic() {
                    let payload = error.into_panic();
                    let message = payload
                        .downcast_ref::<&str>()
                        .map(ToString::to_string)
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(check = %key, panic = %message, "check panicked");
                } else {
                    tracing::error!(check = %key, "check task was cancelled");
                }
                (index, Finished::Crashed)
            }
        };
        let planned = &self.plan.checks[index];
        let outcome = match finished {
            Finished::Outcome(outcome) => outcome,
            Finished::Error(error) => {
                tracing::error!(check = %planned.declared.key, error = %format!("{error:#}"), "check failed unexpectedly");
                unexpected()
            }
            Finished::Crashed => unexpected(),
            Finished::TimedOut => {
                tracing::warn!(check = %planned.declared.key, timeout_ms = self.timeout.as_millis(), "check timed out");
                CheckOutcome::warn(
                    ReasonCode::RUNNER_TIMEOUT,
                    format!(
                        "The check did not finish within {} ms; the provider may be slow or unreachable.",
                        self.timeout.as_millis()
                    ),
                )
            }
        };
        let (result, artifact) = outcome.into_result(&planned.declared);
        tracing::debug!(check = %result.key, status = result.status.as_str(), reason = %result.reason_code, "check finished");
        self.state[index] = State::Done(result.status);
        if let Some(artifact) = artifact {
            self.artifacts.insert(result.key.clone(), artifact);
        }
        result
    }
}

fn unexpected() -> CheckOutcome {
    CheckOutcome::fail(ReasonCode::UNKNOWN_ERROR, "The check failed unexpectedly; the details are in the service log.")
}

/// Records a result; a store failure is logged and tolerated, because `record` keeps the result
/// in the claimed run before it writes, so the final report still carries it.
async fn record(runner: &RunnerService, claimed: &mut ClaimedRun, result: CheckResult) -> Result<(), RunnerError> {
    match runner.record(claimed, result).await {
        Err(RunnerError::Store(error)) => {
            tracing::warn!(error = %ErrorChain(&error), "the live report could not be written; the result is kept for the final report");
            Ok(())
        }
        other => other,
    }
}

/// Extends the lease; a store failure is logged and tolerated (the next beat tries again).
async fn beat(runner: &RunnerService, claimed: &ClaimedRun) -> Result<(), RunnerError> {
    match runner.heartbeat(claimed).await {
        Err(RunnerError::Store(error)) => {
            tracing::warn!(error = %ErrorChain(&error), "the lease could not be extended; trying again at the next beat");
            Ok(())
        }
        other => other,
    }
}
