//! The operator view in a real headless Chromium against the real service (SQLite, workers, the
//! simulated tenant), reached through a recording proxy: signing in by `#token=` without the token
//! ever reaching a URL, hostile text staying text, controls following capabilities, and the
//! History and Audit pages. The Run page has its own module (`ui_run`), the Fleet page waits for
//! its endpoint (`ui_fleet`, not registered yet).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::{Browser, RecordingProxy};
use crate::support::{Backend, TestApp, admin, captured_logs, spawn_app, token};

/// The service, a proxy in front of it and a browser pointed at the proxy.
pub struct Ui {
    pub app: TestApp,
    pub proxy: RecordingProxy,
    pub browser: Browser,
}

/// The page finished rendering (main is no longer busy) for a signed-in caller.
pub const READY: &str = "document.body.hasAttribute('data-signed-in') \
     && document.getElementById('main').getAttribute('aria-busy') === 'false'";

impl Ui {
    pub async fn start() -> Self {
        let app = spawn_app(Backend::Sqlite).await;
        let proxy = RecordingProxy::start(app.address).await;
        let browser = Browser::start(1280, 900).await.unwrap();
        Self { app, proxy, browser }
    }

    /// Opens `path` handing `token` over as the host product would: `/ui/…#token=…`.
    pub async fn sign_in(&self, path: &str, token: &str) {
        self.browser.goto("about:blank").await.unwrap();
        self.browser.goto(&format!("{}#token={token}", self.proxy.url(path))).await.unwrap();
        self.ready(path).await;
    }

    /// Loads `path` afresh (the token stays in the tab's sessionStorage).
    pub async fn visit(&self, path: &str) {
        self.browser.goto(&self.proxy.url(path)).await.unwrap();
        self.ready(path).await;
    }

    pub async fn ready(&self, what: &str) {
        self.browser.wait_for(READY, what).await.unwrap();
    }

    /// Runs `script` in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.browser.execute(script, vec![]).await.unwrap()
    }

    /// Clicks the first element matching `css` and waits until the page it leads to rendered.
    pub async fn follow(&self, css: &str) {
        let link = self.browser.find(css).await.unwrap();
        self.browser.click(&link).await.unwrap();
        self.ready(css).await;
    }

    /// Ends the browser and the service.
    pub async fn finish(self) {
        self.browser.close().await.unwrap();
        self.app.stop().await;
    }
}

