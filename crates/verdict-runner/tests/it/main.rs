//! End-to-end tests of the runner: the provider-connection flow against a simulated Entra/Graph
//! tenant, the flow engine's isolation of misbehaving checks, and the worker pool's lifecycle,
//! on every store: each scenario runs once on core's in-memory stores, once on a SQLite file and
//! once on a PostgreSQL database (`memory::`, `sqlite::` and `postgres::` in its module). The
//! tests that wrap the in-memory store or move a manual clock run in memory only.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod aadsts;
mod engine;
mod expiry;
mod hardening;
mod history;
mod license;
mod permissions;
mod scenarios;
mod secrets;
mod support;
mod throttling;
mod workers;
