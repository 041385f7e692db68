//! Blocked starts and acknowledgements of one workspace committed in groups: one transaction, one
//! lock of the workspace's audit chain head and one flush for every such write of the workspace
//! that queued while the previous group ran.
//!
//! Every write of a workspace appends to its audit chain, and the chain's head row is locked from
//! the append until the commit, so a workspace's writes pass the head one at a time, each holding
//! it for three round trips and a flush (docs/benchmarks.md, "One workspace is bound by its chain
//! head"). Blocked starts and acknowledgements are the writes an operator or a host sends in
//! bursts for one workspace (every tenant of an MSP without a connection yet, a review of a
//! fleet's failing checks), so they queue here per workspace, and a task of the store
//! ([`PgStore::run_groups`]) runs them in groups:
//!
//! - the group's transaction runs each member's statements in turn: a blocked start's (the
//!   identity's lock, its latest run, the stub with its webhook fan-out), sorted by identity so
//!   that two processes' groups take the identities' locks in one order and cannot deadlock, then
//!   an acknowledgement's (`insert_acknowledgement`, the statements of an acknowledgement alone);
//! - then it locks the chain head once, appends every member's events in one statement and
//!   commits: the chain stays one gap-free sequence, sealed by core as before, and the head is
//!   held once per group instead of once per write;
//! - a member deduplicated by an earlier member's stub, or refused for an earlier member's
//!   acknowledgement of the same check, answers with it after the commit made it durable, as
//!   every member does.
//!
//! A group whose transaction fails is retried one member at a time, so one member's failure fails
//! only that member: an acknowledgement of a missing run (its insert fails on the foreign key and
//! so aborts the transaction) is refused alone, as is a member a bug broke. When the database is
//! unavailable every member fails at once. At most [`RUNNING`] groups of one workspace run at a
//! time, so the next group's statements run while the previous group holds the head and flushes;
//! a write that finds fewer running starts one more group at once, so a lone write waits for
//! nobody, and writes over many workspaces run as before, each in a group of its own.
//!
//! The group runs in a task of its own, so a caller that goes away (an HTTP request cancelled)
//! cannot cancel the other members' statements: a write already in a group is committed and only
//! its answer is lost, as when a response is lost on the wire; a write still queued when its
//! caller went away is skipped.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sqlx::PgConnection;
use tokio::sync::oneshot;
use verdict_core::domain::{
    Acknowledgement, NewAcknowledgement, PendingAuditEvent, RunIdentityHash, WorkspaceId, to_micros,
};
use verdict_core::ports::{AckInsertError, BlockedStart, StartOutcome, StoreError};

use crate::PgStore;
use crate::acks::insert_acknowledgement;
use crate::audit::append_all;
use crate::continuous::bind_events;
use crate::error::store_error;
use crate::queries::{INSERT_COMPLETED, LOCK_IDENTITY};
use crate::runs::latest;

/// The most groups of one workspace running at once: one holding the chain head and flushing,
/// one running its members' statements meanwhile. One and three were measured against it
/// (docs/benchmarks.md, "A workspace's writes in groups").
const RUNNING: usize = 2;

/// The most writes one group commits. A group's first member waits for the others' statements,
/// so the bound keeps its latency near that of a few dozen small transactions.
const MAX_MEMBERS: usize = 32;

/// A write a group commits.
#[derive(Clone)]
enum Write {
    Start(Box<BlockedStart>),
    Acknowledge(Box<(NewAcknowledgement, PendingAuditEvent)>),
}

/// A write's outcome, when its group committed (or rolled back, having written nothing).
enum Outcome {
    Start(Box<StartOutcome>),
    Acknowledge(Result<Acknowledgement, AckInsertError>),
}

/// Where a write's outcome goes.
enum Answer {
    Start(oneshot::Sender<Result<StartOutcome, StoreError>>),
    Acknowledge(oneshot::Sender<Result<Acknowledgement, AckInsertError>>),
}

