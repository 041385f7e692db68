//! The run lifecycle as workers drive it (docs/contract.md, "Run lifecycle"): claim with a lease,
//! write the live report as checks finish, complete with the final report, outcome and audit
//! event in one store call; re-check prerequisites at claim time; abandon runs whose workers keep
//! dying.

use std::sync::Arc;

use chrono::Duration;

use super::{Ports, events};
use crate::domain::{
    CheckKey, CheckResult, CheckStatus, CheckTitle, ClientSecret, Completion, Ending, FlowDescriptor, LeaseOwner,
    ProviderConnection, ReasonCode, Report, ReportDraft, Run, RunCursor, Severity,
};
use crate::ports::{CompleteError, LeaseError, StoreError};
use crate::rules::{
    UNDECRYPTABLE_SECRET, blocked_stub_report, completion_events, final_report, live_report, missing_prerequisite,
    report_identity,
};

/// Claims after which a run is completed as abandoned instead of run again.
pub const MAX_ATTEMPTS: u32 = 3;

/// A run a worker holds, with everything it needs to execute the flow.
#[derive(Debug)]
pub struct ClaimedRun {
    /// The run as claimed.
    pub run: Run,
    /// The flow to execute.
    pub flow: Arc<FlowDescriptor>,
    /// The provider connection, when the flow needs one.
    pub connection: Option<ProviderConnection>,
    /// Its decrypted secret, for the token request only.
    pub secret: Option<ClientSecret>,
    /// The lease owner.
    pub owner: LeaseOwner,
    draft: ReportDraft,
}

impl ClaimedRun {
    /// The live report's checks so far.
    #[must_use]
    pub fn checks(&self) -> &[CheckResult] {
        &self.draft.checks
    }
}

/// Why a worker operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// Another worker holds the run now, or it completed: stop working on it.
    #[error("the lease was lost")]
    LeaseLost,
    /// A check reported a key its flow does not declare.
    #[error("check {0} is not part of the flow")]
    UnknownCheck(CheckKey),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LeaseError> for RunnerError {
    fn from(e: LeaseError) -> Self {
        match e {
            LeaseError::NotFound | LeaseError::LeaseLost => Self::LeaseLost,
            LeaseError::Store(e) => Self::Store(e),
        }
    }
}

impl From<CompleteError> for RunnerError {
    fn from(e: CompleteError) -> Self {
        match e {
            CompleteError::NotFound | CompleteError::AlreadyCompleted | CompleteError::LeaseLost => Self::LeaseLost,
            CompleteError::Store(e) => Self::Store(e),
        }
    }
}

/// The worker side of the run lifecycle.
#[derive(Debug, Clone)]
pub struct RunnerService {
    ports: Ports,
    lease: Duration,
}

impl RunnerService {
    /// Builds the service; `lease` is how long a claim or heartbeat holds a run.
    #[must_use]
    pub fn new(ports: Ports, lease: Duration) -> Self {
        Self { ports, lease }
    }

    /// Claims the next run that needs work. Runs that cannot be executed are completed on the
    /// way without being handed out: exhausted ones as abandoned, ones whose connection is
    /// missing, disabled or without a usable secret as blocked.
    ///
    /// # Errors
    /// [`RunnerError::Store`] on storage failure.
    pub async fn claim(&self, owner: &LeaseOwner) -> Result<Option<ClaimedRun>, RunnerError> {
        loop {
            let now = self.ports.clock.now();
            let Some(run) = self.ports.queue.claim_next(owner, now, now + self.lease).await? else {
                return Ok(None);
            };
            tracing::debug!(run_id = %run.id, attempt = run.attempt, "claimed run");
            if let Some(claimed) = self.prepare(run, owner).await? {
                return Ok(Some(claimed));
            }
        }
    }

