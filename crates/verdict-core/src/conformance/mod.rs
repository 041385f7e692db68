//! The storage conformance suite: the behaviour every implementation of the storage ports must
//! show — the in-memory fakes, SQLite and PostgreSQL alike. An adapter runs it with
//! [`conformance_tests!`](crate::conformance_tests), giving an async function that returns
//! fresh, empty [`Stores`] for each test.
//!
//! Panics are how a test fails here, so `unwrap`/`expect` are the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]

mod acks;
mod audit;
mod connections;
mod fixtures;
mod runs;

use std::any::Any;
use std::sync::Arc;

pub use acks::*;
pub use audit::*;
pub use connections::*;
pub use fixtures::*;
pub use runs::*;

use crate::ports::{AcknowledgementStore, AuditLog, ProviderConnectionStore, RunStore};

/// One fresh, empty set of stores for one test.
pub struct Stores {
    /// Runs.
    pub runs: Arc<dyn RunStore>,
    /// Acknowledgements.
    pub acknowledgements: Arc<dyn AcknowledgementStore>,
    /// Provider connections.
    pub connections: Arc<dyn ProviderConnectionStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Whatever must live as long as the stores (e.g. a per-test database that is dropped when
    /// this guard is).
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

impl Stores {
    /// Stores backed by one value implementing every port.
    pub fn from_single<S>(store: S, guard: Option<Box<dyn Any + Send + Sync>>) -> Self
    where
        S: RunStore + AcknowledgementStore + ProviderConnectionStore + AuditLog + Clone + 'static,
    {
        Self {
            runs: Arc::new(store.clone()),
            acknowledgements: Arc::new(store.clone()),
            connections: Arc::new(store.clone()),
            audit: Arc::new(store),
            guard,
        }
    }
}

/// Generates one `#[tokio::test]` per conformance test. `$make` is a path to an
/// `async fn() -> Stores` returning fresh, empty stores.
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@each $make;
            concurrent_starts_for_one_identity_create_exactly_one_run,
            deduplicated_start_writes_nothing,
            completed_run_frees_the_identity,
            insert_completed_writes_both_events,
            previous_report_matches_identity_exactly_and_null_only_null,
            latest_for_identity_is_the_newest_even_if_active,
            completed_report_cannot_be_changed,
            live_report_round_trips_exactly,
            keyset_pagination_has_no_duplicates_or_gaps,
            list_filters_by_flow_status_and_connection,
            claim_takes_the_oldest_queued_run,
            concurrent_claims_never_share_a_run,
            lease_expiry_allows_reclaim_and_fences_the_old_owner,
            heartbeat_extends_and_release_hands_back_the_lease,
            tally_counts_runs_by_status_and_outcome,
            acknowledgement_is_unique_per_run_and_check,
            concurrent_acknowledgements_have_one_winner,
            acknowledgement_of_a_missing_run_writes_nothing,
            connections_are_scoped_to_their_tenant,
            rotate_and_disable_follow_the_rules,
            secret_expiry_is_stored_and_replaced_by_rotation,
            concurrent_writes_keep_one_gap_free_chain,
            chains_are_per_workspace,
            audit_events_filter_and_page_by_seq,
            stored_events_keep_their_hash,
            chain_heads_name_every_workspace_and_its_newest_seq,
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let stores = $make().await;
                $crate::conformance::$name(&stores).await;
            }
        )*
    };
}
