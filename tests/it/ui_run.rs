//! The Run page in a real headless Chromium: issues first with their next-step links, passed
//! checks folded, the Acknowledge form with its live counter and the API's errors, and an
//! acknowledgement shown without a reload while the stored report stays byte-for-byte the same.
//! Saves the screenshots of `target/ui-screenshots/`.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::{ENTER, TAB};
use crate::support::{admin, token};
use crate::ui::{Ui, completed_run, connection_named, needs_attention_run};

/// `[section, check key]` of every check article, in document order.
const ARTICLES: &str = "return [...document.querySelectorAll('main article.check')]
    .map((a) => [a.closest('[data-section]').dataset.section, a.dataset.checkKey]);";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blocked_stub_shows_its_blocker_and_next_step_first() {
    let ui = Ui::start().await;
    let body = json!({"flow": "provider.connection.check", "provider_connection_id": null});
    let started =
        ui.app.request(Method::POST, "/v1/workspaces/1/tenants/10/verifications", Some(&admin()), Some(body)).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    assert_eq!(started.body["run"]["outcome"], "blocked");
    let run = started.body["run"]["id"].as_str().unwrap().to_owned();

    ui.sign_in(&format!("/ui/runs/{run}"), &token(&[])).await;
    assert_eq!(ui.js(ARTICLES).await, json!([["blockers", "provider_connection.configured"]]));
    let link = ui
        .js("const a = document.querySelector('article[data-check-key=\"provider_connection.configured\"] .next-steps a');
             return [a.textContent, a.getAttribute('href'), a.getAttribute('rel')];")
        .await;
    assert_eq!(
        link,
        json!([
            "Configure the provider connection",
            "/v1/workspaces/1/tenants/10/provider-connections",
            "noopener noreferrer"
        ])
    );
    let overall = ui.browser.text_of(".summary [data-overall]").await.unwrap();
    assert_eq!(overall, "Blocked");
    ui.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issues_come_first_and_passed_checks_are_folded() {
    let ui = Ui::start().await;
    let connection = connection_named(&ui.app, "Contoso").await;
    let ready = completed_run(&ui.app, &connection).await;
    // A blocker, a failure and a warning among passing checks, none of them first in report order.
    ui.app.provider.update(|b| {
        b.roles.retain(|r| {
            !r.starts_with("DeviceManagementConfiguration")
                && !r.starts_with("DeviceManagementApps")
                && !r.starts_with("DeviceManagementScripts")
        });
    });
    let mixed = completed_run(&ui.app, &connection).await;
    let view = ui.app.view(&mixed).await;
    assert_eq!(view.body["report"]["summary"]["overall"], "blocked", "{}", view.text);

    ui.sign_in(&format!("/ui/runs/{mixed}"), &token(&[])).await;
    let articles = ui.js(ARTICLES).await;
    let articles: Vec<(String, String)> = serde_json::from_value(articles).unwrap();
    let order = ["blockers", "failures", "warnings", "passed"];
    let ranks: Vec<usize> = articles.iter().map(|(s, _)| order.iter().position(|o| o == s).unwrap()).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "blockers, failures, warnings, then passed: {articles:?}");
    assert_eq!(articles[0], ("blockers".to_owned(), "permissions.intune_configuration".to_owned()));
    assert!(articles.contains(&("failures".to_owned(), "permissions.intune_apps".to_owned())), "{articles:?}");
    assert!(articles.contains(&("warnings".to_owned(), "permissions.scripts_remediations".to_owned())), "{articles:?}");
    let report_checks = view.body["report"]["checks"].as_array().unwrap().len();
    assert_eq!(articles.len(), report_checks, "every check shown once");
    let blocker = ui
        .js("const b = document.querySelector('article[data-check-key=\"permissions.intune_configuration\"]');
             const link = b.querySelector('.next-steps a[href^=\"https://\"]');
             const passed = document.querySelector('details[data-section=passed]');
             return [Boolean(link), link && link.rel, passed.open,
                     Boolean(b.compareDocumentPosition(passed) & Node.DOCUMENT_POSITION_FOLLOWING),
                     [...passed.querySelectorAll('article')].some((a) => a.checkVisibility())];")
        .await;
    assert_eq!(blocker, json!([true, "noopener noreferrer", false, true, false]), "link, folded, after, hidden");
    ui.browser.resize(1280, 1500).await.unwrap();
    ui.browser.screenshot("run-1280").await.unwrap();
    ui.browser.resize(400, 1500).await.unwrap();
    ui.browser.wait_for("window.innerWidth <= 400", "a narrow window").await.unwrap();
    let overflow = ui.js("return document.documentElement.scrollWidth - window.innerWidth;").await;
    assert!(overflow.as_i64().unwrap() <= 0, "readable at 400 px without scrolling sideways ({overflow} px)");
    ui.browser.screenshot("run-400").await.unwrap();
    ui.browser.resize(1280, 900).await.unwrap();

    // A ready run: no issue section, everything folded, and unfolding works.
    ui.visit(&format!("/ui/runs/{ready}")).await;
    let sections =
        ui.js("return [...document.querySelectorAll('main [data-section]')].map((s) => s.dataset.section);").await;
    assert_eq!(sections, json!(["passed"]));
    assert!(ui.js("return document.querySelector('main').textContent;").await.as_str().unwrap().contains("No issues"));
    let summary = ui.browser.find("details[data-section=passed] > summary").await.unwrap();
    ui.browser.click(&summary).await.unwrap();
    let visible = ui.js("return [...document.querySelectorAll('details[data-section=passed] article')].filter((a) => a.checkVisibility()).length;").await;
    assert_eq!(visible, json!(report_checks));
    ui.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledging_shows_the_acknowledgement_without_a_reload_and_keeps_the_report() {
    let ui = Ui::start().await;
    let connection = connection_named(&ui.app, "Contoso").await;
    let run = needs_attention_run(&ui.app, &connection).await;
    let report_before = ui.app.request(Method::GET, &format!("/v1/runs/{run}/report"), Some(&token(&[])), None).await;
    assert_eq!(report_before.status, StatusCode::OK);

    ui.sign_in(&format!("/ui/runs/{run}"), &token(&["verification.acknowledge"])).await;
    ui.js("window.sameDocument = true;").await;
    let check = "article[data-check-key='permissions.intune_apps']";
    ui.browser.click(&ui.browser.find(&format!("{check} details.ack-toggle > summary")).await.unwrap()).await.unwrap();
    let reason = ui.browser.find(&format!("{check} form.ack-form textarea")).await.unwrap();
    let counter = format!("{check} .counter");
    let counter_text = |expected: String| format!("document.querySelector(\"{counter}\").textContent === '{expected}'");

    // The counter follows typing live, in Unicode scalar values after trimming, like the server.
    ui.browser.type_text(&reason, &"x".repeat(161)).await.unwrap();
    ui.browser.wait_for(&counter_text("161/160".into()), "161/160").await.unwrap();
    ui.browser
        .click(&ui.browser.find(&format!("{check} form.ack-form button[type=submit]")).await.unwrap())
        .await
        .unwrap();
    ui.browser
        .wait_for(
            &format!("document.querySelector(\"{check} .form-error\").textContent.includes('at most 160')"),
            "limit",
        )
        .await
        .unwrap();
    assert!(!ui.proxy.seen().iter().any(|s| s.method == "POST"), "nothing sent over the limit");

    ui.browser.clear(&reason).await.unwrap();
    let typed = "  Apps are managed in another tool ✓ ";
    ui.browser.type_text(&reason, typed).await.unwrap();
    let typed_count = typed.trim().chars().count();
    ui.browser.wait_for(&counter_text(format!("{typed_count}/160")), "the counter after typing").await.unwrap();
    // chromedriver types only the Basic Multilingual Plane: add an astral character by script. It
    // is one character for the server (and the counter), two UTF-16 units for JavaScript's length.
    ui.js(&format!(
        "const t = document.querySelector(\"{check} textarea\"); t.value = t.value.trimEnd() + ' 👍';
         t.dispatchEvent(new Event('input'));"
    ))
    .await;
    let text = format!("{} 👍", typed.trim());
    let expected = text.chars().count();
    ui.browser.wait_for(&counter_text(format!("{expected}/160")), "code points").await.unwrap();

    // An expiry in the past: the API's 422 is shown with its field.
    ui.js(&format!("document.querySelector(\"{check} input[type=datetime-local]\").value = '2020-01-01T10:00';")).await;
    ui.browser
        .click(&ui.browser.find(&format!("{check} form.ack-form button[type=submit]")).await.unwrap())
        .await
        .unwrap();
    ui.browser
        .wait_for(&format!("document.querySelector(\"{check} .form-error\").textContent.includes('expires_at')"), "422")
        .await
        .unwrap();

    ui.js(&format!("document.querySelector(\"{check} input[type=datetime-local]\").value = '2099-06-15T12:00';")).await;
    ui.browser
        .click(&ui.browser.find(&format!("{check} form.ack-form button[type=submit]")).await.unwrap())
        .await
        .unwrap();
    ui.browser.wait_for(&format!("document.querySelector(\"{check} .ack\")"), "the acknowledgement").await.unwrap();
    let shown = ui.browser.text_of(&format!("{check} .ack")).await.unwrap();
    assert!(shown.contains("Acknowledged by e2e-user"), "{shown}");
    assert!(shown.contains(&text), "{shown}");
    assert!(shown.contains("Expires on"), "{shown}");
    assert!(!shown.contains("expired"), "{shown}");
    let state = ui
        .js(&format!("return [window.sameDocument === true, document.querySelectorAll(\"{check} form\").length];"))
        .await;
    assert_eq!(state, json!([true, 0]), "no reload; the form gave way to the acknowledgement");
    let overall = ui.browser.text_of(".summary [data-overall]").await.unwrap();
    assert_eq!(overall, "Needs attention", "acknowledging never greenwashes");
    ui.js(&format!("document.querySelector(\"{check}\").scrollIntoView();")).await;
    ui.browser.screenshot("run-acknowledged-1280").await.unwrap();

    let report_after = ui.app.request(Method::GET, &format!("/v1/runs/{run}/report"), Some(&token(&[])), None).await;
    assert_eq!(report_after.text, report_before.text, "the report is byte-for-byte unchanged");
    let acks = ui.app.request(Method::GET, &format!("/v1/runs/{run}/acknowledgements"), Some(&token(&[])), None).await;
    assert_eq!(acks.body[0]["ack_reason"], text.as_str());
    assert!(acks.body[0]["expires_at"].as_str().unwrap().starts_with("2099-06-1"), "{}", acks.text);

    // Reloaded, the page shows the stored acknowledgement beside its check.
    ui.visit(&format!("/ui/runs/{run}")).await;
    let again = ui.browser.text_of(&format!("{check} .ack")).await.unwrap();
    assert!(again.contains(&text), "{again}");

    // Once its expiry has passed (moved into the past behind the API's back), it says `expired`.
    let pool = sqlx::SqlitePool::connect(&ui.app.database_url).await.unwrap();
    sqlx::query("DROP TRIGGER verification_check_acknowledgements_no_update").execute(&pool).await.unwrap();
    sqlx::query("UPDATE verification_check_acknowledgements SET expires_at = '2020-01-01T00:00:00.000000Z'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    ui.visit(&format!("/ui/runs/{run}")).await;
    let expired = ui
        .js(&format!(
            "const a = document.querySelector(\"{check} .ack\");
             return [a.querySelector('.badge--expired')?.textContent, a.querySelector('.ack-expiry').textContent];"
        ))
        .await;
    assert_eq!(expired[0], "expired");
    assert!(expired[1].as_str().unwrap().starts_with("Expired on "), "{expired}");
    ui.finish().await;
}

/// Tabs forward until `css` has focus (at most 80 presses), as a keyboard user would.
async fn tab_to(ui: &Ui, css: &str) {
    for _ in 0..80 {
        let found = ui.js(&format!("return document.activeElement.matches(\"{css}\");")).await;
        if found == json!(true) {
            return;
        }
        ui.browser.press(TAB).await.unwrap();
    }
    let at = ui.js("return document.activeElement.outerHTML.slice(0, 200);").await;
    panic!("Tab never reached {css}; focus is on {at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_check_can_be_acknowledged_with_the_keyboard_alone() {
    let ui = Ui::start().await;
    let connection = connection_named(&ui.app, "Contoso").await;
    let run = needs_attention_run(&ui.app, &connection).await;
    ui.sign_in(&format!("/ui/runs/{run}"), &token(&["verification.acknowledge"])).await;

    let check = "article[data-check-key='permissions.intune_apps']";
    tab_to(&ui, &format!("{check} details.ack-toggle > summary")).await;
    let ring = ui.js("return getComputedStyle(document.activeElement).outlineStyle;").await;
    assert_eq!(ring, json!("solid"), "the focused control shows where the keyboard is");
    ui.browser.press(ENTER).await.unwrap();
    assert_eq!(
        ui.js(&format!("return document.querySelector(\"{check} details.ack-toggle\").open;")).await,
        json!(true)
    );
    ui.browser.press(TAB).await.unwrap();
    assert_eq!(ui.js("return document.activeElement.tagName;").await, json!("TEXTAREA"), "Tab leads into the form");
    ui.browser.press("Known: apps are managed elsewhere").await.unwrap();
    tab_to(&ui, &format!("{check} form.ack-form button[type=submit]")).await;
    ui.browser.press(ENTER).await.unwrap();
    ui.browser.wait_for(&format!("document.querySelector(\"{check} .ack\")"), "the acknowledgement").await.unwrap();
    let focus = ui.js("return document.activeElement.classList.contains('ack');").await;
    assert_eq!(focus, json!(true), "focus moves to the acknowledgement, not back to the top");
    let acks = ui.app.request(Method::GET, &format!("/v1/runs/{run}/acknowledgements"), Some(&token(&[])), None).await;
    assert_eq!(acks.body[0]["ack_reason"], "Known: apps are managed elsewhere");
    ui.finish().await;
}
