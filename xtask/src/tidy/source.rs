//! Tidy checks on the source tree: every Rust file opens with a `//!` comment saying what it is
//! for, none grows past [`MAX_LINES`] (split it by responsibility instead), and none cites a
//! document outside the repository (comments point at `docs/` or `contracts/`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The most lines a Rust file may have.
pub const MAX_LINES: usize = 600;

/// Directories never walked: build output and dependencies.
const SKIPPED: &[&str] = &["target", ".git", "node_modules"];

/// Every `.rs` file under `root`, sorted.
pub fn rust_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir() {
                if !SKIPPED.contains(&name) && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The problems of one file's text, for the file named `name`.
pub fn problems_of(name: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("#!["));
    if !first.is_some_and(|l| l.starts_with("//!")) {
        problems.push(format!("{name}: no `//!` comment at the top saying what the module is for"));
    }
    if text.contains(concat!("SPEC", " §")) {
        problems.push(format!("{name}: cites the outside spec; point at a section of docs/ or contracts/"));
    }
    let lines = text.lines().count();
    if lines > MAX_LINES {
        problems.push(format!("{name}: {lines} lines, over {MAX_LINES}; split it by responsibility"));
    }
    problems
}

/// The problems of every Rust file under `root`.
pub fn violations(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for file in rust_files(root)? {
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let name = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        problems.extend(problems_of(&name, &text));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_a_module_comment_or_too_long_is_reported() {
        assert!(problems_of("a.rs", "//! Why.\nfn main() {}\n").is_empty());
        assert!(problems_of("a.rs", "#![allow(dead_code)]\n\n//! Why.\n").is_empty());
        assert_eq!(problems_of("a.rs", "/// Item doc.\nfn f() {}\n").len(), 1);
        assert_eq!(problems_of("a.rs", "").len(), 1);
        assert_eq!(problems_of("a.rs", concat!("//! Why (SPEC", " §4).\n")).len(), 1);
        let long = format!("//! Why.\n{}", "x\n".repeat(MAX_LINES));
        assert_eq!(
            problems_of("a.rs", &long),
            [format!("a.rs: {} lines, over {MAX_LINES}; split it by responsibility", MAX_LINES + 1)]
        );
    }
}
