//! Test support (feature `oracles`): the two validity oracles for SARIF documents
//! (docs/contract.md, "Exports"): the official OASIS SARIF 2.1.0 JSON schema (read from the
//! shared folder beside the repository, never copied into it) and Microsoft's SARIF Multitool
//! `validate`. Shared by this crate's tests and the end-to-end tests, which check what the server
//! serves. A missing oracle fails the test with what to install; these functions fail by
//! panicking, as assertions do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use serde_json::{Value, json};

/// `shared/sarif/sarif-schema-2.1.0.json` next to the repository.
fn schema_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sarif/sarif-schema-2.1.0.json")
}

static SARIF_SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let path = schema_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the OASIS SARIF 2.1.0 schema is missing at {} ({e}); it lives in the shared folder beside \
             the repository (shared/sarif/sarif-schema-2.1.0.json) and is not copied into the repository",
            path.display()
        )
    });
    let schema: Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
    jsonschema::options().should_validate_formats(true).build(&schema).expect("the SARIF schema compiles")
});

/// Every schema violation of `document`, as `path: message` lines.
pub fn schema_errors(document: &Value) -> Vec<String> {
    SARIF_SCHEMA.iter_errors(document).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

/// Fails unless `document` is valid against the OASIS schema.
pub fn assert_schema_valid(document: &Value) {
    let errors = schema_errors(document);
    assert!(errors.is_empty(), "SARIF document violates the OASIS schema:\n  {}", errors.join("\n  "));
}

const INSTALL: &str = "install Microsoft's SARIF Multitool with \
    `npm install --prefix \"$HOME/.cache/verdict-tools\" --save-exact @microsoft/sarif-multitool@5.7.0 \
    @microsoft/sarif-multitool-linux@5.7.0` (what .ci/run does), or point SARIF_MULTITOOL at a \
    sarif-multitool executable";

/// The multitool: `$SARIF_MULTITOOL`, else `sarif-multitool` on `PATH`, else the copy `.ci/run`
/// installs under `$HOME/.cache/verdict-tools`.
fn multitool() -> PathBuf {
    if let Some(path) = std::env::var_os("SARIF_MULTITOOL") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "SARIF_MULTITOOL={} is not a file; {INSTALL}", path.display());
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("sarif-multitool"))
        .find(|p| p.is_file());
    let cached = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/verdict-tools/node_modules/.bin/sarif-multitool"))
        .filter(|p| p.is_file());
    on_path.or(cached).unwrap_or_else(|| panic!("no SARIF Multitool found; {INSTALL}"))
}

/// A document the multitool must reject: it proves, in every batch, that the tool really read
/// the files and that errors are parsed from its log.
fn canary() -> Value {
    json!({
        "$schema": crate::SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "canary"}}, "results": [{"ruleId": "x"}]}]
    })
}

/// What the multitool said about one batch: error lines per document name (every document of
/// the batch has an entry), and how many warnings and notes of each rule.
#[derive(Debug)]
pub struct MultitoolVerdict {
    /// Error lines per document name.
    pub errors: BTreeMap<String, Vec<String>>,
    /// Warnings and notes per rule.
    pub warnings: BTreeMap<String, usize>,
}

/// Runs `sarif-multitool validate` once over all `documents` (name → document) and returns its
/// errors per document. The tool exits 0 even when it reports errors, so its SARIF log
/// (`--output`) is parsed instead: a result is an error when its `level` is `error` (an absent
/// level means `warning`), and the run's notifications must hold no error either.
pub fn multitool_validate(documents: &[(String, Value)]) -> MultitoolVerdict {
    let dir = tempfile::tempdir().unwrap();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut files = Vec::new();
    for (name, document) in documents.iter().cloned().chain([("canary".to_owned(), canary())]) {
        assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "plain names only: {name}");
        let file = dir.path().join(format!("{name}.sarif"));
        std::fs::write(&file, serde_json::to_vec_pretty(&document).unwrap()).unwrap();
        names.insert(format!("{name}.sarif"), name);
        files.push(file);
    }
    let log = dir.path().join("validation.sarif.log");
    let tool = multitool();
    let output = Command::new(&tool)
        .arg("validate")
        .args(&files)
        .arg("--output")
        .arg(&log)
        .args(["--log", "ForceOverwrite"])
        .output()
        .unwrap_or_else(|e| panic!("could not start {} ({e}); {INSTALL}", tool.display()));
    let console = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the multitool failed ({}):\n{console}", output.status);
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("the multitool wrote no log at {} ({e}):\n{console}", log.display()));
    let log: Value = serde_json::from_str(&text).unwrap();
    let run = &log["runs"][0];

    let invocation = &run["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true, "the multitool did not run cleanly:\n{console}");
    for list in ["toolExecutionNotifications", "toolConfigurationNotifications"] {
        let failed: Vec<&Value> =
            invocation[list].as_array().into_iter().flatten().filter(|n| n["level"] == "error").collect();
        assert!(failed.is_empty(), "the multitool reported {list}: {failed:?}\n{console}");
    }

    let mut errors: BTreeMap<String, Vec<String>> = names.values().map(|n| (n.clone(), Vec::new())).collect();
    let mut warnings = BTreeMap::new();
    for result in run["results"].as_array().into_iter().flatten() {
        let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap_or("");
        let file = uri.rsplit('/').next().unwrap_or(uri);
        let name = names.get(file).unwrap_or_else(|| panic!("a result about an unknown file {uri}: {result}"));
        if result["level"] == "error" {
            let line = format!("{}: {}", result["ruleId"], result["message"]["arguments"]);
            errors.get_mut(name).unwrap().push(line);
        } else {
            *warnings.entry(result["ruleId"].as_str().unwrap_or("?").to_owned()).or_insert(0) += 1;
        }
    }
    let canary_errors = errors.remove("canary").unwrap_or_default();
    assert!(
        !canary_errors.is_empty(),
        "the multitool accepted a document without a result message: it did not validate the batch\n{console}"
    );
    MultitoolVerdict { errors, warnings }
}

/// Fails unless the multitool reports no error for any of `documents`.
pub fn assert_multitool_valid(documents: &[(String, Value)]) {
    let verdict = multitool_validate(documents);
    let failing: Vec<String> = verdict
        .errors
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(name, e)| format!("{name}:\n    {}", e.join("\n    ")))
        .collect();
    assert!(failing.is_empty(), "the SARIF Multitool reported errors:\n  {}", failing.join("\n  "));
    assert_eq!(verdict.errors.len(), documents.len(), "every document was validated");
    eprintln!(
        "multitool: {} documents, no errors; warnings and notes by rule: {:?}",
        documents.len(),
        verdict.warnings
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_oracle_rejects_what_it_must() {
        assert!(!schema_errors(&canary()).is_empty(), "a result without message is invalid");
        let mut bad_kind = canary();
        bad_kind["runs"][0]["results"][0] = json!({"message": {"text": "m"}, "kind": "maybe"});
        assert!(!schema_errors(&bad_kind).is_empty(), "an unknown kind is invalid");
        let mut ok = canary();
        ok["runs"][0]["results"][0]["message"] = json!({"text": "m"});
        assert_schema_valid(&ok);
    }
}
