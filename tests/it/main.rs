//! End-to-end tests: the real `verdict` service (API and workers) on port 0, spoken to over real
//! HTTP, on SQLite and on PostgreSQL, with a simulated Entra/Graph tenant of the tests' own.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod api;
mod audit;
mod bad_input;
mod browser;
mod concurrency;
mod continuous;
mod edge;
mod endpoints;
mod exports;
mod fleet;
mod outage;
mod security;
mod support;
mod ui;
mod ui_fleet;
mod ui_run;

/// Runs an async test body once per backend, as `sqlite::name` and `postgres::name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;
