//! The `verdict` service assembled: configuration, telemetry, wiring of the store, the HTTP API
//! and the workers, and the CLI subcommands. `main.rs` only parses and dispatches; the
//! end-to-end tests build the same [`app::App`] on port 0.

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod continuous;
pub mod secret;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod workers;
