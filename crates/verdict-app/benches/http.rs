//! The HTTP benchmarks of this crate's `verdict` binary (docs/benchmarks.md): run with
//! `cargo xtask bench` or `cargo bench -p verdict-app --bench http`. The harness lives in
//! `verdict-bench`; this target exists so that Cargo builds the binary with the benchmark's
//! optimizations and names it in `CARGO_BIN_EXE_verdict`.

fn main() -> anyhow::Result<()> {
    verdict_bench::main(
        std::path::Path::new(env!("CARGO_BIN_EXE_verdict")),
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
    )
}
