//! The storage conformance suite of `verdict-core`, against PostgreSQL.

verdict_core::conformance_tests!(crate::support::fresh);
