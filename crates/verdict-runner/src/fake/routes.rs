//! The simulated endpoints, answering the way Entra and Graph do: OAuth error bodies with
//! AADSTS codes, unsigned JWT-shaped access tokens, `request-id` headers, Graph error objects.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{ERROR_DETAIL_MARKER, Reply, SIMULATED_TOKEN_HEADER, Shared};

type Tenant = State<Arc<Shared>>;

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{directory}/oauth2/v2.0/token", post(token))
        .route("/v1.0/organization", get(organization))
        .route("/v1.0/deviceManagement/deviceConfigurations", get(device_configurations))
        .fallback(not_found)
        .with_state(shared)
}

/// Counts the request, waits the configured latency, and hangs when told to.
async fn arrive(shared: &Shared, reply: impl Fn(&super::Behaviour) -> Reply) -> Reply {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let (latency, reply) = {
        let behaviour = shared.behaviour();
        (behaviour.latency, reply(&behaviour))
    };
    tokio::time::sleep(latency).await;
    if reply == Reply::Hang {
        std::future::pending::<()>().await;
    }
    reply
}

fn with_ids(mut response: Response, request_header: &'static str, request: &HeaderMap) -> Response {
    let id = uuid::Uuid::now_v7().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
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

fn oauth_error(code: u16, error: &str, aadsts: u32, text: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{aadsts}: {text} ({ERROR_DETAIL_MARKER}) Trace ID: {}", uuid::Uuid::now_v7()),
        "error_codes": [aadsts],
        "timestamp": "2024-01-01 00:00:00Z",
        "trace_id": uuid::Uuid::now_v7().to_string(),
        "correlation_id": uuid::Uuid::now_v7().to_string(),
    });
    let mut response = (status(code), axum::Json(body)).into_response();
    if code == 429 {
        response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
    }
    response
}

async fn token(
    State(shared): Tenant,
    Path(directory): Path<String>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let reply = arrive(&shared, |b| b.token).await;
    let response = match reply {
        Reply::Status(code) => oauth_error(code, "temporarily_unavailable", 50196, "The service is busy."),
        _ => issue_token(&shared, &directory, &form),
    };
    with_ids(response, "x-ms-request-id", &headers)
}

fn issue_token(shared: &Shared, directory: &str, form: &HashMap<String, String>) -> Response {
    let tenant = &shared.tenant;
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return oauth_error(400, "unsupported_grant_type", 70003, "The grant type is not supported.");
    }
    if !directory.eq_ignore_ascii_case(&tenant.directory_id) {
        return oauth_error(400, "invalid_request", 90002, &format!("Tenant '{directory}' not found."));
    }
    if !field("client_id").eq_ignore_ascii_case(&tenant.client_id) {
        return oauth_error(400, "unauthorized_client", 700_016, "Application not found in the directory.");
    }
    if field("client_secret") != tenant.client_secret {
        return oauth_error(401, "invalid_client", 7_000_215, "Invalid client secret provided.");
    }
    if !field("scope").ends_with("/.default") {
        return oauth_error(400, "invalid_scope", 1_002_012, "The scope is not valid.");
    }
    let (roles, tid) = {
        let behaviour = shared.behaviour();
        (behaviour.roles.clone(), behaviour.token_tenant_id.clone().unwrap_or_else(|| tenant.directory_id.clone()))
    };
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

/// The roles of the bearer token, if it is one this tenant issued.
fn bearer_roles(shared: &Shared, headers: &HeaderMap) -> Option<Vec<String>> {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))?;
    shared.issued().iter().find(|(token, _)| token == bearer).map(|(_, roles)| roles.clone())
}

fn invalid_token() -> Response {
    graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
}

fn graph_error(code: u16, error: &str, text: &str) -> Response {
    let body = json!({"error": {"code": error, "message": format!("{text} ({ERROR_DETAIL_MARKER})")}});
    let mut response = (status(code), axum::Json(body)).into_response();
    if code == 429 {
        response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
    }
    response
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
    let response = match arrive(&shared, |b| b.organization).await {
        Reply::Status(code) => graph_status(code),
        _ => match bearer_roles(&shared, &headers) {
            None => invalid_token(),
            Some(_) => {
                let id =
                    shared.behaviour().organization_id.clone().unwrap_or_else(|| shared.tenant.directory_id.clone());
                axum::Json(json!({"value": [{"id": id, "displayName": "Contoso (simulated)"}]})).into_response()
            }
        },
    };
    with_ids(response, "request-id", &headers)
}

async fn device_configurations(State(shared): Tenant, headers: HeaderMap) -> Response {
    let response = match arrive(&shared, |b| b.device_configurations).await {
        Reply::Status(code) => graph_status(code),
        _ => match bearer_roles(&shared, &headers) {
            None => invalid_token(),
            Some(roles) if roles.iter().any(|r| r.starts_with("DeviceManagementConfiguration.")) => {
                axum::Json(json!({"value": Vec::<Value>::new()})).into_response()
            }
            Some(_) => graph_error(403, "Forbidden", "Application is not authorized to perform this operation."),
        },
    };
    with_ids(response, "request-id", &headers)
}

async fn not_found(State(shared): Tenant) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    graph_error(404, "ResourceNotFound", "Resource not found.")
}
