//! Exports over HTTP (docs/contract.md, "Exports"): what the server serves is valid SARIF by
//! both oracles and JUnit that an XML parser reads back with the report's counts; `format` and
//! `Accept` pick the representation; a caller who may not see the run learns nothing.

use reqwest::StatusCode;
use serde_json::Value;
use verdict_export::oracles::{assert_multitool_valid, assert_schema_valid};

use crate::on_both_backends;
use crate::support::{Backend, TestApp, error_validator, spawn_app, token_for};

on_both_backends!(exports_follow_the_report_its_baseline_and_its_acknowledgements, exports_are_negotiated_and_isolated);

const FAILING: &str = "permissions.intune_apps";
const REASON: &str = "Apps are managed <elsewhere> & \"reviewed\"";

async fn completed_run(app: &TestApp, connection: &str) -> String {
    let run = app.start(connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    app.completed(&run).await;
    run
}

fn sarif_of(reply: &crate::support::Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["content-type"], "application/sarif+json");
    let document: Value = serde_json::from_str(&reply.text).unwrap();
    assert_schema_valid(&document);
    document
}

fn result_of<'a>(document: &'a Value, key: &str) -> &'a Value {
    document["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == key && r["baselineState"] != "absent")
        .unwrap_or_else(|| panic!("no result for {key}"))
}

async fn exports_follow_the_report_its_baseline_and_its_acknowledgements(backend: Backend) {
    let app = spawn_app(backend).await;
    let connection = app.create_connection().await;
    let first = completed_run(&app, &connection).await;
    app.provider.update(|b| b.roles.retain(|r| !r.starts_with("DeviceManagementApps")));
    let second = completed_run(&app, &connection).await;
    let acked = app.acknowledge(&second, FAILING, REASON).await;
    assert_eq!(acked.status, StatusCode::CREATED, "{}", acked.text);

    let original = sarif_of(&app.report(&first, "?format=sarif", None).await);
    let reply = app.report(&second, "?format=sarif", None).await;
    assert_eq!(
        reply.headers["content-disposition"],
        format!("attachment; filename=\"verdict-report-{second}.sarif\"").as_str()
    );
    assert_eq!(reply.headers["vary"], "accept");
    let changed = sarif_of(&reply);
    assert_multitool_valid(&[("first".to_owned(), original.clone()), ("second".to_owned(), changed.clone())]);

    // Baseline: the first run has none to compare with; on the second only the regressed check
    // moved.
    let states = |document: &Value| -> Vec<(String, Option<String>)> {
        document["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["ruleId"].as_str().unwrap().to_owned(), r["baselineState"].as_str().map(str::to_owned)))
            .collect()
    };
    assert!(states(&original).iter().all(|(_, state)| state.is_none()), "{:?}", states(&original));
    for (key, state) in states(&changed) {
        let expected = if key == FAILING { "updated" } else { "unchanged" };
        assert_eq!(state.as_deref(), Some(expected), "{key}");
    }
    let failing = result_of(&changed, FAILING);
    // Not blocking, medium severity: a failure at warning level.
    assert_eq!((&failing["kind"], &failing["level"]), (&Value::from("fail"), &Value::from("warning")));
    assert_eq!(failing["suppressions"][0]["justification"], REASON);
    assert_eq!(failing["suppressions"][0]["status"], "accepted");
    assert_eq!(
        failing["partialFingerprints"],
        result_of(&original, FAILING)["partialFingerprints"],
        "one identity, one fingerprint per check across runs"
    );
    assert!(result_of(&original, FAILING).get("suppressions").is_none(), "the ack is of the second run only");
    assert_eq!(changed["runs"][0]["properties"]["report_id"], second.as_str());

    // JUnit by Accept, parsed back: the counts are the report's.
    let report = app.report(&second, "", None).await.body;
    let junit = app.report(&second, "", Some("application/xml")).await;
    assert_eq!(junit.status, StatusCode::OK, "{}", junit.text);
    assert_eq!(junit.headers["content-type"], "application/xml; charset=utf-8");
    let xml = roxmltree::Document::parse(&junit.text).unwrap();
    let suite = xml.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let count = |status: &str| checks.iter().filter(|c| c["status"] == status).count().to_string();
    assert_eq!(suite.attribute("tests"), Some(checks.len().to_string().as_str()));
    assert_eq!(suite.attribute("failures"), Some(count("fail").as_str()));
    assert_eq!(suite.attribute("skipped"), Some(count("skip").as_str()));
    let failure = xml
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(FAILING))
        .and_then(|case| case.children().find(|n| n.has_tag_name("failure")))
        .expect("the failing check is a failure");
    assert!(failure.attribute("type").is_some_and(|t| !t.is_empty()));

    // The default is the stored report itself.
    let json = app.report(&second, "?format=json", None).await;
    assert_eq!(json.body, report);
    assert_eq!(json.headers["content-type"], "application/json");
    app.stop().await;
}

async fn exports_are_negotiated_and_isolated(backend: Backend) {
    let app = spawn_app(backend).await;
    let connection = app.create_connection().await;
    let run = completed_run(&app, &connection).await;
    let errors = error_validator();

    let sarif = app.report(&run, "", Some("text/html;q=0.9, application/sarif+json")).await;
    assert_eq!(sarif.headers["content-type"], "application/sarif+json");
    let explicit = app.report(&run, "?format=junit", Some("application/json")).await;
    assert_eq!(explicit.headers["content-type"], "application/xml; charset=utf-8", "format wins over Accept");

    let refused = app.report(&run, "", Some("text/html, application/json;q=0")).await;
    assert_eq!(refused.status, StatusCode::NOT_ACCEPTABLE, "{}", refused.text);
    assert_eq!(refused.body["error"]["code"], "not_acceptable");
    assert!(errors.is_valid(&refused.body), "{}", refused.text);

    let unknown = app.report(&run, "?format=pdf", None).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.text);
    assert_eq!(unknown.body["error"]["details"][0]["field"], "format");
    assert!(!unknown.text.contains("pdf"), "caller input is not echoed: {}", unknown.text);
    assert!(errors.is_valid(&unknown.body), "{}", unknown.text);

    // Another tenant's reader gets the same 404 for every format and every bad request.
    let stranger = token_for(serde_json::json!([{"workspace_id": 1, "tenant_ids": [11], "capabilities": []}]));
    let not_found = app.report_as(&run, "", None, &stranger).await;
    assert_eq!(not_found.status, StatusCode::NOT_FOUND);
    for (query, accept) in
        [("?format=sarif", None), ("?format=junit", None), ("?format=pdf", None), ("", Some("text/html"))]
    {
        let reply = app.report_as(&run, query, accept, &stranger).await;
        assert_eq!((reply.status, &reply.text), (not_found.status, &not_found.text), "{query} {accept:?}");
    }
    app.stop().await;
}
