//! The storage conformance suite against the in-memory fakes.

use verdict_core::conformance::Stores;
use verdict_core::fakes::InMemoryStore;

async fn fresh() -> Stores {
    Stores::from_single(InMemoryStore::new(), None)
}

verdict_core::conformance_tests!(fresh);
