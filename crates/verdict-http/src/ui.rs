//! The operator view of docs/contract.md#fleet-status-and-the-operator-view: static files compiled into the binary and served under `/ui`.
//! Every view route answers the same `index.html` (the page routes itself in the browser); every
//! response carries a strict Content-Security-Policy and the other browser hardening headers.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::error::ApiError;

/// The policy of every `/ui` response: scripts and styles from this origin only (no inline code,
/// no `eval`), requests only to this origin, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'";

/// One file of the view, with the validator browsers revalidate it by.
#[derive(Debug)]
pub struct Asset {
    /// The name under `/ui/assets/`.
    pub name: &'static str,
    /// The `Content-Type` it is served with.
    pub content_type: &'static str,
    /// The bytes, compiled in.
    pub body: &'static [u8],
    /// A strong `ETag`: the FNV-1a hash of the bytes, computed at compile time.
    etag: &'static str,
}

/// FNV-1a, 64 bits: a content hash cheap enough to run in `const` context, so the validators are
/// part of the binary. It only has to tell two versions of one file apart, not resist an attacker.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `"` + 16 lowercase hex digits + `"`, at compile time.
const fn quoted_hex(value: u64) -> [u8; 18] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = DIGITS[((value >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {{
        const BODY: &[u8] = include_bytes!(concat!("../ui/", $name));
        const ETAG_BYTES: [u8; 18] = quoted_hex(fnv1a(BODY));
        const ETAG: &str = match std::str::from_utf8(&ETAG_BYTES) {
            Ok(text) => text,
            Err(_) => panic!("an ETag is ASCII"),
        };
        Asset { name: $name, content_type: $content_type, body: BODY, etag: ETAG }
    }};
}

/// The page every view route answers.
pub static INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Everything under `/ui/assets/`.
pub static ASSETS: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("format.js", "text/javascript; charset=utf-8"),
    asset!("session.js", "text/javascript; charset=utf-8"),
    asset!("fleet.js", "text/javascript; charset=utf-8"),
    asset!("run.js", "text/javascript; charset=utf-8"),
    asset!("checks.js", "text/javascript; charset=utf-8"),
    asset!("history.js", "text/javascript; charset=utf-8"),
    asset!("audit.js", "text/javascript; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// The `/ui` routes, generic over the state so `router` can merge them as they are.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(index))
        .route("/ui/runs/{id}", get(index))
        .route("/ui/workspaces/{ws}/tenants/{t}/connections/{id}", get(index))
        .route("/ui/workspaces/{ws}/audit", get(index))
        .route("/ui/assets/{name}", get(asset))
        .route("/ui/{*rest}", get(|| async { ApiError::NotFound }))
        .layer(middleware::map_response(harden))
}

async fn index(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(found) => serve(found, &headers),
        None => ApiError::NotFound.into_response(),
    }
}

/// The file, or 304 when the browser already holds this version. `no-cache` makes browsers
/// revalidate every time, so a new binary's files are picked up at once without hashed names.
fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = HeaderValue::from_static(asset.etag);
    let cached = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == asset.etag || tag.trim() == "*");
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if cached {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), cache]).into_response();
    }
    let content_type = HeaderValue::from_static(asset.content_type);
    ([(header::CONTENT_TYPE, content_type), (header::ETAG, etag), cache], asset.body).into_response()
}

/// Adds the browser hardening headers to every `/ui` response, errors included.
async fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in set {
        headers.insert::<HeaderName>(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests;
