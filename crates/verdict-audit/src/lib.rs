//! Verdict's audit adapter: the forwarder that copies committed audit events to a JSON-lines
//! sink (stdout or a file) for a SIEM — per workspace in `seq` order, at least once, resuming
//! from a persisted cursor after a restart. The hash chain and its verification are core rules
//! (`verdict_core::domain::ChainVerifier`, `verdict_core::services::verify_chain`).

mod cursor;
mod forwarder;

pub use cursor::Cursor;
pub use forwarder::{DurableWrite, Forwarder, ForwarderConfig, ForwarderError, Sink};
