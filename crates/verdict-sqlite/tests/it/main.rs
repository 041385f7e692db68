//! The SQLite adapter's tests, in one binary: the core conformance suite on a file database,
//! durability across reopening, write-lock stress, migrations and schema constraints.
//!
//! Panics are how a test fails, helpers included, so `unwrap`/`expect` are the point here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod concurrency;
mod conformance;
mod constraints;
mod durability;
mod faults;
mod groups;
mod migrations;
mod outbox;
mod plans;
mod support;
