//! The export crate's integration tests, one binary: the SARIF mapping and its two validity
//! oracles (OASIS schema, SARIF Multitool), JUnit parsed back by an XML parser, and generated
//! reports through both.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod generated;
mod junit_cases;
mod sarif_cases;
mod scenarios;
mod support;