    async fn prepare(&self, run: Run, owner: &LeaseOwner) -> Result<Option<ClaimedRun>, RunnerError> {
        let flow = self.ports.flows.get(&run.identity.flow);
        if run.attempt > MAX_ATTEMPTS {
            tracing::warn!(run_id = %run.id, attempt = run.attempt, "abandoning run after repeated worker failures");
            let draft = match (run.report.as_ref(), &flow) {
                (Some(report), _) => report.to_draft(),
                (None, Some(flow)) => live_report(run.id, &run.identity, None, flow, self.ports.clock.now())
                    .map_err(StoreError::from)?
                    .to_draft(),
                (None, None) => unavailable_flow_draft(&run),
            };
            self.finish(&run, owner, draft, Ending::Abandoned).await?;
            return Ok(None);
        }
        let Some(flow) = flow else {
            tracing::error!(run_id = %run.id, flow = %run.identity.flow, "run of a flow this worker does not know");
            self.finish(&run, owner, unavailable_flow_draft(&run), Ending::Finished).await?;
            return Ok(None);
        };
        let (connection, secret) = if flow.requires_provider_connection {
            match self.usable_connection(&run).await? {
                Ok((connection, secret)) => (Some(connection), Some(secret)),
                Err(why) => {
                    self.finish_blocked(&run, owner, why).await?;
                    return Ok(None);
                }
            }
        } else {
            (None, None)
        };
        let entra = connection.as_ref().map(|c| c.entra_tenant_id);
        let live =
            live_report(run.id, &run.identity, entra, &flow, self.ports.clock.now()).map_err(StoreError::from)?;
        self.ports.queue.write_live_report(run.id, owner, &live).await?;
        Ok(Some(ClaimedRun { draft: live.to_draft(), run, flow, connection, secret, owner: owner.clone() }))
    }

