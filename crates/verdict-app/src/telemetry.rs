//! Logging in one place: `tracing` filtered by target (`RUST_LOG`, default `info,sqlx=warn`),
//! pretty on a terminal and JSON lines otherwise.
//!
//! The filter is a [`Targets`] list (`warn`, `verdict=debug,sqlx=warn`, …): it decides once per
//! call site, where an `EnvFilter` also tracks every span on every enter and exit of every future
//! it instruments, a few per cent of a read's CPU (docs/benchmarks.md, "Where a read's time goes").
//! Span-name and field directives (`[span{field=…}]`) are not supported.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::cli::LogFormat;

/// The filter when `RUST_LOG` is unset or not a list of `target=level` directives, as `filter`
/// builds it.
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber writing to stderr.
pub fn init(format: Option<LogFormat>) {
    let (filter, invalid) = filter(std::env::var("RUST_LOG").ok().as_deref());
    let format = format.unwrap_or(if std::io::stderr().is_terminal() { LogFormat::Pretty } else { LogFormat::Json });
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Pretty => registry.with(layer).try_init(),
        LogFormat::Json => registry.with(layer.json().flatten_event(true).with_current_span(true)).try_init(),
    };
    if result.is_err() {
        eprintln!("verdict: a log subscriber was already installed");
    }
    if let Some(reason) = invalid {
        tracing::warn!(%reason, default = DEFAULT_FILTER, "RUST_LOG is not a list of target=level directives; using the default");
    }
}

/// The filter `RUST_LOG` asks for, or the default and why `RUST_LOG` was not used.
fn filter(rust_log: Option<&str>) -> (Targets, Option<String>) {
    let default = || Targets::new().with_default(Level::INFO).with_target("sqlx", Level::WARN);
    match rust_log.map(str::trim).filter(|s| !s.is_empty()).map(str::parse::<Targets>) {
        None => (default(), None),
        Some(Ok(targets)) => (targets, None),
        Some(Err(err)) => (default(), Some(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_sets_levels_by_target_and_anything_else_falls_back_to_the_default() {
        let (targets, invalid) = filter(Some("warn,verdict=debug"));
        assert!(invalid.is_none());
        assert!(targets.would_enable("verdict::serve", &Level::DEBUG));
        assert!(!targets.would_enable("hyper", &Level::INFO));

        for unset in [None, Some(""), Some("  ")] {
            let (targets, invalid) = filter(unset);
            assert!(invalid.is_none(), "{unset:?}");
            assert!(targets.would_enable("verdict", &Level::INFO));
            assert!(!targets.would_enable("sqlx::query", &Level::INFO));
        }

        assert_eq!(filter(None).0.to_string(), DEFAULT_FILTER.parse::<Targets>().unwrap().to_string());
        let (targets, invalid) = filter(Some("verdict=loud"));
        assert!(invalid.is_some());
        assert!(targets.would_enable("verdict", &Level::INFO) && !targets.would_enable("verdict", &Level::DEBUG));
    }
}
