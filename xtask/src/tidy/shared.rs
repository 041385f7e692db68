//! The repeated lines of the two storage adapters, counted one way and kept from growing
//! (docs/architecture.md, the rule "The storage adapters repeat no more than they do today"). Rules belong in core, written once; what each adapter keeps is
//! its own SQL and column decoding. The count is the multiset intersection of the substantive
//! lines of `crates/verdict-sqlite/src` and `crates/verdict-postgres/src`: each line trimmed, and
//! blank lines, comments, `use`/`mod` lines, attributes, lone brackets and the `.await` /
//! `.map_err(store_error)?` tails of a call chain left out. A change may lower the count; one that
//! raises it past [`CEILING`] fails `tidy` — move the shared rule into core instead, or, when the
//! repetition is SQL plumbing each adapter must have, raise the ceiling in the same change and say
//! why in its message.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;

use super::source::rust_files;

/// The most substantive lines the two adapters may share (462 at the commit that introduced this
/// count, 265 before the schedules, webhooks, outbox and fleet features; 353 once the rows moved
/// to `verdict-sql`, 346 once the run view's read order and sealing an action's events moved to
/// core; 117 once the run queue, connections, acknowledgements, schedules, webhooks and the
/// delivery outbox became templates in `verdict-sql/src/ports/`; 118 when SQLite's writes
/// became group commits: its `WriteTx` defines `commit` and `rollback` itself again, with the
/// signatures the templates call on both adapters' transactions; 145 when reads moved onto
/// kept connections (`verdict_sql::kept`): each adapter's reads now call the same
/// `self.reading(async |conn| ...)` where they named their own pools before, so the call lines
/// of the same port methods became identical; the rule itself is written once, in
/// `Kept::reading`; 150 when PostgreSQL's blocked starts and acknowledgements became group
/// commits per workspace (`verdict-postgres/src/group.rs`): six lines of its own that are plain
/// Rust every module writes — a signature's `&self,`, a struct field, an `else`, a match arm, a
/// return type, a `Debug` impl's `fn fmt` — equal lines of SQLite's writer and stores, and no rule
/// is shared; lowered as lines leave).
pub const CEILING: usize = 150;

/// The adapters compared.
const ADAPTERS: [&str; 2] = ["crates/verdict-sqlite/src", "crates/verdict-postgres/src"];

/// Whether `line` (trimmed) says something of its own, rather than being syntax every Rust file has.
fn substantive(line: &str) -> bool {
    const SKIPPED_PREFIXES: &[&str] = &["//", "/*", "*", "use ", "pub use ", "mod ", "pub mod ", "#[", "#!["];
    const TAILS: &[&str] =
        &[".await", ".await?", ".await?;", ".map_err(store_error)?;", "Ok(())", "};", "})", "});", "})?;"];
    !line.is_empty()
        && !SKIPPED_PREFIXES.iter().any(|p| line.starts_with(p))
        && !TAILS.contains(&line)
        && !line.chars().all(|c| "()[]{};,".contains(c))
}

/// How often each substantive line occurs in the texts.
fn counts<'a>(texts: impl IntoIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for line in texts.into_iter().flat_map(str::lines).map(str::trim).filter(|l| substantive(l)) {
        *counts.entry(line).or_insert(0) += 1;
    }
    counts
}

/// The substantive lines two sets of texts share, counted with multiplicity.
pub fn shared_lines<'a>(left: impl IntoIterator<Item = &'a str>, right: impl IntoIterator<Item = &'a str>) -> usize {
    let (left, right) = (counts(left), counts(right));
    left.iter().map(|(line, n)| (*n).min(right.get(line).copied().unwrap_or(0))).sum()
}

/// The adapters' shared substantive lines in the tree at `root`.
///
/// # Errors
/// When a source file cannot be read.
pub fn count(root: &Path) -> Result<usize> {
    let [left, right] = ADAPTERS.map(|dir| -> Result<Vec<String>> {
        rust_files(&root.join(dir))?.iter().map(|f| Ok(std::fs::read_to_string(f)?)).collect()
    });
    let (left, right) = (left?, right?);
    Ok(shared_lines(left.iter().map(String::as_str), right.iter().map(String::as_str)))
}

/// A problem when the adapters share more than [`CEILING`] lines; the count is printed either way.
///
/// # Errors
/// When a source file cannot be read.
pub fn violations(root: &Path) -> Result<Vec<String>> {
    let shared = count(root)?;
    eprintln!("tidy: the SQLite and PostgreSQL adapters share {shared} substantive lines (ceiling {CEILING})");
    Ok(if shared > CEILING {
        vec![format!(
            "the storage adapters share {shared} substantive lines, more than the ceiling of {CEILING}: \
             move the repeated rule into verdict-core (xtask/src/tidy/shared.rs says how lines are counted)"
        )]
    } else {
        Vec::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_substantive_lines_count_with_their_multiplicity() {
        let sqlite = "use a::b;\n// same\nlet x = f(y)\n    .await\n}\nlet x = f(y)\nlet z = 1;\n";
        let postgres = "use a::b;\n// same\n    let x = f(y)\n.await\n}\nlet w = 2;\n";
        assert_eq!(shared_lines([sqlite], [postgres]), 1, "one `let x = f(y)` on each side");
        assert_eq!(shared_lines([sqlite], [sqlite]), 3);
    }

    #[test]
    fn the_adapters_stay_under_the_ceiling() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let shared = count(&root).unwrap();
        assert!(shared > 0, "the count reads the adapters' sources");
        assert!(shared <= CEILING, "{shared} > {CEILING}");
    }
}
