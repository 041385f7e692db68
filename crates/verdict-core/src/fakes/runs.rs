//! The in-memory [`RunStore`] and [`RunQueue`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{InMemoryStore, State};
use crate::domain::{
    Acknowledgement, Completion, LeaseOwner, NewRun, PendingAuditEvent, Report, Run, RunCursor, RunId, RunIdentityHash,
    RunListQuery, RunPage, RunScope, RunStatus, WebhookEvent, to_micros,
};
use crate::ports::{
    BlockedStart, CompleteError, LeaseError, QueueDepth, RunInContext, RunQueue, RunStore, ScopeVisible, StartOutcome,
    StoreError,
};

fn cursor_key(run: &Run) -> (DateTime<Utc>, RunId) {
    (run.created_at, run.id)
}

fn held_by<'a>(state: &'a mut State, id: RunId, owner: &LeaseOwner) -> Result<&'a mut Run, LeaseError> {
    let run = state.runs.get_mut(&id).ok_or(LeaseError::NotFound)?;
    if run.status != RunStatus::Running || run.lease_owner.as_ref() != Some(owner) {
        return Err(LeaseError::LeaseLost);
    }
    Ok(run)
}

fn latest(state: &State, identity: &RunIdentityHash) -> Option<Run> {
    state.runs.values().filter(|r| &r.identity_hash == identity).max_by_key(|r| cursor_key(r)).cloned()
}

#[async_trait]
impl RunStore for InMemoryStore {
    async fn start_or_deduplicate(&self, run: NewRun, started: PendingAuditEvent) -> Result<StartOutcome, StoreError> {
        let mut state = self.lock();
        let hash = run.identity_hash();
        let tenant = run.identity.tenant_id;
        if let Some(active) = state
            .runs
            .values()
            .find(|r| r.status.is_active() && r.identity.tenant_id == tenant && r.identity_hash == hash)
        {
            return Ok(StartOutcome::Deduplicated(active.clone()));
        }
        let row = run.queued();
        state.runs.insert(row.id, row.clone());
        state.append(started);
        Ok(StartOutcome::Created(row))
    }

    async fn start_blocked(&self, start: BlockedStart) -> Result<StartOutcome, StoreError> {
        let mut state = self.lock();
        if let Some(latest) = latest(&state, &start.run.identity_hash())
            && start.answered_by(&latest)
        {
            return Ok(StartOutcome::Deduplicated(latest));
        }
        state
            .completions
            .insert(start.run.id, (start.completion.change_state(), start.completion.credential_expires_at()));
        let row = start.run.completed(start.completion);
        state.runs.insert(row.id, row.clone());
        state.append(start.started);
        state.append(start.completed);
        state.enqueue(start.events);
        Ok(StartOutcome::Created(row))
    }

    async fn scope(&self, run: RunId) -> Result<Option<RunScope>, StoreError> {
        Ok(self.lock().runs.get(&run).map(Run::scope))
    }

    async fn get(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        Ok(self.lock().runs.get(&id).cloned())
    }

