//! The edge layer (`telemetry.rs`, `edge`) around routes of its own, which the API never has: a
//! handler that panics and one that never answers.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::json;

use verdict_core::fakes::InMemoryStore;

use super::{Api, Ready, state_with};
use crate::HttpLimits;

async fn panics() -> &'static str {
    panic!("a handler bug with a secret-looking detail")
}

/// The edge layer around routes of its own: a handler that panics and one that never answers are
/// both answered in the error shape with a request id, their causes stay out of the body, and
/// both are counted by status.
#[tokio::test]
async fn a_panic_and_a_missed_deadline_are_answered_in_the_error_shape_and_counted() {
    let store = InMemoryStore::new();
    let limits = HttpLimits { request_timeout: std::time::Duration::from_millis(50), ..HttpLimits::default() };
    let (state, ports, metrics) = state_with(&store, Arc::new(Ready(true)), limits);
    let routes = axum::Router::new()
        .route("/panics", axum::routing::get(panics))
        .route("/hangs", axum::routing::get(std::future::pending::<&'static str>));
    let api = Api { router: crate::telemetry::layers(routes, state.clone()).with_state(state), store, ports };

    let panicked = api.call(Method::GET, "/panics", None, None).await;
    assert_eq!(
        (panicked.status, &panicked.body["error"]["code"]),
        (StatusCode::INTERNAL_SERVER_ERROR, &json!("internal"))
    );
    assert!(!panicked.text.contains("secret-looking"), "{}", panicked.text);
    assert!(panicked.headers.contains_key("x-request-id"));
    let hung = api.call(Method::GET, "/hangs", None, None).await;
    assert_eq!((hung.status, &hung.body["error"]["code"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("unavailable")));
    assert!(hung.headers.contains_key("x-request-id"));

    let text = metrics.render_prometheus();
    for counted in [
        r#"verdict_http_requests_total{method="GET",route="/panics",status="500"} 1"#,
        r#"verdict_http_requests_total{method="GET",route="/hangs",status="503"} 1"#,
    ] {
        assert!(text.contains(counted), "{counted} in {text}");
    }
}
