//! Extractors that turn every kind of bad input into the one error body: a request body that is
//! read and parsed only after the handler authorized the caller ([`JsonBody`]: 415 for another
//! content type, 413 over the limit, 408 when it stalls, 422 naming the field for malformed JSON,
//! trailing data, unknown fields, wrong types or invalid values) and path extractors
//! (unparseable ids → 404).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use verdict_core::domain::{ProviderConnectionId, RunId, TenantId, WebhookId, WorkspaceId};

use crate::AppState;
use crate::error::{ApiError, FieldProblem};

/// The request body limit (docs/contract.md, "Bad input").
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A request body, not read yet. Handlers authorize first and then [`JsonBody::parse`] it, so a
/// caller who may not act learns nothing from how the body would have been judged.
#[derive(Debug)]
pub struct JsonBody {
    is_json: bool,
    body: Body,
    timeout: Duration,
}

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
        Ok(Self { is_json, body: request.into_body(), timeout: state.limits.body_timeout })
    }
}

impl JsonBody {
    /// Reads the body (at most [`BODY_LIMIT_BYTES`], within the body timeout) and parses it.
    ///
    /// # Errors
    /// [`ApiError::UnsupportedMediaType`], [`ApiError::PayloadTooLarge`],
    /// [`ApiError::RequestTimeout`] or [`ApiError::Validation`].
    pub async fn parse<T: DeserializeOwned>(self) -> Result<T, ApiError> {
        if !self.is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let read = tokio::time::timeout(self.timeout, axum::body::to_bytes(self.body, BODY_LIMIT_BYTES));
        let bytes = read.await.map_err(|_| ApiError::RequestTimeout)?.map_err(|error| {
            if is_length_limit(&error) {
                ApiError::PayloadTooLarge
            } else {
                ApiError::invalid("body", "the body could not be read")
            }
        })?;
        parse_json(&bytes)
    }
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if cause.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Parses a JSON document, naming the offending field on failure.
///
/// # Errors
/// [`ApiError::Validation`] with one [`FieldProblem`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let problem = strip_position(&message);
        // serde_path_to_error's path already ends in an unknown field's name; a missing field
        // is reported at its parent, so take its name from the message.
        let field = if inner.is_syntax() || inner.is_eof() {
            "body".to_owned()
        } else if let Some(missing) = missing_field(&message) {
            if path == "." { missing } else { format!("{path}.{missing}") }
        } else if path == "." {
            "body".to_owned()
        } else {
            path
        };
        let problem = if inner.is_syntax() || inner.is_eof() { format!("malformed JSON: {problem}") } else { problem };
        ApiError::Validation(vec![FieldProblem::new(field, problem)])
    })?;
    // One document per body: anything after it (a second object, junk) is refused.
    deserializer.end().map_err(|_| ApiError::invalid("body", "malformed JSON: trailing data after the document"))?;
    Ok(value)
}

fn strip_position(message: &str) -> String {
    message.split(" at line ").next().unwrap_or(message).to_owned()
}

fn backticked(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split('`').next().map(str::to_owned)
}

fn missing_field(message: &str) -> Option<String> {
    backticked(message, "missing field ")
}

async fn segments(parts: &mut Parts) -> Result<HashMap<String, String>, ApiError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, &()).await.map(|p| p.0).map_err(|_| ApiError::NotFound)
}

fn parse_segment<T: FromStr>(map: &HashMap<String, String>, name: &str) -> Result<T, ApiError> {
    map.get(name).and_then(|raw| raw.parse().ok()).ok_or(ApiError::NotFound)
}

/// `/v1/workspaces/{ws}/tenants/{t}/…`.
#[derive(Debug, Clone, Copy)]
pub struct TenantPath {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The tenant.
    pub tenant: TenantId,
}

impl<S: Send + Sync> FromRequestParts<S> for TenantPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let map = segments(parts).await?;
        Ok(Self { workspace: parse_segment(&map, "ws")?, tenant: parse_segment(&map, "t")? })
    }
}

/// `/v1/workspaces/{ws}/…`.
#[derive(Debug, Clone, Copy)]
pub struct WorkspacePath(pub WorkspaceId);

impl<S: Send + Sync> FromRequestParts<S> for WorkspacePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let map = segments(parts).await?;
        Ok(Self(parse_segment(&map, "ws")?))
    }
}

/// `…/provider-connections/{id}`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionPath {
    /// The workspace and tenant.
    pub scope: TenantPath,
    /// The connection.
    pub id: ProviderConnectionId,
}

impl<S: Send + Sync> FromRequestParts<S> for ConnectionPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let map = segments(parts).await?;
        Ok(Self {
            scope: TenantPath { workspace: parse_segment(&map, "ws")?, tenant: parse_segment(&map, "t")? },
            id: parse_segment(&map, "id")?,
        })
    }
}