    async fn get_in_context<'a>(
        &self,
        id: RunId,
        visible: ScopeVisible<'a>,
    ) -> Result<Option<RunInContext>, StoreError> {
        let state = self.lock();
        let Some(run) = state.runs.get(&id).filter(|r| visible(r.scope())).cloned() else { return Ok(None) };
        let mut acknowledgements: Vec<Acknowledgement> =
            state.acknowledgements.iter().filter(|a| a.run_id == id).cloned().collect();
        acknowledgements.sort_by_key(|a| (a.acknowledged_at, a.id));
        let previous = run
            .report
            .as_ref()
            .and_then(Report::previous_report_id)
            .and_then(|p| state.runs.get(&p))
            .and_then(|p| p.report.clone());
        Ok(Some(RunInContext { run, acknowledgements, previous }))
    }

    async fn list(&self, query: RunListQuery) -> Result<RunPage, StoreError> {
        let state = self.lock();
        let mut runs: Vec<&Run> = state
            .runs
            .values()
            .filter(|r| r.identity.workspace_id == query.workspace_id && r.identity.tenant_id == query.tenant_id)
            .filter(|r| query.flow.as_ref().is_none_or(|f| &r.identity.flow == f))
            .filter(|r| query.status.is_none_or(|s| r.status == s))
            .filter(|r| query.provider_connection_id.is_none_or(|c| r.identity.provider_connection_id == Some(c)))
            .filter(|r| query.after.is_none_or(|c| cursor_key(r) < (c.created_at, c.id)))
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(cursor_key(r)));
        let fetched = usize::try_from(query.fetch_limit()).unwrap_or(usize::MAX);
        let page = runs.into_iter().take(fetched).map(Run::summary).collect();
        Ok(RunPage::from_overfetched(page, query.limit))
    }

    async fn latest_for_identity(&self, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError> {
        Ok(latest(&self.lock(), identity))
    }

    async fn previous_completed_report(
        &self,
        identity: &RunIdentityHash,
        before: RunCursor,
    ) -> Result<Option<Report>, StoreError> {
        let state = self.lock();
        Ok(state
            .runs
            .values()
            .filter(|r| &r.identity_hash == identity && r.status == RunStatus::Completed && r.report.is_some())
            .filter(|r| cursor_key(r) < (before.created_at, before.id))
            .max_by_key(|r| cursor_key(r))
            .and_then(|r| r.report.clone()))
    }

    async fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let state = self.lock();
        let count = |status| state.runs.values().filter(|r| r.status == status).count() as u64;
        Ok(QueueDepth { queued: count(RunStatus::Queued), running: count(RunStatus::Running) })
    }
}

#[async_trait]
impl RunQueue for InMemoryStore {
    async fn claim_next(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        let mut state = self.lock();
        let next = state
            .runs
            .values()
            .filter(|r| match r.status {
                RunStatus::Queued => true,
                RunStatus::Running => r.lease_expires_at.is_none_or(|at| at <= now),
                RunStatus::Completed => false,
            })
            .min_by_key(|r| cursor_key(r))
            .map(|r| r.id);
        let Some(id) = next else { return Ok(None) };
        let Some(run) = state.runs.get_mut(&id) else { return Ok(None) };
        run.status = RunStatus::Running;
        run.attempt += 1;
        run.started_at.get_or_insert(to_micros(now));
        run.lease_owner = Some(owner.clone());
        run.lease_expires_at = Some(to_micros(lease_until));
        Ok(Some(run.clone()))
    }

    async fn heartbeat(&self, id: RunId, owner: &LeaseOwner, lease_until: DateTime<Utc>) -> Result<(), LeaseError> {
        let mut state = self.lock();
        held_by(&mut state, id, owner)?.lease_expires_at = Some(to_micros(lease_until));
        Ok(())
    }

    async fn release(&self, id: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
        let mut state = self.lock();
        let run = held_by(&mut state, id, owner)?;
        run.lease_expires_at = Some(to_micros(now));
        run.attempt = run.attempt.saturating_sub(1);
        Ok(())
    }

    async fn write_live_report(&self, id: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError> {
        let mut state = self.lock();
        let run = held_by(&mut state, id, owner)?;
        run.summary_counts = Some(report.summary().counts);
        run.report = Some(report.clone());
        Ok(())
    }

    async fn complete(
        &self,
        id: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
        events: Vec<WebhookEvent>,
    ) -> Result<Run, CompleteError> {
        let mut state = self.lock();
        let run = state.runs.get_mut(&id).ok_or(CompleteError::NotFound)?;
        if run.status == RunStatus::Completed {
            return Err(CompleteError::AlreadyCompleted);
        }
        if run.status != RunStatus::Running || run.lease_owner.as_ref() != Some(owner) {
            return Err(CompleteError::LeaseLost);
        }
        let facts = (completion.change_state(), completion.credential_expires_at());
        run.complete(completion);
        let row = run.clone();
        state.completions.insert(id, facts);
        state.append(completed);
        state.enqueue(events);
        Ok(row)
    }
}