/// Every form control on the page has a label (or an aria-label), every button a name.
pub async fn assert_controls_labelled(ui: &Ui, page: &str) {
    let unlabelled = ui
        .js("return [...document.querySelectorAll('input, select, textarea, button')]
               .filter((c) => c.type !== 'hidden')
               .filter((c) => c.tagName === 'BUTTON'
                   ? !c.textContent.trim() && !c.getAttribute('aria-label')
                   : c.labels.length === 0 && !c.getAttribute('aria-label'))
               .map((c) => c.outerHTML.slice(0, 120));")
        .await;
    assert_eq!(unlabelled, json!([]), "{page}: unlabelled controls");
}

/// A connection named `name` with the simulated tenant's credentials.
pub async fn connection_named(app: &TestApp, name: &str) -> String {
    let tenant = app.provider.tenant();
    let body = json!({"display_name": name, "entra_tenant_id": tenant.directory_id,
        "client_id": tenant.client_id, "client_secret": tenant.client_secret});
    let reply =
        app.request(Method::POST, "/v1/workspaces/1/tenants/10/provider-connections", Some(&admin()), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// Starts a verification of `connection` and waits for it; returns the run id.
pub async fn completed_run(app: &TestApp, connection: &str) -> String {
    let started = app.start(connection).await;
    let run = started.body["run"]["id"].as_str().unwrap().to_owned();
    app.completed(&run).await;
    run
}

/// A run whose Apps permission is withdrawn: `needs_attention` with one failing check.
pub async fn needs_attention_run(app: &TestApp, connection: &str) -> String {
    app.provider.update(|b| b.roles.retain(|r| !r.starts_with("DeviceManagementApps")));
    let run = completed_run(app, connection).await;
    assert_eq!(app.view(&run).await.body["report"]["summary"]["overall"], "needs_attention");
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_in_by_hash_keeps_the_token_out_of_every_url() {
    let ui = Ui::start().await;
    let connection = connection_named(&ui.app, "Contoso").await;
    let run = completed_run(&ui.app, &connection).await;
    let token = admin();

    ui.sign_in(&format!("/ui/runs/{run}"), &token).await;
    let url = ui.browser.current_url().await.unwrap();
    assert!(url.ends_with(&format!("/ui/runs/{run}")), "the hand-over leaves the address bar: {url}");
    let storage =
        ui.js("return [sessionStorage.getItem('verdict.token'), localStorage.length, document.cookie];").await;
    assert_eq!(storage, json!([token, 0, ""]), "the token lives in sessionStorage only");
    let back = ui.js("return history.length;").await;
    assert!(back.as_u64().unwrap() <= 3, "the token URL was replaced, not pushed");

    // Walk the view: History, Audit, Fleet, back to the run, and download a report.
    ui.follow("main a[href^='/ui/workspaces/1/tenants/10/connections/']").await;
    let heading = ui.browser.text_of("main h1").await.unwrap();
    assert_eq!(heading, "Contoso");
    ui.follow("#nav a[href='/ui/workspaces/1/audit']").await;
    ui.browser.wait_for("document.querySelector('main').textContent.includes('Chain intact')", "chain").await.unwrap();
    ui.follow("#nav a[href='/ui/']").await;
    ui.follow(&format!("main a[href='/ui/workspaces/1/tenants/10/connections/{connection}']")).await;
    ui.follow(&format!("main a[href='/ui/runs/{run}']")).await;
    let json_button = ui.browser.find("button[data-format='json']").await.unwrap();
    ui.browser.click(&json_button).await.unwrap();
    ui.browser
        .wait_for("document.getElementById('status').textContent.includes('JSON report downloaded')", "download")
        .await
        .unwrap();
    assert!(!ui.browser.current_url().await.unwrap().contains(&token));

    let seen = ui.proxy.seen();
    for request in &seen {
        assert!(
            !request.uri.contains(&token),
            "token in a URL: {} {}",
            request.method,
            request.uri.replace(&token, "<token>")
        );
        for (name, value) in &request.headers {
            if value.contains(&token) {
                assert_eq!(name, "authorization", "the token travels in the Authorization header only");
                assert!(value == &format!("Bearer {token}"), "authorization: exactly the bearer token");
            }
        }
    }
    let api: Vec<&str> = seen.iter().filter(|s| s.uri.starts_with("/v1/")).map(|s| s.uri.as_str()).collect();
    assert!(api.len() >= 6, "the page called the API: {api:?}");
    assert!(api.contains(&format!("/v1/runs/{run}/report?format=json").as_str()), "{api:?}");
    for request in seen.iter().filter(|s| s.uri.starts_with("/v1/")) {
        let auth = request.headers.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str());
        assert!(auth == Some(format!("Bearer {token}").as_str()), "{} carries the bearer header", request.uri);
    }
    assert!(!captured_logs().contains(&token), "the token never reaches a log line");
    ui.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_in_by_paste_and_out_again() {
    let ui = Ui::start().await;
    ui.browser.goto(&ui.proxy.url("/ui/")).await.unwrap();
    ui.browser.wait_for("document.getElementById('token-input')", "the sign-in form").await.unwrap();
    assert_controls_labelled(&ui, "sign-in").await;
    let input = ui.browser.find("#token-input").await.unwrap();
    ui.browser.type_text(&input, "not-a-token").await.unwrap();
    ui.browser.click(&ui.browser.find("form.sign-in button[type=submit]").await.unwrap()).await.unwrap();
    ui.browser
        .wait_for("document.getElementById('token-input').getAttribute('aria-invalid') === 'true'", "refusal")
        .await
        .unwrap();
    ui.browser.clear(&input).await.unwrap();
    let token = token(&["audit.read"]);
    ui.browser.type_text(&input, &token).await.unwrap();
    ui.browser.click(&ui.browser.find("form.sign-in button[type=submit]").await.unwrap()).await.unwrap();
    ui.ready("signed in by paste").await;
    let who = ui.browser.text_of(".whoami").await.unwrap();
    assert_eq!(who, "Signed in as e2e-user");
    assert_eq!(ui.js("return sessionStorage.getItem('verdict.token');").await, json!(token));

    let sign_out = ui.browser.find("#session button").await.unwrap();
    ui.browser.click(&sign_out).await.unwrap();
    ui.browser.wait_for("document.getElementById('token-input')", "the sign-in form again").await.unwrap();
    assert_eq!(ui.js("return sessionStorage.length;").await, json!(0), "signing out forgets the token");
    ui.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_display_name_renders_as_text() {
    let ui = Ui::start().await;
    let hostile = "<img src=x onerror=alert(1)>";
    let connection = connection_named(&ui.app, hostile).await;
    completed_run(&ui.app, &connection).await;

    ui.sign_in(&format!("/ui/workspaces/1/tenants/10/connections/{connection}"), &admin()).await;
    ui.browser.wait_for("document.readyState === 'complete'", "load").await.unwrap();
    let heading = ui.browser.text_of("main h1").await.unwrap();
    assert_eq!(heading, hostile, "the name is shown literally");
    let title = ui.js("return document.title;").await;
    assert_eq!(title, json!(format!("{hostile} — history — Verdict")));
    assert_eq!(ui.js("return document.querySelectorAll('img, [onerror]').length;").await, json!(0), "no element made");
    assert_eq!(ui.browser.open_dialog().await.unwrap(), None, "no dialog opened");
    let overall = ui.browser.text_of("table.runs [data-overall]").await.unwrap();
    assert_eq!(overall, "Ready");

    // The Run page names the connection too, as text.
    ui.follow("table.runs a[href^='/ui/runs/']").await;
    let link = "document.querySelector('.summary a[href*=\"/connections/\"]')";
    ui.browser
        .wait_for(&format!("{link}.textContent === '{hostile} (history)'"), "the name on the run page")
        .await
        .unwrap();
    assert_eq!(ui.js("return document.querySelectorAll('img, [onerror]').length;").await, json!(0));
    assert_eq!(ui.browser.open_dialog().await.unwrap(), None);
    ui.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn controls_follow_the_callers_capabilities() {
    let ui = Ui::start().await;
    let connection = connection_named(&ui.app, "Contoso").await;
    let run = needs_attention_run(&ui.app, &connection).await;
    let path = format!("/ui/runs/{run}");
    let controls = "return [document.querySelectorAll('form.ack-form').length,
        [...document.querySelectorAll('button')].filter((b) => b.textContent === 'Verify again').length,
        document.querySelectorAll('button[data-format]').length];";

    ui.sign_in(&path, &token(&[])).await;
    assert_eq!(ui.js(controls).await, json!([0, 0, 3]), "a viewer sees neither form nor button, but downloads");
    ui.sign_in(&path, &token(&["verification.acknowledge"])).await;
    assert_eq!(ui.js(controls).await, json!([1, 0, 3]), "one form, for the one failing check");
    assert_controls_labelled(&ui, "run page with a form").await;
    ui.sign_in(&path, &token(&["verification.start"])).await;
    assert_eq!(ui.js(controls).await, json!([0, 1, 3]), "Verify again, no form");
    let audit = ui.js("return document.querySelectorAll(\"#nav a[href$='/audit']\").length;").await;
    assert_eq!(audit, json!(0), "no Audit link without audit.read");

    // Verify again starts a run of the same identity and follows it live until it completes. The
    // organization read hangs until the check's timeout, so the page sees the run in progress.
    ui.js("window.sameDocument = true;").await;
    ui.app.provider.update(|b| b.organization = verdict_runner::fake::Reply::Hang);
    let again = ui.browser.find("main .actions button").await.unwrap();
    ui.browser.click(&again).await.unwrap();
    ui.browser
        .wait_for(&format!("location.pathname.startsWith('/ui/runs/') && location.pathname !== '{path}'"), "new run")
        .await
        .unwrap();
    ui.browser
        .wait_for("document.querySelector('#run-progress, main .notice--info')", "progress while the run is active")
        .await
        .unwrap();
    ui.browser
        .wait_for("document.querySelector('.summary [data-overall]') && document.querySelector('main .change')", "done")
        .await
        .unwrap();
    assert_eq!(ui.js("return window.sameDocument === true;").await, json!(true), "no reload");
    let new_run = ui.browser.current_url().await.unwrap().rsplit('/').next().unwrap().to_owned();
    let view = ui.app.view(&new_run).await;
    assert_eq!(view.body["run"]["provider_connection_id"], connection.as_str());
    assert_eq!(view.body["run"]["status"], "completed");
    let shown = ui.browser.text_of(".summary [data-overall]").await.unwrap();
    let overall = view.body["report"]["summary"]["overall"].as_str().unwrap();
    assert_eq!(shown, if overall == "blocked" { "Blocked" } else { "Needs attention" });
    ui.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_and_audit_show_runs_over_time_and_the_chain() {
    let ui = Ui::start().await;
    let connection = connection_named(&ui.app, "Contoso").await;
    let first = completed_run(&ui.app, &connection).await;
    let second = needs_attention_run(&ui.app, &connection).await;

    ui.sign_in(&format!("/ui/workspaces/1/tenants/10/connections/{connection}"), &admin()).await;
    let rows = ui
        .js("return [...document.querySelectorAll('table.runs tbody tr')].map((r) =>
               [r.dataset.runId, r.querySelector('[data-overall]').textContent, r.cells[4].textContent]);")
        .await;
    assert_eq!(rows, json!([[second, "Needs attention", "Changed"], [first, "Ready", "First report"]]), "newest first");
    let strip =
        ui.js("return [...document.querySelectorAll('.timeline [data-overall]')].map((b) => b.textContent);").await;
    assert_eq!(strip, json!(["Ready", "Needs attention"]), "overall over time, oldest first");
    assert!(
        ui.js("return document.querySelector('main').textContent;").await.as_str().unwrap().contains("not scheduled")
    );
    assert_controls_labelled(&ui, "history").await;

    ui.visit("/ui/workspaces/1/audit").await;
    let chain = ui.js("return document.querySelector('main .notice').textContent;").await;
    assert!(chain.as_str().unwrap().starts_with("Chain intact."), "{chain}");
    let actions = ui
        .js("return [...document.querySelectorAll('table.events tbody tr')].map((r) => r.cells[2].textContent);")
        .await;
    let actions: Vec<&str> = actions.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(actions.first(), Some(&"provider_connection.created"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "verification.completed").count(), 2, "{actions:?}");
    assert_controls_labelled(&ui, "audit").await;

    ui.sign_in("/ui/workspaces/1/audit", &token(&[])).await;
    let refused = ui.js("return document.querySelector('main .notice').textContent;").await;
    assert!(refused.as_str().unwrap().contains("audit.read"), "{refused}");
    ui.finish().await;
}