/// `/v1/workspaces/{ws}/webhooks/{id}/…`.
#[derive(Debug, Clone, Copy)]
pub struct WebhookPath {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The subscription.
    pub id: WebhookId,
}

impl<S: Send + Sync> FromRequestParts<S> for WebhookPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let map = segments(parts).await?;
        Ok(Self { workspace: parse_segment(&map, "ws")?, id: parse_segment(&map, "id")? })
    }
}

/// `/v1/runs/{id}`.
#[derive(Debug, Clone, Copy)]
pub struct RunPath(pub RunId);

impl<S: Send + Sync> FromRequestParts<S> for RunPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let map = segments(parts).await?;
        Ok(Self(parse_segment(&map, "id")?))
    }
}

/// The query string as parameters, rejecting names the endpoint does not know.
#[derive(Debug, Default)]
pub struct QueryParams(HashMap<String, String>);

impl QueryParams {
    /// Parses `parts`' query, allowing only `allowed` names.
    ///
    /// # Errors
    /// [`ApiError::Validation`] naming an unknown or repeated parameter.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut map = HashMap::new();
        for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name).ok_or_else(|| ApiError::invalid("query", "is not valid UTF-8"))?;
            let value = percent_decode(value).ok_or_else(|| ApiError::invalid(name.clone(), "is not valid UTF-8"))?;
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::invalid(name, "is not a parameter of this endpoint"));
            }
            if map.insert(name.clone(), value).is_some() {
                return Err(ApiError::invalid(name, "must appear at most once"));
            }
        }
        Ok(Self(map))
    }

    /// A parameter's decoded value, unparsed.
    #[must_use]
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An optional parameter parsed with `parse`.
    ///
    /// # Errors
    /// [`ApiError::Validation`] naming the parameter.
    pub fn optional<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ApiError> {
        self.0
            .get(name)
            .map(|raw| parse(raw).map_err(|e| ApiError::invalid(name, problem_text(&e.to_string()))))
            .transpose()
    }
}

/// `limit`: a page size from 1 to 100.
///
/// # Errors
/// The problem, in words.
pub fn page_limit(text: &str) -> Result<verdict_core::domain::PageLimit, String> {
    text.parse::<u32>()
        .ok()
        .and_then(|n| verdict_core::domain::PageLimit::new(n).ok())
        .ok_or_else(|| "must be an integer from 1 to 100".to_owned())
}

fn problem_text(message: &str) -> String {
    // Domain parse errors read "field: problem"; the field is already named.
    message.split_once(": ").map_or(message, |(_, problem)| problem).to_owned()
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        check_key: verdict_core::domain::CheckKey,
        count: u32,
    }

    fn problem(json: &str) -> FieldProblem {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(mut problems)) => problems.remove(0),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(problem(r#"{"check_key":"a","count":1,"extra":1}"#).field, "extra");
        assert_eq!(problem(r#"{"check_key":"a","count":"1"}"#).field, "count");
        assert_eq!(problem(r#"{"check_key":"A!","count":1}"#).field, "check_key");
        assert_eq!(problem(r#"{"count":1}"#).field, "check_key");
        assert_eq!(problem(r#"{"check_key":"a","count":-1}"#).field, "count");
        let malformed = problem(r#"{"check_key": "#);
        assert_eq!(malformed.field, "body");
        assert!(malformed.problem.starts_with("malformed JSON"));
        assert_eq!(problem("[]").field, "body");
        for trailing in
            [r#"{"check_key":"a","count":1} junk {{{"#, r#"{"check_key":"a","count":1}{"check_key":"b","count":2}"#]
        {
            let trailing = problem(trailing);
            assert_eq!(trailing.field, "body");
            assert!(trailing.problem.contains("trailing"), "{}", trailing.problem);
        }
        assert!(parse_json::<Body>(b"{\"check_key\":\"a\",\"count\":1}  \n").is_ok(), "whitespace may follow");
    }

    #[test]
    fn query_parameters_are_strict() {
        let q = QueryParams::parse(Some("limit=5&flow=a.b"), &["limit", "flow"]).unwrap();
        assert_eq!(q.optional("limit", str::parse::<u32>).unwrap(), Some(5));
        assert!(QueryParams::parse(Some("nope=1"), &["limit"]).is_err());
        assert!(QueryParams::parse(Some("limit=1&limit=2"), &["limit"]).is_err());
        let q = QueryParams::parse(Some("limit=abc"), &["limit"]).unwrap();
        assert!(q.optional("limit", str::parse::<u32>).is_err());
        let q = QueryParams::parse(Some("flow=a%2Eb+c"), &["flow"]).unwrap();
        assert_eq!(q.optional("flow", |s| Ok::<_, String>(s.to_owned())).unwrap().as_deref(), Some("a.b c"));
        assert!(QueryParams::parse(Some("flow=%zz"), &["flow"]).is_err());
        assert!(QueryParams::parse(Some("flow=%2"), &["flow"]).is_err());
    }
}
