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
mod fleet;
mod outbox;
mod queue;
mod runs;
mod schedules;

use std::any::Any;
use std::sync::Arc;

pub use acks::*;
pub use audit::*;
pub use connections::*;
pub use fixtures::*;
pub use fleet::*;
pub use outbox::*;
pub use queue::*;
pub use runs::*;
pub use schedules::*;

use crate::ports::{
    AcknowledgementStore, AuditLog, DeliveryOutbox, FleetStatusStore, ProviderConnectionStore, RunQueue, RunStore,
    ScheduleStore, WebhookStore,
};
use crate::services::Store;

/// One fresh, empty set of stores for one test.
pub struct Stores {
    /// Runs.
    pub runs: Arc<dyn RunStore>,
    /// The run queue.
    pub queue: Arc<dyn RunQueue>,
    /// Acknowledgements.
    pub acknowledgements: Arc<dyn AcknowledgementStore>,
    /// Provider connections.
    pub connections: Arc<dyn ProviderConnectionStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// Schedules.
    pub schedules: Arc<dyn ScheduleStore>,
    /// Webhook subscriptions.
    pub webhooks: Arc<dyn WebhookStore>,
    /// The delivery outbox.
    pub outbox: Arc<dyn DeliveryOutbox>,
    /// The fleet status.
    pub fleet: Arc<dyn FleetStatusStore>,
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
    pub fn from_single<S: Store>(store: S, guard: Option<Box<dyn Any + Send + Sync>>) -> Self {
        Self {
            runs: Arc::new(store.clone()),
            queue: Arc::new(store.clone()),
            acknowledgements: Arc::new(store.clone()),
            connections: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            schedules: Arc::new(store.clone()),
            webhooks: Arc::new(store.clone()),
            outbox: Arc::new(store.clone()),
            fleet: Arc::new(store),
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
            blocked_start_writes_a_stub_with_both_events,
            blocked_starts_reuse_the_latest_stub_until_something_changes,
            concurrent_blocked_starts_write_one_stub,
            scope_names_workspace_and_tenant,
            a_run_in_context_is_read_only_when_visible,
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
            queue_depth_counts_active_runs,
            acknowledgement_is_unique_per_run_and_check,
            concurrent_acknowledgements_have_one_winner,
            acknowledgement_of_a_missing_run_writes_nothing,
            connections_are_scoped_to_their_tenant,
            rotate_and_disable_follow_the_rules,
            secret_expiry_is_stored_and_replaced_by_rotation,
            concurrent_writes_keep_one_gap_free_chain,
            multi_event_appends_extend_one_gap_free_chain,
            chains_are_per_workspace,
            audit_events_filter_and_page_by_seq,
            stored_events_keep_their_hash,
            chain_heads_name_every_workspace_and_its_newest_seq,
            chain_head_records_the_newest_event,
            audit_events_are_visible_by_tenant_entitlement,
            schedules_are_set_replaced_and_removed_with_their_events,
            concurrent_schedule_claims_never_share_a_schedule,
            an_expired_schedule_claim_is_due_again_and_fences_rearming,
            webhooks_are_created_rotated_and_deleted_with_their_events,
            completion_fans_events_out_to_matching_subscriptions,
            a_failed_completion_writes_no_deliveries,
            concurrent_delivery_claims_never_share_a_delivery,
            a_delivery_claimed_by_a_dead_dispatcher_is_due_again,
            attempts_follow_the_retry_schedule_and_pages_list_newest_first,
            fleet_rows_show_each_connection_with_its_latest_run,
            fleet_filters_and_pages_agree,
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
