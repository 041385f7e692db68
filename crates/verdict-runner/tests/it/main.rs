//! End-to-end tests of the runner: the provider-connection flow against a simulated Entra/Graph
//! tenant, the flow engine's isolation of misbehaving checks, and the worker pool's lifecycle,
//! all on core's in-memory stores.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod engine;
mod history;
mod permissions;
mod scenarios;
mod secrets;
mod support;
mod workers;
