//! The PostgreSQL adapter's tests, one binary: the shared storage conformance suite, then what
//! only a real database shows — concurrency, schema constraints, query plans, notifications and
//! outage behaviour. Each test gets its own database from `verdict-pg-harness`.
//!
//! Panics are how a test fails, in helpers too, so `unwrap`/`expect` are the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod claims;
mod conformance;
mod groups;
mod kept;
mod notify;
mod outbox;
mod plans;
mod schema;
mod support;
mod unavailable;
