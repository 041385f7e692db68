//! End-to-end tests live in `it/`; this library is empty.
