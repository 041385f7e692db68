//! The acknowledgement store: immutable rows, one per (run, check).

use async_trait::async_trait;

use super::StoreError;
use crate::domain::{Acknowledgement, NewAcknowledgement, PendingAuditEvent, RunId};

/// Why the store did not insert an acknowledgement.
#[derive(Debug, thiserror::Error)]
pub enum AckInsertError {
    /// One already exists for this (run, check); it is returned unchanged.
    #[error("the check is already acknowledged")]
    AlreadyAcknowledged(Box<Acknowledgement>),
    /// The run does not exist.
    #[error("no such run")]
    RunNotFound,
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Acknowledgements of checks.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AcknowledgementStore: Send + Sync {
    /// Inserts an acknowledgement with its audit event, atomically. Uniqueness of
    /// `(run, check_key)` is the store's own constraint: under any concurrency one insert wins
    /// and the others get [`AckInsertError::AlreadyAcknowledged`] with the winner.
    ///
    /// # Errors
    /// See [`AckInsertError`]; nothing is written on error.
    async fn acknowledge(
        &self,
        ack: NewAcknowledgement,
        event: PendingAuditEvent,
    ) -> Result<Acknowledgement, AckInsertError>;

    /// The acknowledgements of a run, oldest first.
    ///
    /// # Errors
    /// [`StoreError`] on storage failure.
    async fn list_for_run(&self, run: RunId) -> Result<Vec<Acknowledgement>, StoreError>;
}
