//! The one error every validating constructor returns: which field, and what is wrong with it.

use std::fmt;

/// A value that could not be parsed into a domain type. `field` names the input field so that
/// adapters can report it (e.g. an HTTP 422 `details` entry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The field or type that was invalid.
    pub field: &'static str,
    /// What is wrong with it, in words a caller can act on.
    pub problem: String,
}

impl ParseError {
    /// Builds an error for `field`.
    #[must_use]
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self { field, problem: problem.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}
