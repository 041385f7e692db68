//! The fleet status over HTTP (docs/contract.md, "Fleet status and the operator view"): one row
//! per connection the caller may see with its newest verification; filters; keyset pages; CSV
//! with the same rows, safe to open in a spreadsheet.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{ALL_CAPABILITIES, Backend, TestApp, error_validator, spawn_app, token_for};

on_both_backends!(
    the_fleet_shows_each_connection_s_newest_verification,
    the_fleet_csv_has_the_json_rows_and_no_formulas
);

fn reader(tenants: Value) -> String {
    token_for(json!([{"workspace_id": 1, "tenant_ids": tenants, "capabilities": []}]))
}

/// `ready` and `blocked` in tenant 10, `never` (never verified) in tenant 11.
async fn fleet(app: &TestApp) -> (String, String, String) {
    let ready = app.create_connection_in(10, "Contoso", None).await;
    let blocked = app.create_connection_in(10, "Fabrikam", Some("not-the-secret-the-tenant-knows")).await;
    let never = app.create_connection_in(11, "Northwind", None).await;
    app.verify_in(10, &ready).await;
    app.verify_in(10, &ready).await;
    app.verify_in(10, &blocked).await;
    (ready, blocked, never)
}

fn row<'a>(page: &'a Value, connection: &str) -> &'a Value {
    page["rows"].as_array().unwrap().iter().find(|r| r["provider_connection_id"] == connection).unwrap()
}

fn connections(page: &Value) -> Vec<String> {
    page["rows"].as_array().unwrap().iter().map(|r| r["provider_connection_id"].as_str().unwrap().to_owned()).collect()
}

async fn the_fleet_shows_each_connection_s_newest_verification(backend: Backend) {
    let app = spawn_app(backend).await;
    let (ready, blocked, never) = fleet(&app).await;
    let all = reader(json!("*"));

    let page = app.fleet_as("", &all).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["rows"].as_array().unwrap().len(), 3);
    let ready_row = row(&page.body, &ready);
    assert_eq!(ready_row["overall"], "ready");
    assert_eq!(ready_row["change_state"], "unchanged", "the second identical verification");
    assert_eq!(ready_row["connection_display_name"], "Contoso");
    assert_eq!(row(&page.body, &blocked)["overall"], "blocked");
    assert_eq!(row(&page.body, &blocked)["change_state"], "none", "its first report");
    let never_row = row(&page.body, &never);
    assert!(never_row["run_id"].is_null() && never_row["overall"].is_null(), "{never_row}");
    assert_eq!(never_row["tenant_id"], 11);

    // Filters.
    assert_eq!(connections(&app.fleet_as("?overall=blocked", &all).await.body), [blocked.as_str()]);
    assert_eq!(connections(&app.fleet_as("?tenant_id=11", &all).await.body), [never.as_str()]);
    let stale = app.fleet_as("?stale_after_hours=1", &all).await;
    assert_eq!(connections(&stale.body), [never.as_str()], "only the never verified one");
    assert!(connections(&app.fleet_as("?expiring_within_days=30", &all).await.body).is_empty());

    // Keyset pages of one row walk the same rows.
    let mut walked = Vec::new();
    let mut query = "?limit=1".to_owned();
    loop {
        let page = app.fleet_as(&query, &all).await;
        walked.extend(connections(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(walked, connections(&page.body));

    // Entitlement: a tenant-10 reader sees tenant 10 only, and tenant 11 does not exist for it.
    let t10 = reader(json!([10]));
    let mine = app.fleet_as("", &t10).await;
    assert_eq!(mine.body["rows"].as_array().unwrap().len(), 2);
    assert!(mine.body["rows"].as_array().unwrap().iter().all(|r| r["tenant_id"] == 10));
    let hidden = app.fleet_as("?tenant_id=11", &t10).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let foreign = token_for(json!([{"workspace_id": 2, "tenant_ids": "*", "capabilities": ALL_CAPABILITIES}]));
    let other = app.fleet_as("", &foreign).await;
    assert_eq!((other.status, &other.text), (hidden.status, &hidden.text), "a foreign workspace is a plain 404");
    let bad = app.fleet_as("?overall=green", &foreign).await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND, "authorization before the filters are read");

    // Bad filters: 422 in the error shape.
    let errors = error_validator();
    for query in ["?overall=green", "?stale_after_hours=0", "?expiring_within_days=-1", "?cursor=x", "?format=xlsx"] {
        let reply = app.fleet_as(query, &all).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", reply.text);
        assert!(errors.is_valid(&reply.body), "{}", reply.text);
    }
    app.stop().await;
}

async fn the_fleet_csv_has_the_json_rows_and_no_formulas(backend: Backend) {
    let app = spawn_app(backend).await;
    fleet(&app).await;
    let hostile = app.create_connection_in(10, "=HYPERLINK(\"https://evil.example\",\"x\")", None).await;
    let signed = app.create_connection_in(11, "-2+3, \"quoted\"", None).await;
    let all = reader(json!("*"));

    let json = app.fleet_as("", &all).await.body;
    let reply = app.fleet_as("?format=csv&limit=1", &all).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.headers["content-type"], "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(reply.text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), json["rows"].as_array().unwrap().len(), "every row, whatever the page size");
    for (record, row) in records.iter().zip(json["rows"].as_array().unwrap()) {
        for (name, cell) in header.iter().zip(record.iter()) {
            let value = match &row[name] {
                Value::Null => String::new(),
                Value::String(text) if text.starts_with(['=', '+', '-', '@']) => format!("'{text}"),
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            assert_eq!(cell, value, "{name}");
        }
    }
    let cell = |connection: &str| {
        records.iter().find(|r| r.get(1) == Some(connection)).map(|r| r.get(2).unwrap().to_owned()).unwrap()
    };
    assert_eq!(cell(&hostile), "'=HYPERLINK(\"https://evil.example\",\"x\")", "a formula is text");
    assert_eq!(cell(&signed), "'-2+3, \"quoted\"", "quotes and commas survive RFC 4180 quoting");
    app.stop().await;
}
