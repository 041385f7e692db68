//! A database that cannot be reached is `Unavailable` within the acquire timeout, never a hang.

use std::time::{Duration, Instant};

use verdict_core::domain::RunId;
use verdict_core::ports::{RunStore, StoreError};
use verdict_postgres::{PgConfig, PgStore};

const ACQUIRE: Duration = Duration::from_millis(800);

/// A URL to a port of this machine where nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("postgres://postgres@127.0.0.1:{port}/verdict")
}

fn config() -> PgConfig {
    PgConfig { acquire_timeout: ACQUIRE, ..PgConfig::default() }
}

#[tokio::test]
async fn connecting_to_an_unreachable_database_is_unavailable_within_the_acquire_timeout() {
    let started = Instant::now();
    let result = PgStore::connect(&closed_port_url(), config()).await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
    assert!(started.elapsed() < ACQUIRE + Duration::from_secs(2), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn calls_on_an_unreachable_database_are_unavailable_within_the_acquire_timeout() {
    let store = PgStore::connect_lazy(&closed_port_url(), config()).unwrap();
    for _ in 0..2 {
        let started = Instant::now();
        let result = store.get(RunId::generate()).await;
        assert!(matches!(result, Err(StoreError::Unavailable(_))), "{result:?}");
        assert!(started.elapsed() < ACQUIRE + Duration::from_secs(2), "took {:?}", started.elapsed());
    }
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.listen_for_new_runs().await, Err(StoreError::Unavailable(_))));
}

#[tokio::test]
async fn a_malformed_url_is_unexpected_and_does_not_echo_the_password() {
    let result = PgStore::connect_lazy("postgres://user:hunter2@[bad", config());
    let Err(StoreError::Unexpected(err)) = result else { panic!("expected Unexpected, got {result:?}") };
    assert!(!format!("{err:#}").contains("hunter2"));
}

/// Writes queued in one workspace's groups (`src/group.rs`) each get `Unavailable` when the
/// database cannot be reached: a failed group answers every member, none is left waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_queued_in_a_group_are_each_unavailable() {
    use verdict_core::conformance::{blocked_start, identity};
    let store = PgStore::connect_lazy(&closed_port_url(), config()).unwrap();
    let mut starts = tokio::task::JoinSet::new();
    for tenant in 10..20 {
        let store = store.clone();
        starts.spawn(async move {
            store.start_blocked(blocked_start(&identity(1, tenant, None), "No connection.", None)).await
        });
    }
    let mut answered = 0;
    while let Some(outcome) = starts.join_next().await {
        let outcome = outcome.unwrap();
        assert!(matches!(outcome, Err(StoreError::Unavailable(_))), "{outcome:?}");
        answered += 1;
    }
    assert_eq!(answered, 10);
}