impl Answer {
    fn is_closed(&self) -> bool {
        match self {
            Self::Start(answer) => answer.is_closed(),
            Self::Acknowledge(answer) => answer.is_closed(),
        }
    }

    /// Sends `outcome`; a caller that went away needs none.
    fn send(self, outcome: Result<Outcome, StoreError>) {
        let mismatch =
            || StoreError::Unexpected(anyhow::anyhow!("a group answered a write with another kind's outcome"));
        match (self, outcome) {
            (Self::Start(answer), Ok(Outcome::Start(outcome))) => drop(answer.send(Ok(*outcome))),
            (Self::Start(answer), Ok(Outcome::Acknowledge(_))) => drop(answer.send(Err(mismatch()))),
            (Self::Start(answer), Err(error)) => drop(answer.send(Err(error))),
            (Self::Acknowledge(answer), Ok(Outcome::Acknowledge(outcome))) => drop(answer.send(outcome)),
            (Self::Acknowledge(answer), Ok(Outcome::Start(_))) => drop(answer.send(Err(mismatch().into()))),
            (Self::Acknowledge(answer), Err(error)) => drop(answer.send(Err(error.into()))),
        }
    }
}

/// A queued write and where its outcome goes.
struct Member {
    write: Write,
    answer: Answer,
}

/// One workspace's queue.
#[derive(Default)]
struct Queue {
    waiting: Vec<Member>,
    running: usize,
}

/// The queues of the workspaces with writes queued or running; shared by the store's clones.
#[derive(Default)]
pub(crate) struct Groups(Mutex<HashMap<WorkspaceId, Queue>>);

/// The number of workspaces only: the queued writes hold operators' free text (an
/// acknowledgement's reason), which no log may carry.
impl std::fmt::Debug for Groups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queues = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Groups").field("workspaces", &queues.len()).finish_non_exhaustive()
    }
}

impl Groups {
    /// Queues `member`; `true` when the caller must start a group runner for the workspace.
    fn queue(&self, workspace: WorkspaceId, member: Member) -> bool {
        let mut queues = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = queues.entry(workspace).or_default();
        queue.waiting.push(member);
        let start_runner = queue.running < RUNNING;
        queue.running += usize::from(start_runner);
        start_runner
    }

    /// The next group of `workspace`, its members' callers still waiting; empty when none is
    /// queued, and then this runner has ended (the workspace's entry goes with its last runner).
    fn next(&self, workspace: WorkspaceId) -> Vec<Member> {
        let mut queues = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queues.get_mut(&workspace) else { return Vec::new() };
        queue.waiting.retain(|member| !member.answer.is_closed());
        let group: Vec<Member> = queue.waiting.drain(..queue.waiting.len().min(MAX_MEMBERS)).collect();
        if group.is_empty() {
            end_runner(&mut queues, workspace);
        }
        group
    }
}

fn end_runner(queues: &mut HashMap<WorkspaceId, Queue>, workspace: WorkspaceId) {
    if let Some(queue) = queues.get_mut(&workspace) {
        queue.running = queue.running.saturating_sub(1);
        if queue.running == 0 && queue.waiting.is_empty() {
            queues.remove(&workspace);
        }
    }
}

/// Ends a runner that unwinds (a panic in a group, or the runtime shutting down): its members'
/// callers get an error from their dropped senders, and writes still queued get a new runner, so
/// the workspace is never left with a queue nobody takes.
struct Runner {
    store: PgStore,
    workspace: WorkspaceId,
    ended: bool,
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let mut queues = self.store.groups().0.lock().unwrap_or_else(PoisonError::into_inner);
        end_runner(&mut queues, self.workspace);
        let Some(queue) = queues.get_mut(&self.workspace) else { return };
        if !queue.waiting.is_empty()
            && queue.running < RUNNING
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            queue.running += 1;
            runtime.spawn(self.store.clone().run_groups(self.workspace));
        }
    }
}

