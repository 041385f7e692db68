//! Tidy checks. Here, the dependency graph read from `cargo metadata`: the arrows of the
//! hexagon point inwards. Core depends on no adapter library, and no adapter depends on another.
//! Shared libraries (pure code over core's types that adapters call) depend on core only; what the
//! storage adapters share may also know sqlx, but no adapter. The
//! submodules check that each crate tests on its own, the source tree, and the migrations.

pub mod features;
pub mod migrations;
pub mod shared;
pub mod source;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Libraries that belong to adapters and must never reach `verdict-core`.
pub const ADAPTER_LIBRARIES: &[&str] = &["sqlx", "axum", "hyper", "tower", "reqwest"];

/// Crates that are adapters: each may depend on core, none on another adapter.
pub const ADAPTERS: &[&str] =
    &["verdict-postgres", "verdict-sqlite", "verdict-http", "verdict-audit", "verdict-runner", "verdict-webhooks"];

/// Crates of pure functions over core's types that adapters may call (the report exports the HTTP
/// adapter serves): like core, each knows no adapter library and no adapter.
pub const SHARED_LIBRARIES: &[&str] = &["verdict-export"];

/// Crates the storage adapters share (the rows both decode): each may know sqlx, as the adapters
/// do, but no adapter — so they sit between core and the adapters, and no adapter reaches another
/// through them.
pub const ADAPTER_SHARED_LIBRARIES: &[&str] = &["verdict-sql"];

/// `cargo metadata` of the workspace, all features on.
pub fn metadata() -> Result<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--all-features", "--locked"])
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    serde_json::from_slice(&output.stdout).context("cargo metadata printed invalid JSON")
}

/// Package names reachable from `root` through normal (non-dev, non-build) dependencies.
pub fn normal_closure(metadata: &Value, root: &str) -> Result<BTreeSet<String>> {
    let packages: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .context("metadata has no packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes: HashMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .context("metadata has no resolve graph")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let root_id = packages
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
        .with_context(|| format!("package {root} not in the workspace"))?;
    let mut seen = BTreeSet::new();
    let mut stack = vec![root_id];
    while let Some(id) = stack.pop() {
        let Some(node) = nodes.get(id) else { continue };
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].is_null());
            let Some(dep_id) = dep["pkg"].as_str() else { continue };
            if normal && seen.insert(packages.get(dep_id).copied().unwrap_or(dep_id).to_owned()) {
                stack.push(dep_id);
            }
        }
    }
    Ok(seen)
}

/// Workspace member names.
pub fn members(metadata: &Value) -> BTreeSet<String> {
    let ids: BTreeSet<&str> =
        metadata["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["id"].as_str().is_some_and(|id| ids.contains(id)))
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect()
}

/// Every `(package, bench)` with a bench target in the workspace.
pub fn benches(metadata: &Value) -> Vec<(String, String)> {
    let ids: BTreeSet<&str> =
        metadata["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut out = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        if !package["id"].as_str().is_some_and(|id| ids.contains(id)) {
            continue;
        }
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bench = target["kind"].as_array().into_iter().flatten().any(|k| k == "bench");
            if let (true, Some(p), Some(t)) = (is_bench, package["name"].as_str(), target["name"].as_str()) {
                out.push((p.to_owned(), t.to_owned()));
            }
        }
    }
    out
}

/// The violations of the dependency rules in `metadata`.
pub fn violations(metadata: &Value) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let core = normal_closure(metadata, "verdict-core")?;
    for library in ADAPTER_LIBRARIES {
        if core.contains(*library) {
            problems.push(format!("verdict-core depends on {library}: core must know no adapter"));
        }
    }
    let members = members(metadata);
    for shared in SHARED_LIBRARIES.iter().filter(|s| members.contains(**s)) {
        let closure = normal_closure(metadata, shared)?;
        for dependency in ADAPTER_LIBRARIES.iter().chain(ADAPTERS) {
            if closure.contains(*dependency) {
                problems.push(format!("{shared} depends on {dependency}: shared libraries depend on core only"));
            }
        }
    }
    for shared in ADAPTER_SHARED_LIBRARIES.iter().filter(|s| members.contains(**s)) {
        let closure = normal_closure(metadata, shared)?;
        for adapter in ADAPTERS.iter().filter(|a| closure.contains(**a)) {
            problems.push(format!("{shared} depends on {adapter}: what adapters share depends on no adapter"));
        }
    }
    for adapter in ADAPTERS.iter().filter(|a| members.contains(**a)) {
        let closure = normal_closure(metadata, adapter)?;
        for other in ADAPTERS.iter().filter(|o| *o != adapter) {
            if closure.contains(*other) {
                problems.push(format!("{adapter} depends on {other}: adapters meet only in verdict-app"));
            }
        }
    }
    Ok(problems)
}

