//! Schedules and webhooks over the router: validation, authorization, secrets shown only on
//! create and rotate, and their metrics.

use super::*;

#[tokio::test]
async fn schedules_over_http() {
    let api = api();
    let connection = api.create_connection().await;
    let uri = format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/schedule");
    assert_eq!(api.call(Method::GET, &uri, Some(&viewer()), None).await.status, StatusCode::NOT_FOUND);
    let set =
        api.call(Method::PUT, &uri, Some(&admin()), Some(json!({"interval": "PT6H", "first_run_at": null}))).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let keys: std::collections::BTreeSet<&str> = set.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["created_at", "interval", "next_run_at", "updated_at"].into_iter().collect());
    assert_eq!(set.body["interval"], "PT6H");
    let read = api.call(Method::GET, &uri, Some(&viewer()), None).await;
    assert_eq!(read.body, set.body);
    for (body, field) in [
        (json!({"interval": "PT4M"}), "interval"),
        (json!({"interval": "P31D"}), "interval"),
        (json!({"interval": "P1M"}), "interval"),
        (json!({"interval": "six hours"}), "interval"),
        (json!({"interval": "PT6H", "first_run_at": "2999-01-01T00:00:00Z"}), "first_run_at"),
        (json!({"interval": "PT6H", "first_run_at": "tomorrow"}), "first_run_at"),
        (json!({"interval": "PT6H", "extra": 1}), "extra"),
    ] {
        let reply = api.call(Method::PUT, &uri, Some(&admin()), Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.text);
        assert_eq!(reply.body["error"]["details"][0]["field"], field, "{body}");
    }
    assert_eq!(api.call(Method::DELETE, &uri, Some(&admin()), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.call(Method::DELETE, &uri, Some(&admin()), None).await.status, StatusCode::NOT_FOUND);
    let missing = format!("/v1/workspaces/1/tenants/10/provider-connections/{}/schedule", uuid::Uuid::now_v7());
    let reply = api.call(Method::PUT, &missing, Some(&admin()), Some(json!({"interval": "PT6H"}))).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn webhooks_over_http_show_the_secret_only_on_create_and_rotate() {
    let api = api();
    let body = json!({"url": "https://hooks.example.com/verdict", "events": ["verification.completed", "verification.regressed"], "description": "ops"});
    let created = api.call(Method::POST, "/v1/workspaces/1/webhooks", Some(&webhook_admin()), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 44, "{secret}");
    let id = created.body["webhook"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created.headers.get(header::LOCATION).unwrap(), &format!("/v1/workspaces/1/webhooks/{id}"));
    let one = format!("/v1/workspaces/1/webhooks/{id}");
    let listed = api.call(Method::GET, "/v1/workspaces/1/webhooks", Some(&webhook_admin()), None).await;
    let read = api.call(Method::GET, &one, Some(&webhook_admin()), None).await;
    assert_eq!(listed.body[0], read.body);
    assert_eq!(read.body["events"], json!(["verification.completed", "verification.regressed"]));
    for text in [&listed.text, &read.text] {
        assert!(!text.contains(&secret[6..]) && !text.contains("secret\""), "{text}");
    }
    let rotated = api.call(Method::POST, &format!("{one}/rotate-secret"), Some(&webhook_admin()), None).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_secret = rotated.body["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    // A completion enqueues a delivery, listed by the deliveries endpoint.
    let connection = api.create_connection().await;
    api.start(&connection).await;
    let run = api.complete_next_run("permissions.intune_apps").await;
    let page = api.call(Method::GET, &format!("{one}/deliveries?limit=1"), Some(&webhook_admin()), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert_eq!(page.body["deliveries"].as_array().unwrap().len(), 1);
    let next = page.body["next_cursor"].as_str().unwrap();
    let rest = api.call(Method::GET, &format!("{one}/deliveries?cursor={next}"), Some(&webhook_admin()), None).await;
    let all: Vec<&Value> =
        page.body["deliveries"].as_array().unwrap().iter().chain(rest.body["deliveries"].as_array().unwrap()).collect();
    assert_eq!(all.len(), 2, "completed and regressed");
    for delivery in all {
        assert_eq!(
            (&delivery["state"], &delivery["attempts"], &delivery["run_id"]),
            (&json!("pending"), &json!(0), &json!(run))
        );
    }
    for bad in ["limit=0", "cursor=nope", "other=1"] {
        let reply = api.call(Method::GET, &format!("{one}/deliveries?{bad}"), Some(&webhook_admin()), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    for (url, events) in [
        ("http://hooks.example.com/", json!(["verification.completed"])),
        ("https://127.0.0.1/hook", json!(["verification.completed"])),
        ("https://10.1.2.3/hook", json!(["verification.completed"])),
        ("https://169.254.169.254/latest", json!(["verification.completed"])),
        ("https://[::1]/hook", json!(["verification.completed"])),
        ("https://[fd00::1]/hook", json!(["verification.completed"])),
        ("https://hooks.example.com/", json!([])),
        ("https://hooks.example.com/", json!(["verification.started"])),
    ] {
        let body = json!({"url": url, "events": events});
        let reply = api.call(Method::POST, "/v1/workspaces/1/webhooks", Some(&webhook_admin()), Some(body)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{url} {events}: {}", reply.text);
        let field = if url.starts_with("https://hooks") { "events" } else { "url" };
        assert!(reply.body["error"]["details"][0]["field"].as_str().unwrap().starts_with(field), "{url}");
    }
    let scoped = admin();
    assert_eq!(
        api.call(Method::GET, "/v1/workspaces/1/webhooks", Some(&scoped), None).await.status,
        StatusCode::FORBIDDEN
    );

    assert_eq!(api.call(Method::DELETE, &one, Some(&webhook_admin()), None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(api.call(Method::GET, &one, Some(&webhook_admin()), None).await.status, StatusCode::NOT_FOUND);
    let text = api.call(Method::GET, "/metrics", None, None).await.text;
    assert!(text.contains("verdict_webhook_outbox 0"), "{text}");
}
