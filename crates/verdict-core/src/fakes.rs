//! In-memory implementations of every storage port, keeping the same invariants as a database:
//! one active run per identity under any concurrency, one acknowledgement per (run, check),
//! gap-free audit `seq` with a valid hash chain. One mutex makes every call a transaction.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Acknowledgement, AuditEvent, ChainHash, Completion, LeaseOwner, NewAcknowledgement, NewRun, Outcome,
    PendingAuditEvent, ProviderConnection, ProviderConnectionId, Report, Run, RunCursor, RunId, RunIdentityHash,
    RunListQuery, RunPage, RunStatus, TenantId, WorkspaceId,
};
use crate::ports::{
    AcknowledgeError, AcknowledgementStore, AuditLog, AuditQuery, ChainHead, CompleteError, ConnectionUpdateError,
    LeaseError, NewSecret, ProviderConnectionStore, RunStore, StartOutcome, StoreError,
};
use crate::rules::summary_counts;

#[derive(Debug, Default)]
struct State {
    runs: BTreeMap<RunId, Run>,
    acknowledgements: Vec<Acknowledgement>,
    connections: BTreeMap<ProviderConnectionId, ProviderConnection>,
    audit: BTreeMap<WorkspaceId, Vec<AuditEvent>>,
}

impl State {
    fn append(&mut self, event: PendingAuditEvent) {
        let chain = self.audit.entry(event.workspace_id).or_default();
        let prev = chain.last().map_or_else(ChainHash::genesis, |e| e.hash().clone());
        let seq = chain.len() as u64 + 1;
        chain.push(event.seal(seq, prev));
    }
}

/// Every storage port in memory. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct InMemoryStore {
    state: Arc<Mutex<State>>,
}

impl InMemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every mutation
        // below is applied after all checks, so the data is still consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn cursor_key(run: &Run) -> (DateTime<Utc>, RunId) {
    (run.created_at, run.id)
}

fn new_row(run: NewRun) -> Run {
    Run {
        id: run.id,
        identity_hash: run.identity.hash(),
        identity: run.identity,
        status: RunStatus::Queued,
        outcome: Outcome::Pending,
        initiator_user_id: run.initiator_user_id,
        summary_counts: None,
        failure_summary: None,
        report: None,
        attempt: 0,
        lease_owner: None,
        lease_expires_at: None,
        created_at: crate::domain::to_micros(run.created_at),
        started_at: None,
        completed_at: None,
    }
}

fn apply_completion(run: &mut Run, completion: Completion) {
    run.status = RunStatus::Completed;
    run.outcome = completion.outcome;
    run.summary_counts = Some(completion.summary_counts);
    run.failure_summary = Some(completion.failure_summary);
    run.report = Some(completion.report);
    run.lease_owner = None;
    run.lease_expires_at = None;
    run.completed_at = Some(crate::domain::to_micros(completion.completed_at));
}