/// The workspace root directory.
pub fn root(metadata: &Value) -> Result<std::path::PathBuf> {
    Ok(metadata["workspace_root"].as_str().context("cargo metadata: no workspace_root")?.into())
}

/// Fails with every violation of every tidy rule.
pub fn check_workspace() -> Result<()> {
    let metadata = metadata()?;
    let root = root(&metadata)?;
    let mut problems = violations(&metadata)?;
    problems.extend(features::violations(&metadata));
    problems.extend(source::violations(&root)?);
    problems.extend(migrations::violations(&root)?);
    problems.extend(shared::violations(&root)?);
    if problems.is_empty() { Ok(()) } else { bail!("tidy rules broken:\n  {}", problems.join("\n  ")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn workspace_dependency_arrows_point_inwards() {
        let metadata = metadata().unwrap();
        assert_eq!(violations(&metadata).unwrap(), Vec::<String>::new());
        let core = normal_closure(&metadata, "verdict-core").unwrap();
        assert!(core.contains("serde"), "the closure walk finds core's real dependencies");
        let export = normal_closure(&metadata, "verdict-export").unwrap();
        assert!(export.contains("verdict-core"), "the shared libraries are checked for real");
        let sql = normal_closure(&metadata, "verdict-sql").unwrap();
        assert!(
            sql.contains("sqlx") && sql.contains("verdict-core"),
            "the adapters' shared library is checked for real"
        );
    }

    fn fake_metadata(core_deps: &[&str]) -> Value {
        let mut packages = vec![json!({"id": "core", "name": "verdict-core", "targets": []})];
        let mut deps = Vec::new();
        for name in core_deps {
            packages.push(json!({"id": name, "name": name, "targets": []}));
            deps.push(json!({"pkg": name, "dep_kinds": [{"kind": null}]}));
        }
        packages.push(json!({"id": "mockall", "name": "mockall", "targets": []}));
        deps.push(json!({"pkg": "mockall", "dep_kinds": [{"kind": "dev"}]}));
        let mut nodes = vec![json!({"id": "core", "deps": deps})];
        nodes.extend(core_deps.iter().map(|n| json!({"id": n, "deps": []})));
        json!({"packages": packages, "workspace_members": ["core"], "resolve": {"nodes": nodes}})
    }

    #[test]
    fn an_adapter_library_in_core_is_reported() {
        let bad = fake_metadata(&["serde", "sqlx"]);
        let problems = violations(&bad).unwrap();
        assert_eq!(problems, ["verdict-core depends on sqlx: core must know no adapter"]);
        assert!(violations(&fake_metadata(&["serde"])).unwrap().is_empty());
        assert!(!normal_closure(&bad, "verdict-core").unwrap().contains("mockall"), "dev-dependencies do not count");
    }

    #[test]
    fn an_adapter_under_a_shared_library_is_reported() {
        let mut metadata = fake_metadata(&["serde"]);
        metadata["packages"].as_array_mut().unwrap().extend([
            json!({"id": "export", "name": "verdict-export", "targets": []}),
            json!({"id": "http", "name": "verdict-http", "targets": []}),
        ]);
        metadata["workspace_members"] = json!(["core", "export", "http"]);
        metadata["resolve"]["nodes"].as_array_mut().unwrap().extend([
            json!({"id": "export", "deps": [{"pkg": "core", "dep_kinds": [{"kind": null}]}, {"pkg": "http", "dep_kinds": [{"kind": null}]}]}),
            json!({"id": "http", "deps": []}),
        ]);
        assert_eq!(
            violations(&metadata).unwrap(),
            ["verdict-export depends on verdict-http: shared libraries depend on core only"]
        );
    }

    #[test]
    fn an_adapter_under_the_adapters_shared_library_is_reported() {
        let mut metadata = fake_metadata(&["serde"]);
        metadata["packages"].as_array_mut().unwrap().extend([
            json!({"id": "sql", "name": "verdict-sql", "targets": []}),
            json!({"id": "sqlx", "name": "sqlx", "targets": []}),
            json!({"id": "pg", "name": "verdict-postgres", "targets": []}),
        ]);
        metadata["workspace_members"] = json!(["core", "sql", "pg"]);
        let normal = |pkg: &str| json!({"pkg": pkg, "dep_kinds": [{"kind": null}]});
        metadata["resolve"]["nodes"].as_array_mut().unwrap().extend([
            json!({"id": "sql", "deps": [normal("core"), normal("sqlx"), normal("pg")]}),
            json!({"id": "sqlx", "deps": []}),
            json!({"id": "pg", "deps": [normal("sql")]}),
        ]);
        let problems = violations(&metadata).unwrap();
        assert!(
            problems.contains(
                &"verdict-sql depends on verdict-postgres: what adapters share depends on no adapter".to_owned()
            ),
            "{problems:?}"
        );
        assert!(!problems.iter().any(|p| p.contains("sqlx")), "sqlx is allowed there: {problems:?}");
    }
}
