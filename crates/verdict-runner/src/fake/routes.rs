//! The simulated endpoints, answering the way Entra and Graph do: OAuth error bodies with
//! AADSTS codes, unsigned JWT-shaped access tokens, `request-id` headers, Graph error objects,
//! `Retry-After` on throttling — and the failures a test asks for.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{Behaviour, ERROR_DETAIL_MARKER, Garbage, Reply, SIMULATED_TOKEN_HEADER, Shared, TokenError};

pub(super) type Tenant = State<Arc<Shared>>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{directory}/oauth2/v2.0/token", post(token))
        .route("/v1.0/organization", get(organization))
        .route("/v1.0/deviceManagement/deviceConfigurations", get(device_configurations))
        .route("/v1.0/subscribedSkus", get(super::directory::subscribed_skus))
        // `applications(appId='…')` and `servicePrincipals(appId='…')`: one segment each.
        .route("/v1.0/{resource}", get(super::directory::by_app_id))
        .fallback(not_found)
        .with_state(shared)
}

/// Counts the request, waits the configured latency, and plays the endpoint's [`Reply`]: hangs,
/// delays, or returns it (a one-off throttle is turned back to normal on the way).
pub(super) async fn arrive(
    shared: &Shared,
    endpoint: &'static str,
    reply: impl FnOnce(&mut Behaviour) -> &mut Reply,
) -> Reply {
    shared.count(endpoint);
    let (latency, played) = {
        let mut behaviour = shared.behaviour();
        let latency = behaviour.latency;
        let slot = reply(&mut behaviour);
        let played = *slot;
        if matches!(played, Reply::ThrottleOnce { .. }) {
            *slot = Reply::Normal;
        }
        (latency, played)
    };
    tokio::time::sleep(latency).await;
    match played {
        Reply::Hang => std::future::pending::<Reply>().await,
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Reply::Normal
        }
        other => other,
    }
}

/// Which error dialect an endpoint speaks.
#[derive(Clone, Copy)]
pub(super) enum Dialect {
    OAuth,
    Graph,
}

/// The answer of a [`Reply`] that is not normal; `None` for a normal one.
pub(super) fn unless_normal(shared: &Shared, reply: Reply, dialect: Dialect) -> Option<Response> {
    let (code, retry_after) = match reply {
        Reply::Normal | Reply::Hang | Reply::Slow(_) => return None,
        Reply::Garbled(kind) => return Some(garbage(kind)),
        Reply::Status(code) => (code, shared.behaviour().retry_after_seconds),
        Reply::ThrottleOnce { retry_after_seconds } => (429, retry_after_seconds),
    };
    let mut response = match dialect {
        Dialect::OAuth => oauth_error(shared, code, "temporarily_unavailable", 50196, "The service is busy."),
        Dialect::Graph => graph_status(code),
    };
    if code == 429
        && let Ok(value) = HeaderValue::from_str(&retry_after.to_string())
    {
        response.headers_mut().insert("retry-after", value);
    }
    Some(response)
}

