//! Tidy check that `cargo test -p <crate>` builds what `cargo test --workspace --all-features`
//! builds: a crate whose own features gate test support (fakes, mocks, oracles…) turns all of
//! them on through a dev-dependency on itself, and no target hides behind `required-features`
//! (which `cargo test -p` would skip silently).

use serde_json::Value;

/// The problems of the workspace members in `metadata`.
pub fn violations(metadata: &Value) -> Vec<String> {
    let members: Vec<&str> =
        metadata["workspace_members"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut problems = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        if !package["id"].as_str().is_some_and(|id| members.contains(&id)) {
            continue;
        }
        let name = package["name"].as_str().unwrap_or("?");
        for target in package["targets"].as_array().into_iter().flatten() {
            if target["required-features"].as_array().is_some_and(|f| !f.is_empty()) {
                let target = target["name"].as_str().unwrap_or("?");
                problems.push(format!(
                    "{name}: target `{target}` has required-features; `cargo test -p {name}` would skip it"
                ));
            }
        }
        let features: Vec<&str> = package["features"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(f, _)| f.as_str())
            .filter(|f| *f != "default")
            .collect();
        if features.is_empty() {
            continue;
        }
        let enabled: Vec<&str> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["name"] == name && d["kind"] == "dev")
            .flat_map(|d| d["features"].as_array().into_iter().flatten().filter_map(Value::as_str))
            .collect();
        for feature in features.iter().filter(|f| !enabled.contains(f)) {
            problems.push(format!(
                "{name}: feature `{feature}` is not enabled by a dev-dependency on itself \
                 ({name} = {{ path = \".\", features = [...] }}), so `cargo test -p {name}` differs from CI"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(features: Value, dev_features: Option<Value>, required: Option<Value>) -> Value {
        let mut dependencies = vec![];
        if let Some(f) = dev_features {
            dependencies.push(json!({"name": "c", "kind": "dev", "features": f}));
        }
        let mut target = json!({"name": "t"});
        if let Some(r) = required {
            target["required-features"] = r;
        }
        json!({"workspace_members": ["c"], "packages": [{"id": "c", "name": "c", "features": features,
            "dependencies": dependencies, "targets": [target]}]})
    }

    #[test]
    fn test_features_must_be_on_for_the_crate_alone() {
        assert!(violations(&package(json!({"default": [], "fakes": []}), Some(json!(["fakes"])), None)).is_empty());
        assert_eq!(violations(&package(json!({"fakes": [], "mocks": []}), Some(json!(["fakes"])), None)).len(), 1);
        assert_eq!(violations(&package(json!({"fakes": []}), None, None)).len(), 1);
        assert_eq!(violations(&package(json!({}), None, Some(json!(["x"])))).len(), 1);
    }

    #[test]
    fn the_workspace_tests_each_crate_alone() {
        assert_eq!(violations(&super::super::metadata().unwrap()), Vec::<String>::new());
    }
}
