//! Verdict's core: the domain, its rules, the ports adapters implement, and the services that
//! own every business sequence. Depends on no adapter.

pub mod crypto;
pub mod domain;
pub mod flows;
pub mod ports;
pub mod rules;
pub mod services;

#[cfg(any(test, feature = "fakes"))]
pub mod fakes;

#[cfg(feature = "conformance")]
pub mod conformance;