/// A request id as the simulated tenant writes it: a fresh GUID unless a test chose the text.
fn request_id(shared: &Shared) -> String {
    shared.behaviour().request_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// HTTP 200 with something that is not the endpoint's answer.
fn garbage(kind: Garbage) -> Response {
    use axum::body::Body;
    use futures::StreamExt as _;
    let (content_type, body) = match kind {
        Garbage::MalformedJson => ("application/json", Body::from(r#"{"value": [{"id": "#)),
        Garbage::Html => (
            "text/html",
            Body::from(format!("<html><body><h1>502 Bad Gateway</h1>{ERROR_DETAIL_MARKER}</body></html>")),
        ),
        Garbage::Huge => {
            let mut text = String::with_capacity(10 << 20);
            text.push_str(r#"{"value": [], "padding": ""#);
            text.extend(std::iter::repeat_n('x', 10 << 20));
            text.push_str(r#""}"#);
            ("application/json", Body::from(text))
        }
        Garbage::Endless => {
            let chunk = axum::body::Bytes::from(vec![b' '; 64 << 10]);
            let stream = futures::stream::repeat(chunk).map(Ok::<_, std::convert::Infallible>);
            ("application/json", Body::from_stream(stream))
        }
        Garbage::Trickle => {
            let stream = futures::stream::unfold((), |()| async {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                Some((Ok::<_, std::convert::Infallible>(axum::body::Bytes::from_static(b" ")), ()))
            });
            ("application/json", Body::from_stream(stream))
        }
    };
    let mut response = Response::new(body);
    response.headers_mut().insert("content-type", HeaderValue::from_static(content_type));
    response
}

/// Adds the request id header (`request-id` for Graph, `x-ms-request-id` for Entra) and echoes
/// the client's `client-request-id`.
pub(super) fn with_ids(
    shared: &Shared,
    mut response: Response,
    request_header: &'static str,
    request: &HeaderMap,
) -> Response {
    if let Ok(value) = HeaderValue::from_str(&request_id(shared)) {
        response.headers_mut().insert(request_header, value);
    }
    if let Some(client) = request.get("client-request-id") {
        response.headers_mut().insert("client-request-id", client.clone());
    }
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn oauth_error(shared: &Shared, code: u16, error: &str, aadsts: u32, text: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{aadsts}: {text} ({ERROR_DETAIL_MARKER}) Trace ID: {}", uuid::Uuid::now_v7()),
        "error_codes": [aadsts],
        "timestamp": "2024-01-01 00:00:00Z",
        "trace_id": uuid::Uuid::now_v7().to_string(),
        "correlation_id": request_id(shared),
    });
    (status(code), axum::Json(body)).into_response()
}

async fn token(
    State(shared): Tenant,
    Path(directory): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let reply = arrive(&shared, "token", |b| &mut b.token).await;
    let response =
        unless_normal(&shared, reply, Dialect::OAuth).unwrap_or_else(|| issue_token(&shared, &directory, &form));
    with_ids(&shared, response, "x-ms-request-id", &headers)
}

fn issue_token(shared: &Shared, directory: &str, form: &HashMap<String, String>) -> Response {
    let tenant = &shared.tenant;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return oauth_error(shared, 400, "unsupported_grant_type", 70003, "The grant type is not supported.");
    }
    if !directory.eq_ignore_ascii_case(&tenant.directory_id) {
        return oauth_error(shared, 400, "invalid_request", 90002, &format!("Tenant '{directory}' not found."));
    }
    if !field("client_id").eq_ignore_ascii_case(&tenant.client_id) {
        return oauth_error(shared, 400, "unauthorized_client", 700_016, "Application not found in the directory.");
    }
    if field("client_secret") != tenant.client_secret {
        return oauth_error(shared, 401, "invalid_client", 7_000_215, "Invalid client secret provided.");
    }
    if !field("scope").ends_with("/.default") {
        return oauth_error(shared, 400, "invalid_scope", 1_002_012, "The scope is not valid.");
    }
    let (roles, tid, expired, refusal) = {
        let behaviour = shared.behaviour();
        (
            behaviour.roles.clone(),
            behaviour.token_tenant_id.clone().unwrap_or_else(|| tenant.directory_id.clone()),
            behaviour.enforce_secret_expiry && behaviour.secret_expires_at <= chrono::Utc::now(),
            behaviour.token_error,
        )
    };
    if expired {
        return oauth_error(shared, 401, "invalid_client", 7_000_222, "The provided client secret keys are expired.");
    }
    if let Some(refusal) = refusal {
        return refused(shared, refusal);
    }
    let now = chrono::Utc::now().timestamp();
    let mut payload = json!({
        "aud": field("scope").trim_end_matches("/.default"),
        "iss": format!("https://sts.windows.net/{tid}/"),
        "iat": now, "nbf": now, "exp": now + 3600,
        "appid": tenant.client_id, "idtyp": "app", "tid": tid,
    });
    // Like Entra, a token without consented application permissions has no `roles` claim.
    if !roles.is_empty() {
        payload["roles"] = json!(roles);
    }
    let token = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(SIMULATED_TOKEN_HEADER),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(format!("simulated-signature-{}", uuid::Uuid::now_v7()))
    );
    shared.issued().push((token.clone(), roles));
    axum::Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}))
        .into_response()
}

