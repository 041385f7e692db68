//! The served contract against the committed one: the OpenAPI document's request bodies and
//! rules match `contracts/`, and error bodies validate against `contracts/error.schema.json`.

use super::*;

#[tokio::test]
async fn openapi_is_3_1_and_its_request_bodies_match_the_contracts() {
    let api = api();
    let doc = api.call(Method::GET, "/v1/openapi.json", None, None).await.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemas = &doc["components"]["schemas"];
    for (component, contract) in [
        ("StartVerificationRequest", "start-verification.request.schema.json"),
        ("AcknowledgeRequest", "acknowledge-check.request.schema.json"),
        ("CreateConnectionRequest", "provider-connection.request.schema.json"),
        ("RotateSecretRequest", "provider-connection-secret.request.schema.json"),
        ("SetScheduleRequest", "schedule.request.schema.json"),
        ("CreateWebhookRequest", "webhook.request.schema.json"),
    ] {
        let path = format!("{}/../../contracts/{contract}", env!("CARGO_MANIFEST_DIR"));
        let contract: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let keys = |v: &Value| -> std::collections::BTreeSet<String> {
            v["properties"].as_object().unwrap().keys().cloned().collect()
        };
        let required = |v: &Value| -> std::collections::BTreeSet<String> {
            v["required"].as_array().into_iter().flatten().map(|s| s.as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(keys(&schemas[component]), keys(&contract), "{component} properties");
        assert_eq!(required(&schemas[component]), required(&contract), "{component} required");
        // Every rule the contract states about a field, the document states the same way.
        for key in keys(&contract) {
            let rule = |v: &Value, name: &str| -> Value {
                let property = &v["properties"][&key];
                let property = match property.get("$ref").and_then(Value::as_str) {
                    Some(reference) => &v["$defs"][reference.trim_start_matches("#/$defs/")],
                    None => property,
                };
                let direct = property.get(name).cloned();
                // A nullable field states its rule in the non-null branch.
                let branch =
                    ["anyOf", "oneOf"].iter().find_map(|k| property.get(*k)).and_then(Value::as_array).and_then(
                        |branches| {
                            branches.iter().find_map(|b| {
                                let b = match b.get("$ref").and_then(Value::as_str) {
                                    Some(reference) => &v["$defs"][reference.trim_start_matches("#/$defs/")],
                                    None => b,
                                };
                                b.get(name).cloned()
                            })
                        },
                    );
                direct.or(branch).unwrap_or(Value::Null)
            };
            for name in ["pattern", "minLength", "maxLength"] {
                let stated = rule(&contract, name);
                if !stated.is_null() {
                    assert_eq!(rule(&schemas[component], name), stated, "{component}.{key} {name}");
                }
            }
        }
    }
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/runs/{id}/acknowledgements"));
    let flows = &schemas["StartVerificationRequest"]["properties"]["flow"]["enum"];
    assert_eq!(flows, &json!(["provider.connection.check"]), "the document lists the flows this build runs");
    let events = &schemas["CreateWebhookRequest"]["properties"]["events"]["items"]["enum"];
    let path = format!("{}/../../contracts/webhook.request.schema.json", env!("CARGO_MANIFEST_DIR"));
    let contract: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(events, &contract["properties"]["events"]["items"]["enum"], "the event types of the contract");
    let cursor = doc["paths"]["/v1/workspaces/{ws}/tenants/{t}/runs"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cursor")
        .unwrap()
        .clone();
    assert_eq!(cursor["schema"]["pattern"], verdict_core::domain::RunCursor::PATTERN);
    let mut operations = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(operations.insert(id.to_owned()), "operationId {id} twice ({method} {path})");
            let declared: std::collections::BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let templated: std::collections::BTreeSet<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
            assert_eq!(declared, templated, "{method} {path}: every path parameter declared");
        }
    }
}

#[tokio::test]
async fn error_bodies_validate_against_the_contract() {
    let api = api();
    let path = format!("{}/../../contracts/error.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let replies = [
        api.call(Method::GET, "/v1/runs/x", Some(&admin()), None).await,
        api.call(Method::GET, "/v1/workspaces/1/tenants/10/runs", None, None).await,
        api.call(Method::GET, "/v1/workspaces/1/tenants/10/runs?limit=0", Some(&admin()), None).await,
    ];
    for reply in replies {
        assert!(validator.is_valid(&reply.body), "{}", reply.text);
    }
}

/// The document's OpenAPI links lead from a created resource to the operations on it: each
/// names an operation that exists and fills every path parameter of it, the resource's own id
/// from the answer's body.
#[tokio::test]
async fn openapi_links_reach_existing_operations_with_every_path_parameter() {
    let doc = api().call(Method::GET, "/v1/openapi.json", None, None).await.body;
    let mut operations = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for operation in item.as_object().unwrap().values() {
            operations.insert(operation["operationId"].as_str().unwrap().to_owned(), path.clone());
        }
    }
    let mut links = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                for (name, link) in response["links"].as_object().into_iter().flatten() {
                    let source = operation["operationId"].as_str().unwrap();
                    let target = link["operationId"].as_str().unwrap();
                    let path = operations.get(target).unwrap_or_else(|| panic!("{source} links to unknown {target}"));
                    let needed: Vec<&str> =
                        path.split('{').skip(1).filter_map(|rest| rest.split_once('}')).map(|(n, _)| n).collect();
                    let given: Vec<&str> = link["parameters"].as_object().unwrap().keys().map(String::as_str).collect();
                    assert_eq!(given.len(), needed.len(), "{source} {status} → {name}: {given:?} for {path}");
                    assert!(
                        needed.iter().all(|n| given.contains(n)),
                        "{source} {status} → {name}: {given:?} for {path}"
                    );
                    assert!(link["parameters"]["id"].as_str().unwrap().starts_with("$response.body#/"));
                    links.push(format!("{source} {status} → {name}"));
                }
            }
        }
    }
    // Connections (6 operations), runs from both start answers (4 each), webhooks (4).
    assert_eq!(links.len(), 18, "{links:#?}");
}
