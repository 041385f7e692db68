//! Project automation, the only entry point for checks: `cargo xtask ci` is exactly what CI
//! runs; `cargo xtask bench` runs the benchmarks (docs/benchmarks.md).

mod contract;
mod tidy;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench(args.get(1).map(String::as_str)),
        Some("tidy") if args.get(1).map(String::as_str) == Some("--record-migrations") => {
            tidy::metadata().and_then(|m| tidy::migrations::record(&tidy::root(&m)?))
        }
        Some("tidy") => tidy::check_workspace().map(|()| eprintln!("tidy: ok")),
        Some("contract") => contract_check(),
        _ => {
            eprintln!("usage: cargo xtask <ci|bench|tidy>");
            eprintln!("  ci     fmt check, clippy -D warnings, every test (PostgreSQL included), contract, cargo-deny");
            eprintln!("  bench  [name]  the benchmarks (docs/benchmarks.md): adapters, runner, HTTP; or only `name`");
            eprintln!("  tidy   dependency arrows, per-crate tests, module docs, file sizes, migration checksums");
            eprintln!("         (--record-migrations appends new migrations to migrations/checksums.txt)");
            eprintln!("  contract  OpenAPI, Schemathesis and promtool against a served binary (after tests)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn run(step: &str, command: &mut Command) -> Result<()> {
    eprintln!("\n==> {step}: {command:?}");
    let status = command.status().with_context(|| format!("could not start {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

fn ci() -> Result<()> {
    run("format", cargo().args(["fmt", "--all", "--", "--check"]))?;
    tidy::check_workspace().context("tidy")?;
    eprintln!("tidy: ok");
    run(
        "clippy",
        cargo().args(["clippy", "--workspace", "--all-targets", "--all-features", "--locked", "--", "-D", "warnings"]),
    )?;
    run("tests", cargo().args(["test", "--workspace", "--all-features", "--locked"]))?;
    contract_check()?;
    deny()?;
    eprintln!("\nci: all checks passed");
    Ok(())
}

fn contract_check() -> Result<()> {
    let metadata = tidy::metadata()?;
    let target = metadata["target_directory"].as_str().context("cargo metadata: no target_directory")?;
    contract::check(std::path::Path::new(target)).context("served contract")
}

/// cargo-deny's licenses, bans and sources checks. Advisories need the advisory database from
/// the network, which CI does not have, so that check is reported as skipped.
fn deny() -> Result<()> {
    let installed = cargo().args(["deny", "--version"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        run("install cargo-deny", cargo().args(["install", "cargo-deny", "--locked"]))?;
    }
    run("cargo-deny", cargo().args(["deny", "--all-features", "check", "licenses", "bans", "sources"]))?;
    eprintln!("cargo-deny advisories: skipped (needs the advisory database from the network)");
    Ok(())
}

fn bench(only: Option<&str>) -> Result<()> {
    let metadata = tidy::metadata()?;
    let mut ran = 0;
    for (package, bench) in tidy::benches(&metadata).into_iter().filter(|(_, b)| only.is_none_or(|o| o == b)) {
        run(
            &format!("bench {package}/{bench}"),
            cargo().args(["bench", "--locked", "-p", &package, "--bench", &bench]),
        )?;
        ran += 1;
    }
    if ran == 0 {
        bail!("no benchmark found{}", only.map(|o| format!(" named {o}")).unwrap_or_default());
    }
    Ok(())
}