    /// The run's connection and its decrypted secret, or why the run cannot use it — the same
    /// rule a start applies (`missing_prerequisite`), plus a secret this key cannot decrypt.
    async fn usable_connection(
        &self,
        run: &Run,
    ) -> Result<Result<(ProviderConnection, ClientSecret), &'static str>, RunnerError> {
        let identity = &run.identity;
        let connection = match identity.provider_connection_id {
            Some(id) => self.ports.connections.get(identity.workspace_id, identity.tenant_id, id).await?,
            None => None,
        };
        if let Some(why) = missing_prerequisite(identity.provider_connection_id, connection.as_ref()) {
            return Ok(Err(why));
        }
        let Some((connection, ciphertext)) =
            connection.and_then(|c| c.client_secret_ciphertext.clone().map(|secret| (c, secret)))
        else {
            return Ok(Err(UNDECRYPTABLE_SECRET));
        };
        match self.ports.cipher.decrypt(connection.id, &ciphertext) {
            Ok(secret) => Ok(Ok((connection, secret))),
            Err(_) => {
                tracing::error!(connection_id = %connection.id, "stored client secret cannot be decrypted with the configured key");
                Ok(Err(UNDECRYPTABLE_SECRET))
            }
        }
    }

    /// Extends the lease.
    ///
    /// # Errors
    /// [`RunnerError::LeaseLost`] when the run is no longer ours.
    pub async fn heartbeat(&self, claimed: &ClaimedRun) -> Result<(), RunnerError> {
        let until = self.ports.clock.now() + self.lease;
        Ok(self.ports.queue.heartbeat(claimed.run.id, &claimed.owner, until).await?)
    }

    /// Records a finished check in the live report, so viewers see progress. The result is kept
    /// in the claimed run before the live report is written, so it reaches the final report even
    /// when this write fails.
    ///
    /// # Errors
    /// [`RunnerError::UnknownCheck`] for a key the flow does not declare,
    /// [`RunnerError::LeaseLost`] when the run is no longer ours.
    pub async fn record(&self, claimed: &mut ClaimedRun, result: CheckResult) -> Result<(), RunnerError> {
        let slot = claimed
            .draft
            .checks
            .iter_mut()
            .find(|c| c.key == result.key)
            .ok_or_else(|| RunnerError::UnknownCheck(result.key.clone()))?;
        *slot = result;
        let live = Report::assemble(claimed.draft.clone()).map_err(StoreError::from)?;
        Ok(self.ports.queue.write_live_report(claimed.run.id, &claimed.owner, &live).await?)
    }

    /// Completes the run with its recorded checks. A check that never finished is recorded as
    /// aborted. Borrows the claimed run, so a caller may retry after a transient store failure.
    ///
    /// # Errors
    /// [`RunnerError::LeaseLost`] when the run is no longer ours.
    pub async fn complete(&self, claimed: &ClaimedRun) -> Result<Run, RunnerError> {
        self.finish(&claimed.run, &claimed.owner, claimed.draft.clone(), Ending::Finished).await
    }

    /// Hands the lease back early (shutdown) without spending an attempt; another worker will
    /// pick the run up.
    ///
    /// # Errors
    /// [`RunnerError::LeaseLost`] when the run is no longer ours.
    pub async fn release(&self, claimed: &ClaimedRun) -> Result<(), RunnerError> {
        Ok(self.ports.queue.release(claimed.run.id, &claimed.owner, self.ports.clock.now()).await?)
    }

    /// The report the final report links as previous: the identity's newest completed report
    /// before this run (docs/contract.md#change-rules). Its change decides the webhook events.
    async fn previous_report(&self, run: &Run) -> Result<Option<Report>, StoreError> {
        let cursor = RunCursor { created_at: run.created_at, id: run.id };
        self.ports.runs.previous_completed_report(&run.identity_hash, cursor).await
    }

    async fn finish(
        &self,
        run: &Run,
        owner: &LeaseOwner,
        draft: ReportDraft,
        ending: Ending,
    ) -> Result<Run, RunnerError> {
        let now = self.ports.clock.now();
        let previous = self.previous_report(run).await?;
        let report =
            final_report(draft, ending, now, previous.as_ref().map(Report::report_id)).map_err(StoreError::from)?;
        let completion = Completion::new(report, ending, now, previous.as_ref());
        self.store_completion(run, owner, completion, previous.as_ref()).await
    }

    async fn finish_blocked(&self, run: &Run, owner: &LeaseOwner, why: &str) -> Result<Run, RunnerError> {
        let now = self.ports.clock.now();
        let previous = self.previous_report(run).await?;
        let report =
            blocked_stub_report(run.id, &run.identity, None, why, now, previous.as_ref().map(Report::report_id));
        let completion = Completion::new(report, Ending::Blocked, now, previous.as_ref());
        self.store_completion(run, owner, completion, previous.as_ref()).await
    }

    /// Completes the run with its audit event and its webhook events (the outbox) in one store
    /// call, then wakes this process's dispatcher.
    async fn store_completion(
        &self,
        run: &Run,
        owner: &LeaseOwner,
        completion: Completion,
        previous: Option<&Report>,
    ) -> Result<Run, RunnerError> {
        let event = events::claimed_run_completed(run, &completion);
        let webhook_events = completion_events(run.id, &run.identity, &completion, previous);
        tracing::info!(run_id = %run.id, outcome = completion.outcome().as_str(), "run completed");
        let done = self.ports.queue.complete(run.id, owner, completion, event, webhook_events).await?;
        self.ports.delivery_notifier.deliveries_enqueued();
        Ok(done)
    }
}

fn unavailable_flow_draft(run: &Run) -> ReportDraft {
    let check = CheckResult::new(
        CheckKey::from_static("runner.flow_available"),
        CheckTitle::from_static("The flow is available to the worker"),
        CheckStatus::Fail,
        Severity::Critical,
        true,
        ReasonCode::UNKNOWN_ERROR,
    )
    .with_message("This deployment does not know the run's flow.");
    ReportDraft {
        report_id: run.id,
        flow: run.identity.flow.clone(),
        generated_at: run.created_at,
        identity: report_identity(&run.identity, None),
        previous_report_id: None,
        checks: vec![check],
    }
}