fn held_by<'a>(state: &'a mut State, id: RunId, owner: &LeaseOwner) -> Result<&'a mut Run, LeaseError> {
    let run = state.runs.get_mut(&id).ok_or(LeaseError::NotFound)?;
    if run.status != RunStatus::Running || run.lease_owner.as_ref() != Some(owner) {
        return Err(LeaseError::LeaseLost);
    }
    Ok(run)
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
        let row = new_row(run);
        state.runs.insert(row.id, row.clone());
        state.append(started);
        Ok(StartOutcome::Created(row))
    }

    async fn insert_completed(
        &self,
        run: NewRun,
        completion: Completion,
        started: PendingAuditEvent,
        completed: PendingAuditEvent,
    ) -> Result<Run, StoreError> {
        let mut state = self.lock();
        let mut row = new_row(run);
        apply_completion(&mut row, completion);
        state.runs.insert(row.id, row.clone());
        state.append(started);
        state.append(completed);
        Ok(row)
    }

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
        run.started_at.get_or_insert(crate::domain::to_micros(now));
        run.lease_owner = Some(owner.clone());
        run.lease_expires_at = Some(crate::domain::to_micros(lease_until));
        Ok(Some(run.clone()))
    }

    async fn heartbeat(&self, id: RunId, owner: &LeaseOwner, lease_until: DateTime<Utc>) -> Result<(), LeaseError> {
        let mut state = self.lock();
        held_by(&mut state, id, owner)?.lease_expires_at = Some(crate::domain::to_micros(lease_until));
        Ok(())
    }

    async fn release(&self, id: RunId, owner: &LeaseOwner, now: DateTime<Utc>) -> Result<(), LeaseError> {
        let mut state = self.lock();
        held_by(&mut state, id, owner)?.lease_expires_at = Some(crate::domain::to_micros(now));
        Ok(())
    }

    async fn write_live_report(&self, id: RunId, owner: &LeaseOwner, report: &Report) -> Result<(), LeaseError> {
        let mut state = self.lock();
        let run = held_by(&mut state, id, owner)?;
        run.summary_counts = Some(summary_counts(&report.summary().counts));
        run.report = Some(report.clone());
        Ok(())
    }

    async fn complete(
        &self,
        id: RunId,
        owner: &LeaseOwner,
        completion: Completion,
        completed: PendingAuditEvent,
    ) -> Result<Run, CompleteError> {
        let mut state = self.lock();
        let run = state.runs.get_mut(&id).ok_or(CompleteError::NotFound)?;
        if run.status == RunStatus::Completed {
            return Err(CompleteError::AlreadyCompleted);
        }
        if run.status != RunStatus::Running || run.lease_owner.as_ref() != Some(owner) {
            return Err(CompleteError::LeaseLost);
        }
        apply_completion(run, completion);
        let row = run.clone();
        state.append(completed);
        Ok(row)
    }

    async fn get(&self, id: RunId) -> Result<Option<Run>, StoreError> {
        Ok(self.lock().runs.get(&id).cloned())
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
        let limit = query.limit.get() as usize;
        let more = runs.len() > limit;
        let page: Vec<Run> = runs.into_iter().take(limit).cloned().collect();
        let next = if more { page.last().map(Run::cursor) } else { None };
        Ok(RunPage { runs: page, next })
    }

    async fn latest_for_identity(&self, identity: &RunIdentityHash) -> Result<Option<Run>, StoreError> {
        let state = self.lock();
        Ok(state.runs.values().filter(|r| &r.identity_hash == identity).max_by_key(|r| cursor_key(r)).cloned())
    }

    async fn tally(&self) -> Result<Vec<crate::ports::RunTally>, StoreError> {
        let state = self.lock();
        let mut counts: BTreeMap<(&'static str, &'static str), crate::ports::RunTally> = BTreeMap::new();
        for run in state.runs.values() {
            counts
                .entry((run.status.as_str(), run.outcome.as_str()))
                .or_insert(crate::ports::RunTally { status: run.status, outcome: run.outcome, count: 0 })
                .count += 1;
        }
        Ok(counts.into_values().collect())
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
}

#[async_trait]
impl AcknowledgementStore for InMemoryStore {
    async fn acknowledge(
        &self,
        ack: NewAcknowledgement,
        event: PendingAuditEvent,
    ) -> Result<Acknowledgement, AcknowledgeError> {
        let mut state = self.lock();
        // The acknowledgement must name its run's own scope, as a database foreign key on
        // (run, workspace, tenant) would enforce.
        let in_scope = state
            .runs
            .get(&ack.run_id)
            .is_some_and(|r| r.identity.workspace_id == ack.workspace_id && r.identity.tenant_id == ack.tenant_id);
        if !in_scope {
            return Err(AcknowledgeError::RunNotFound);
        }
        if let Some(existing) =
            state.acknowledgements.iter().find(|a| a.run_id == ack.run_id && a.check_key == ack.check_key)
        {
            return Err(AcknowledgeError::AlreadyAcknowledged(Box::new(existing.clone())));
        }
        let mut row = Acknowledgement::from_new(ack);
        row.acknowledged_at = crate::domain::to_micros(row.acknowledged_at);
        row.created_at = row.acknowledged_at;
        row.updated_at = row.acknowledged_at;
        state.acknowledgements.push(row.clone());
        state.append(event);
        Ok(row)
    }