fn refused(shared: &Shared, refusal: TokenError) -> Response {
    match refusal {
        TokenError::AppNotInDirectory => {
            oauth_error(shared, 400, "unauthorized_client", 700_016, "Application not found in the directory.")
        }
        TokenError::ConsentRequired => {
            oauth_error(shared, 400, "invalid_grant", 65_001, "The user or administrator has not consented.")
        }
        TokenError::AppDisabled => {
            oauth_error(shared, 400, "unauthorized_client", 7_000_112, "Application is disabled.")
        }
        TokenError::BlockedByConditionalAccess => {
            oauth_error(shared, 400, "invalid_grant", 53_003, "Access has been blocked by Conditional Access policies.")
        }
        TokenError::Unlisted => {
            let body = json!({
                "error": "invalid_request",
                "error_description": format!("AADSTS50058: A silent sign-in request was sent. ({ERROR_DETAIL_MARKER})"),
                "correlation_id": request_id(shared),
            });
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
    }
}

/// The roles of the bearer token, if it is one this tenant issued.
pub(super) fn bearer_roles(shared: &Shared, headers: &HeaderMap) -> Option<Vec<String>> {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))?;
    shared.issued().iter().find(|(token, _)| token == bearer).map(|(_, roles)| roles.clone())
}

pub(super) fn invalid_token() -> Response {
    graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
}

pub(super) fn forbidden() -> Response {
    graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
}

pub(super) fn graph_error(code: u16, error: &str, text: &str) -> Response {
    let body = json!({"error": {"code": error, "message": format!("{text} ({ERROR_DETAIL_MARKER})")}});
    (status(code), axum::Json(body)).into_response()
}

fn graph_status(code: u16) -> Response {
    let error = match code {
        401 => "InvalidAuthenticationToken",
        403 => "Authorization_RequestDenied",
        429 => "TooManyRequests",
        500..=599 => "ServiceUnavailable",
        _ => "BadRequest",
    };
    graph_error(code, error, "Simulated failure.")
}

async fn organization(State(shared): Tenant, headers: HeaderMap) -> Response {
    let reply = arrive(&shared, "organization", |b| &mut b.organization).await;
    let response =
        unless_normal(&shared, reply, Dialect::Graph).unwrap_or_else(|| match bearer_roles(&shared, &headers) {
            None => invalid_token(),
            Some(_) => {
                let id =
                    shared.behaviour().organization_id.clone().unwrap_or_else(|| shared.tenant.directory_id.clone());
                axum::Json(json!({"value": [{"id": id, "displayName": "Contoso (simulated)"}]})).into_response()
            }
        });
    with_ids(&shared, response, "request-id", &headers)
}

async fn device_configurations(State(shared): Tenant, headers: HeaderMap) -> Response {
    let reply = arrive(&shared, "device_configurations", |b| &mut b.device_configurations).await;
    let response =
        unless_normal(&shared, reply, Dialect::Graph).unwrap_or_else(|| match bearer_roles(&shared, &headers) {
            None => invalid_token(),
            Some(roles) if roles.iter().any(|r| r.starts_with("DeviceManagementConfiguration.")) => {
                axum::Json(json!({"value": Vec::<Value>::new()})).into_response()
            }
            Some(_) => graph_error(403, "Forbidden", "Application is not authorized to perform this operation."),
        });
    with_ids(&shared, response, "request-id", &headers)
}

async fn not_found(State(shared): Tenant) -> Response {
    shared.count("not_found");
    graph_error(404, "ResourceNotFound", "Resource not found.")
}
