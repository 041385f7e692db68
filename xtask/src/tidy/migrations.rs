//! Tidy check on migrations: they are append-only. `migrations/checksums.txt` records the
//! SHA-256 of every migration once it is committed; editing a recorded file, deleting it, or
//! adding one without recording it fails. `cargo xtask tidy --record-migrations` appends the new
//! files and never rewrites a recorded line.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// The checksum list, relative to the workspace root.
pub const LIST: &str = "migrations/checksums.txt";

/// `path → hex sha256` of every `.sql` file under `migrations/`, paths relative to the root.
pub fn current(root: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for backend in std::fs::read_dir(root.join("migrations")).context("cannot read migrations/")? {
        let backend = backend?.path();
        if !backend.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&backend)? {
            let file = file?.path();
            if file.extension().is_some_and(|e| e == "sql") {
                let bytes = std::fs::read(&file)?;
                let name = file.strip_prefix(root).unwrap_or(&file).display().to_string();
                out.insert(name, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    Ok(out)
}

/// Parses the list: `<sha256>  <path>` per line, `#` comments.
///
/// # Errors
/// A malformed or repeated line.
pub fn parse(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let Some((sum, path)) = line.split_once("  ") else { bail!("{LIST}: malformed line `{line}`") };
        if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{LIST}: malformed checksum in `{line}`");
        }
        if out.insert(path.to_owned(), sum.to_owned()).is_some() {
            bail!("{LIST}: {path} is listed twice");
        }
    }
    Ok(out)
}

/// What differs between the recorded and the current migrations.
pub fn differences(recorded: &BTreeMap<String, String>, current: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, sum) in recorded {
        match current.get(path) {
            None => problems.push(format!("{path} was applied somewhere and is gone; migrations are append-only")),
            Some(now) if now != sum => {
                problems.push(format!("{path} changed after it was recorded; add a new migration instead"));
            }
            Some(_) => {}
        }
    }
    for path in current.keys().filter(|p| !recorded.contains_key(*p)) {
        problems.push(format!("{path} is not in {LIST}; run `cargo xtask tidy --record-migrations`"));
    }
    problems
}

/// The problems with the migrations under `root`.
pub fn violations(root: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(root.join(LIST)).with_context(|| format!("cannot read {LIST}"))?;
    Ok(differences(&parse(&text)?, &current(root)?))
}

/// Appends the unrecorded migrations to the list.
pub fn record(root: &Path) -> Result<()> {
    let path = root.join(LIST);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# SHA-256 of every committed migration: they are append-only (checked by `cargo xtask tidy`).\n".to_owned()
    });
    let recorded = parse(&text)?;
    for (file, sum) in current(root)?.into_iter().filter(|(f, _)| !recorded.contains_key(f)) {
        eprintln!("recording {file}");
        text.push_str(&format!("{sum}  {file}\n"));
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {LIST}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries.iter().map(|(p, s)| ((*p).to_owned(), (*s).to_owned())).collect()
    }

    #[test]
    fn edited_deleted_and_unrecorded_migrations_are_reported() {
        let recorded = map(&[("a.sql", "1"), ("b.sql", "2")]);
        assert!(differences(&recorded, &recorded).is_empty());
        let problems = differences(&recorded, &map(&[("a.sql", "9"), ("c.sql", "3")]));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("a.sql changed"));
        assert!(problems[1].starts_with("b.sql was applied"));
        assert!(problems[2].starts_with("c.sql is not in"));
    }

    #[test]
    fn the_committed_list_matches_the_migrations() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert_eq!(violations(&root).unwrap(), Vec::<String>::new());
        assert!(parse(&"0".repeat(64)).is_err(), "a line needs a path");
    }
}