    async fn list_for_run(&self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<Acknowledgement> =
            state.acknowledgements.iter().filter(|a| a.run_id == run).cloned().collect();
        rows.sort_by_key(|a| (a.acknowledged_at, a.id));
        Ok(rows)
    }
}

fn scoped(
    state: &mut State,
    workspace: WorkspaceId,
    tenant: TenantId,
    id: ProviderConnectionId,
) -> Result<&mut ProviderConnection, ConnectionUpdateError> {
    state
        .connections
        .get_mut(&id)
        .filter(|c| c.workspace_id == workspace && c.tenant_id == tenant)
        .ok_or(ConnectionUpdateError::NotFound)
}

#[async_trait]
impl ProviderConnectionStore for InMemoryStore {
    async fn create(
        &self,
        connection: ProviderConnection,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, StoreError> {
        let mut state = self.lock();
        state.connections.insert(connection.id, connection.clone());
        state.append(event);
        Ok(connection)
    }

    async fn get(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
    ) -> Result<Option<ProviderConnection>, StoreError> {
        let state = self.lock();
        Ok(state.connections.get(&id).filter(|c| c.workspace_id == workspace && c.tenant_id == tenant).cloned())
    }

    async fn get_by_id(&self, id: ProviderConnectionId) -> Result<Option<ProviderConnection>, StoreError> {
        Ok(self.lock().connections.get(&id).cloned())
    }

    async fn list(&self, workspace: WorkspaceId, tenant: TenantId) -> Result<Vec<ProviderConnection>, StoreError> {
        let state = self.lock();
        let mut rows: Vec<ProviderConnection> = state
            .connections
            .values()
            .filter(|c| c.workspace_id == workspace && c.tenant_id == tenant)
            .cloned()
            .collect();
        rows.sort_by_key(|c| (c.created_at, c.id));
        Ok(rows)
    }

    async fn rotate_secret(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        secret: NewSecret,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let mut state = self.lock();
        let connection = scoped(&mut state, workspace, tenant, id)?;
        if connection.disabled_at.is_some() {
            return Err(ConnectionUpdateError::Disabled);
        }
        let at = crate::domain::to_micros(at);
        connection.client_secret_ciphertext = Some(secret.ciphertext);
        connection.client_secret_expires_at = secret.expires_at.map(crate::domain::to_micros);
        connection.secret_updated_at = Some(at);
        connection.updated_at = at;
        let row = connection.clone();
        state.append(event);
        Ok(row)
    }

    async fn disable(
        &self,
        workspace: WorkspaceId,
        tenant: TenantId,
        id: ProviderConnectionId,
        at: DateTime<Utc>,
        event: PendingAuditEvent,
    ) -> Result<ProviderConnection, ConnectionUpdateError> {
        let mut state = self.lock();
        let connection = scoped(&mut state, workspace, tenant, id)?;
        if connection.disabled_at.is_some() {
            return Ok(connection.clone());
        }
        let at = crate::domain::to_micros(at);
        connection.disabled_at = Some(at);
        connection.updated_at = at;
        let row = connection.clone();
        state.append(event);
        Ok(row)
    }
}

#[async_trait]
impl AuditLog for InMemoryStore {
    async fn events(&self, query: AuditQuery) -> Result<Vec<AuditEvent>, StoreError> {
        let state = self.lock();
        let Some(chain) = state.audit.get(&query.workspace) else { return Ok(Vec::new()) };
        Ok(chain
            .iter()
            .filter(|e| query.after_seq.is_none_or(|after| e.seq() > after))
            .filter(|e| query.tenant.is_none_or(|t| e.tenant_id() == Some(t)))
            .filter(|e| query.action.is_none_or(|a| e.action() == a))
            .take(query.limit as usize)
            .cloned()
            .collect())
    }

    async fn chain_heads(&self) -> Result<Vec<ChainHead>, StoreError> {
        let state = self.lock();
        Ok(state
            .audit
            .iter()
            .filter_map(|(workspace, chain)| chain.last().map(|e| ChainHead { workspace: *workspace, seq: e.seq() }))
            .collect())
    }
}