impl PgStore {
    /// Queues a blocked start with its workspace's group and waits for its outcome.
    pub(crate) async fn start_blocked_in_group(&self, start: BlockedStart) -> Result<StartOutcome, StoreError> {
        let (answer, outcome) = oneshot::channel();
        self.queue(
            start.run.identity.workspace_id,
            Member { write: Write::Start(Box::new(start)), answer: Answer::Start(answer) },
        );
        outcome.await.map_err(|_| unanswered())?
    }

    /// Queues an acknowledgement with its workspace's group and waits for its outcome.
    pub(crate) async fn acknowledge_in_group(
        &self,
        ack: NewAcknowledgement,
        event: PendingAuditEvent,
    ) -> Result<Acknowledgement, AckInsertError> {
        let (answer, outcome) = oneshot::channel();
        let workspace = ack.workspace_id;
        self.queue(
            workspace,
            Member { write: Write::Acknowledge(Box::new((ack, event))), answer: Answer::Acknowledge(answer) },
        );
        outcome.await.map_err(|_| unanswered())?
    }

    fn queue(&self, workspace: WorkspaceId, member: Member) {
        if self.groups().queue(workspace, member) {
            tokio::spawn(self.clone().run_groups(workspace));
        }
    }

    /// Runs `workspace`'s groups until its queue is empty.
    async fn run_groups(self, workspace: WorkspaceId) {
        let mut runner = Runner { store: self.clone(), workspace, ended: false };
        let mut group = self.groups().next(workspace);
        while !group.is_empty() {
            self.run_group(group).await;
            group = self.groups().next(workspace);
        }
        // `next` ended the runner when it found the queue empty.
        runner.ended = true;
    }

    /// Commits `group` and answers its members; see the module's documentation.
    async fn run_group(&self, group: Vec<Member>) {
        let (writes, answers): (Vec<Write>, Vec<Answer>) =
            group.into_iter().map(|member| (member.write, member.answer)).unzip();
        // Alone, the write needs no copy for a second attempt.
        if writes.len() == 1 {
            for (write, answer) in writes.into_iter().zip(answers) {
                answer.send(self.commit_one(write).await);
            }
            return;
        }
        match self.commit_group(writes.clone()).await {
            Ok(outcomes) => {
                for (answer, outcome) in answers.into_iter().zip(outcomes) {
                    answer.send(Ok(outcome));
                }
            }
            // Each member alone would wait for the database as long again.
            Err(StoreError::Unavailable(error)) => {
                for answer in answers {
                    answer.send(Err(StoreError::Unavailable(anyhow::anyhow!("{error:#}"))));
                }
            }
            Err(error) => {
                tracing::debug!(error = %error, members = writes.len(), "a group failed; committing its members one by one");
                for (write, answer) in writes.into_iter().zip(answers) {
                    answer.send(self.commit_one(write).await);
                }
            }
        }
    }

