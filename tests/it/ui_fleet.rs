//! The Fleet page in a real headless Chromium, against `GET /v1/workspaces/{ws}/verification-status`
//! (docs/contract.md, "Fleet status and the operator view"): a blocked and a ready connection with their badges, issues first, the API's filters,
//! links to each Run and History page, readable at 400 px. Saves the fleet screenshots.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, admin};
use crate::ui::{Ui, completed_run, connection_named};

/// `[overall, connection name, run link, history link]` of every fleet row, in page order.
const ROWS: &str = "return [...document.querySelectorAll('table.fleet tbody tr[data-overall]')].map((r) => [
    r.dataset.overall, r.querySelector('th').textContent,
    r.querySelector('a[href^=\"/ui/runs/\"]').getAttribute('href'),
    r.querySelector('a[href*=\"/connections/\"]').getAttribute('href')]);";

/// A connection whose secret Entra rejects: its runs are blocked at the token check.
async fn connection_with_a_wrong_secret(app: &TestApp, name: &str) -> String {
    let tenant = app.provider.tenant();
    let body = json!({"display_name": name, "entra_tenant_id": tenant.directory_id,
        "client_id": tenant.client_id, "client_secret": "not-the-secret-the-tenant-knows"});
    let reply =
        app.request(Method::POST, "/v1/workspaces/1/tenants/10/provider-connections", Some(&admin()), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fleet_lists_a_blocked_and_a_ready_connection_with_their_badges() {
    let ui = Ui::start().await;
    let ready_connection = connection_named(&ui.app, "Contoso").await;
    let ready = completed_run(&ui.app, &ready_connection).await;
    let blocked_connection = connection_with_a_wrong_secret(&ui.app, "Fabrikam").await;
    let blocked = completed_run(&ui.app, &blocked_connection).await;
    assert_eq!(ui.app.view(&blocked).await.body["report"]["summary"]["overall"], "blocked");

    ui.sign_in("/ui/", &admin()).await;
    let history = |connection: &str| format!("/ui/workspaces/1/tenants/10/connections/{connection}");
    assert_eq!(
        ui.js(ROWS).await,
        json!([
            ["blocked", "Fabrikam", format!("/ui/runs/{blocked}"), history(&blocked_connection)],
            ["ready", "Contoso", format!("/ui/runs/{ready}"), history(&ready_connection)],
        ]),
        "issues first, each row linking to its run and history"
    );
    let badges =
        ui.js("return [...document.querySelectorAll('table.fleet tbody [data-overall].badge')].map((b) => b.textContent);").await;
    assert_eq!(badges, json!(["Blocked", "Ready"]), "badges say it in words");
    let change = ui
        .js("return [...document.querySelectorAll('table.fleet tbody tr')].map((r) => r.cells[4].textContent);")
        .await;
    assert_eq!(change, json!(["First report", "First report"]));
    ui.browser.screenshot("fleet-1280").await.unwrap();
    ui.browser.resize(400, 1000).await.unwrap();
    ui.browser.wait_for("window.innerWidth <= 400", "a narrow window").await.unwrap();
    let overflow = ui.js("return document.documentElement.scrollWidth - window.innerWidth;").await;
    assert!(overflow.as_i64().unwrap() <= 0, "the table scrolls inside its box, the page does not ({overflow} px)");
    ui.browser.screenshot("fleet-400").await.unwrap();
    ui.browser.resize(1280, 900).await.unwrap();

    // The API's filters, kept in the page's address.
    ui.js("document.getElementById('fleet-overall').value = 'blocked';").await;
    ui.follow("form.filters button[type=submit]").await;
    assert!(ui.browser.current_url().await.unwrap().ends_with("/ui/?overall=blocked"));
    let rows = ui.js(ROWS).await;
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0][1], "Fabrikam");
    assert!(ui.proxy.seen().iter().any(|s| s.uri.contains("/verification-status?overall=blocked")));

    // From the fleet to the blocked run: its blocker comes first.
    ui.follow(&format!("table.fleet a[href='/ui/runs/{blocked}']")).await;
    let first = ui.js("return document.querySelector('main article.check').dataset.checkKey;").await;
    assert_eq!(first, json!("provider_connection.token_acquisition"));
    ui.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fleet_shows_no_connection_outside_the_callers_tenants() {
    let ui = Ui::start().await;
    let connection = connection_named(&ui.app, "Contoso").await;
    completed_run(&ui.app, &connection).await;
    let outsider = crate::support::token_for(json!([{"workspace_id": 1, "tenant_ids": [11], "capabilities": []}]));
    ui.sign_in("/ui/", &outsider).await;
    let rows = ui.js("return document.querySelectorAll('table.fleet tbody tr[data-overall]').length;").await;
    assert_eq!(rows, json!(0));
    let empty = ui.js("return document.querySelector('table.fleet tbody').textContent;").await;
    assert_eq!(empty, json!("No connection matches."));
    ui.finish().await;
}