    /// [`Self::commit_group`] of one write.
    async fn commit_one(&self, write: Write) -> Result<Outcome, StoreError> {
        let outcomes = self.commit_group(vec![write]).await?;
        outcomes.into_iter().next().ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("a write was not run")))
    }

    /// One transaction for `writes`: each member's statements (blocked starts first, by
    /// identity), then the chain head's lock and every member's events, and the commit. The
    /// outcomes are in `writes`' order.
    async fn commit_group(&self, writes: Vec<Write>) -> Result<Vec<Outcome>, StoreError> {
        let alone = writes.len() == 1;
        let hashes: Vec<_> = writes
            .iter()
            .map(|write| match write {
                Write::Start(start) => Some(start.run.identity_hash()),
                Write::Acknowledge(..) => None,
            })
            .collect();
        let mut order: Vec<usize> = (0..writes.len()).collect();
        // Starts by identity, then acknowledgements (no identity).
        order.sort_by(|a, b| match (&hashes[*a], &hashes[*b]) {
            (Some(a), Some(b)) => a.as_str().cmp(b.as_str()),
            (a, b) => a.is_none().cmp(&b.is_none()),
        });
        let mut slots: Vec<Option<Write>> = writes.into_iter().map(Some).collect();
        let mut outcomes: Vec<Option<Outcome>> = (0..slots.len()).map(|_| None).collect();
        let mut events = Vec::with_capacity(2 * slots.len());
        let mut tx = self.begin_write().await?;
        for index in order {
            let outcome = match slots[index].take() {
                Some(Write::Start(start)) => {
                    let Some(identity_hash) = &hashes[index] else { continue };
                    Outcome::Start(Box::new(start_in(&mut tx, *start, identity_hash, &mut events).await?))
                }
                Some(Write::Acknowledge(write)) => match insert_acknowledgement(&mut tx, &write.0).await {
                    Ok(stored) => {
                        events.push(write.1);
                        Outcome::Acknowledge(Ok(stored))
                    }
                    Err(AckInsertError::Store(error)) => return Err(error),
                    // The failed insert aborted the transaction: alone, it is the refusal (the
                    // rollback below); in a group, every member is committed again alone.
                    Err(AckInsertError::RunNotFound) if !alone => {
                        return Err(StoreError::Unexpected(anyhow::anyhow!("an acknowledgement's run is missing")));
                    }
                    Err(refused) => Outcome::Acknowledge(Err(refused)),
                },
                None => continue,
            };
            outcomes[index] = Some(outcome);
        }
        if events.is_empty() {
            tx.rollback().await?;
        } else {
            append_all(&mut tx, events).await?;
            tx.commit().await?;
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("a group member was not run"))))
            .collect()
    }
}

/// A blocked start's statements within the group's transaction `tx`; its audit events join
/// `events` when it writes a stub.
async fn start_in(
    tx: &mut PgConnection,
    start: BlockedStart,
    identity_hash: &RunIdentityHash,
    events: &mut Vec<PendingAuditEvent>,
) -> Result<StartOutcome, StoreError> {
    // Serializes blocked starts of the identity until commit: each sees the stub the previous one
    // wrote, in this group or another transaction.
    sqlx::query(LOCK_IDENTITY).bind(identity_hash.as_str()).execute(&mut *tx).await.map_err(store_error)?;
    if let Some(latest) = latest(&mut *tx, identity_hash).await?
        && start.answered_by(&latest)
    {
        return Ok(StartOutcome::Deduplicated(latest));
    }
    let BlockedStart { run, completion, started, completed, events: webhook_events, .. } = start;
    let insert = sqlx::query(INSERT_COMPLETED)
        .bind(run.id.as_uuid())
        .bind(run.identity.workspace_id.get())
        .bind(run.identity.tenant_id.get())
        .bind(run.identity.provider_connection_id.map(|c| *c.as_uuid()))
        .bind(run.identity.flow.as_str())
        .bind(identity_hash.as_str())
        .bind(completion.outcome().as_str())
        .bind(run.initiator_user_id.as_ref().map(|u| u.as_str()))
        .bind(completion.summary_counts_json())
        .bind(completion.failure_summary_json())
        .bind(completion.report().to_json_text())
        .bind(to_micros(run.created_at))
        .bind(completion.completed_at())
        .bind(completion.overall().as_str())
        .bind(completion.change_state().as_str())
        .bind(completion.credential_expires_at());
    // The run and its webhook deliveries in one statement; the chain head after every member, in
    // a statement of its own: its lock is held until the commit, and taken inside the insert it
    // could deadlock with a webhook's deletion (docs/benchmarks.md, "The writes").
    bind_events(insert, &webhook_events).execute(&mut *tx).await.map_err(store_error)?;
    events.extend([started, completed]);
    // What the row holds, without reading it back (`NewRun::completed`).
    Ok(StartOutcome::Created(run.completed(completion)))
}

fn unanswered() -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("the write's group ended unanswered"))
}
