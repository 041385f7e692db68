//! Redaction (docs/contract.md#evidence-safety): reports, audit metadata and log lines carry safe pointers only. The
//! sanitizer runs on every report before it is stored; a read trusts the database's copy
//! (`Report::from_stored_json`), because only sanitized reports are ever written. It is
//! idempotent and never panics.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};
use serde_json::{Map, Value};
use url::Url;

use crate::domain::{
    CheckResult, CheckTitle, EvidenceValue, MAX_EVIDENCE_VALUE_CHARS, MAX_LABEL_CHARS, MAX_MESSAGE_CHARS,
    MAX_TITLE_CHARS, MAX_URL_BYTES, NextStep,
};

/// What replaces a secret-looking string.
pub const REDACTED: &str = "[REDACTED]";

/// Most evidence entries per check; more are dropped.
pub const MAX_EVIDENCE: usize = 32;
/// Most next steps per check; more are dropped.
pub const MAX_NEXT_STEPS: usize = 8;

/// Words that make a key (evidence kind, metadata key, query parameter, `key=value` key) name a
/// secret-like thing.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "authorization",
    "cookie",
    "header",
    "payload",
    "body",
    "claims",
    "assertion",
    "key",
    "credential",
    "signature",
];

/// Names that contain a secret word but are known safe pointers.
const SAFE_NAMES: &[&str] = &["check_key"];

/// Shortest run of opaque characters treated as a secret (base64/hex blobs, client secrets).
const OPAQUE_RUN_MIN: usize = 32;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("sanitizer pattern {pattern}: {e}"))
}

const JWT_PATTERN: &str = r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*";
const AUTH_SCHEME_PATTERN: &str = r"\b(?:(?i:bearer)\s+[A-Za-z0-9._~+/=-]+|Basic\s+[A-Za-z0-9+/=]{8,})";
/// A secret-like key, its separator, and its value — through any chain of further `value:` hops
/// (`key: "client_secret": "…"` names the secret in its second value, so the whole chain goes).
const KEY_VALUE_PATTERN: &str = r#"(?i)([a-z0-9_.-]*(?:token|secret|password|passwd|pwd|authorization|cookie|assertion|key|credential|signature)[a-z0-9_.-]*)["']?\s*[=:]\s*(?:(?:\[REDACTED\]|"[^"]*"|'[^']*'|[^\s&,;"'{}()<>\]=:]+)\s*[=:]\s*)*(\[REDACTED\]|"[^"]*"|'[^']*'|[^\s&,;"'{}()<>\]]+)"#;

static JWT: LazyLock<Regex> = LazyLock::new(|| regex(JWT_PATTERN));
static AUTH_SCHEME: LazyLock<Regex> = LazyLock::new(|| regex(AUTH_SCHEME_PATTERN));
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| regex(KEY_VALUE_PATTERN));
/// The three patterns above in one scan: a text none of them matches (most texts) skips the three
/// replacement passes, which would each scan it again to change nothing.
static ANY_PATTERN: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([AUTH_SCHEME_PATTERN, JWT_PATTERN, KEY_VALUE_PATTERN])
        .unwrap_or_else(|e| panic!("sanitizer patterns: {e}"))
});
static HOST_PREFIX: LazyLock<Regex> = LazyLock::new(|| regex(r"^[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/|$)"));

/// Whether `name` names a secret-like thing (case-insensitive substring match: over-dropping
/// is safe, under-dropping is a leak).
#[must_use]
pub fn is_secret_like_name(name: &str) -> bool {
    if SAFE_NAMES.iter().any(|safe| name.eq_ignore_ascii_case(safe)) {
        return false;
    }
    name.eq_ignore_ascii_case("sig") || SECRET_WORD.is_match(name)
}

/// Any of `words` (lowercase ASCII), ignoring ASCII case only (`-u`): what lowercasing a text
/// with `to_ascii_lowercase` and searching it finds, in one scan and without the copy.
fn any_word(words: &[&str]) -> Regex {
    regex(&format!("(?i-u){}", words.iter().map(|w| regex::escape(w)).collect::<Vec<_>>().join("|")))
}

static SECRET_WORD: LazyLock<Regex> = LazyLock::new(|| any_word(SECRET_WORDS));
static FREE_TEXT_WORD: LazyLock<Regex> = LazyLock::new(|| any_word(FREE_TEXT_WORDS));

/// Replaces secret-looking substrings of free text with [`REDACTED`], replaces control
/// characters with spaces and truncates to `max_chars` characters.
#[must_use]
pub fn sanitize_text(text: &str, max_chars: usize) -> String {
    sanitized(text, max_chars).into_owned()
}

/// [`sanitize_text`] of an owned text, in place: a text that is already clean (most are) is
/// neither copied nor reallocated.
pub(crate) fn sanitize_text_in_place(text: &mut String, max_chars: usize) {
    if let Cow::Owned(clean) = sanitized(text, max_chars) {
        *text = clean;
    }
}

/// [`sanitize_text`], borrowing `text` when it is a fixed point already.
fn sanitized(text: &str, max_chars: usize) -> Cow<'_, str> {
    // Truncation can cut a redaction marker in half, which the next redaction pass would see as
    // a new value; iterate to a fixed point so the function is idempotent.
    let mut current = match sanitize_pass(text, max_chars) {
        // A text the first pass left as it was is a fixed point already: the pass is a function
        // of its input alone, so a second one would compute the same text again. Most texts are so.
        Cow::Owned(changed) if changed != text => changed,
        _ => return Cow::Borrowed(text),
    };
    for _ in 0..8 {
        match sanitize_pass(&current, max_chars) {
            Cow::Owned(next) if next != current => current = next,
            _ => break,
        }
    }
    Cow::Owned(current)
}

/// One redaction and truncation pass; borrowed when it changed nothing.
fn sanitize_pass(text: &str, max_chars: usize) -> Cow<'_, str> {
    match redact(text) {
        Cow::Borrowed(redacted) => truncate(redacted, max_chars).map_or(Cow::Borrowed(redacted), Cow::Owned),
        Cow::Owned(redacted) => Cow::Owned(truncate(&redacted, max_chars).unwrap_or(redacted)),
    }
}

fn redact(text: &str) -> Cow<'_, str> {
    let cleaned: Cow<'_, str> = if text.chars().any(char::is_control) {
        Cow::Owned(text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
    } else {
        Cow::Borrowed(text)
    };
    let replaced = if ANY_PATTERN.is_match(&cleaned) { Cow::Owned(replace_patterns(&cleaned)) } else { cleaned };
    match redact_opaque_runs(&replaced) {
        Some(redacted) => Cow::Owned(redacted),
        None => replaced,
    }
}

/// The auth-scheme, JWT and key=value replacement passes, in that order.
fn replace_patterns(text: &str) -> String {
    let step = AUTH_SCHEME.replace_all(text, REDACTED);
    let step = JWT.replace_all(&step, REDACTED);
    KEY_VALUE.replace_all(&step, |caps: &regex::Captures<'_>| format!("{}={REDACTED}", &caps[1])).into_owned()
}

fn is_opaque_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '~' | '.' | '-')
}

/// Long runs of base64-like characters are secrets or tokens; SHA-256 hashes, GUIDs (lowercase
/// hex) and the host and path of a URL are safe pointers and pass. `None` when no run is
/// redacted (the text stays as it is).
fn redact_opaque_runs(text: &str) -> Option<String> {
    let mut out: Option<String> = None;
    // The end of the text already copied into `out`.
    let mut copied = 0;
    let mut run_start: Option<usize> = None;
    let mut flush = |out: &mut Option<String>, start: usize, end: usize| {
        let run = &text[start..end];
        // Cheapest test first: most runs are short words, and only a long one can be a secret.
        // Opaque characters are ASCII, so the run's bytes are its characters.
        let secret = run.len() >= OPAQUE_RUN_MIN
            && looks_opaque(run)
            && !(text[..start].ends_with("://") || run.starts_with('/') || HOST_PREFIX.is_match(run));
        if secret {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
        }
    };
    for (i, c) in text.char_indices() {
        if is_opaque_char(c) {
            run_start.get_or_insert(i);
        } else if let Some(start) = run_start.take() {
            flush(&mut out, start, i);
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, start, text.len());
    }
    out.map(|mut out| {
        out.push_str(&text[copied..]);
        out
    })
}

/// Mixed-case alphanumerics with digits (base64, client secrets) or hex longer than a SHA-256.
fn looks_opaque(run: &str) -> bool {
    let has_digit = run.bytes().any(|b| b.is_ascii_digit());
    let has_upper = run.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = run.bytes().any(|b| b.is_ascii_lowercase());
    let long_hex = run.len() > 64 && run.bytes().all(|b| b.is_ascii_hexdigit());
    (has_digit && has_upper && has_lower) || long_hex
}

/// The text cut to `max_chars` characters, its last one `…`; `None` when it is short enough.
fn truncate(text: &str, max_chars: usize) -> Option<String> {
    // A text of at most `max_chars` bytes has at most as many characters: no need to count them.
    if text.len() <= max_chars || text.chars().count() <= max_chars {
        return None;
    }
    let mut out: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    Some(out)
}

/// Sanitizes one check result: message, title and evidence values redacted and truncated,
/// secret-named evidence dropped, unsafe next steps dropped or stripped.
#[must_use]
pub fn sanitize_check(mut check: CheckResult) -> CheckResult {
    if let Cow::Owned(title) = sanitized(check.title.as_str(), MAX_TITLE_CHARS)
        && let Ok(clean) = CheckTitle::parse(title)
    {
        check.title = clean;
    }
    sanitize_text_in_place(&mut check.message, MAX_MESSAGE_CHARS);
    check.evidence.retain(|e| !is_secret_like_name(e.kind.as_str()));
    check.evidence.truncate(MAX_EVIDENCE);
    for evidence in &mut check.evidence {
        if let EvidenceValue::Text(text) = &mut evidence.value {
            sanitize_text_in_place(text, MAX_EVIDENCE_VALUE_CHARS);
        }
    }
    check.next_steps = check.next_steps.into_iter().filter_map(sanitize_next_step).take(MAX_NEXT_STEPS).collect();
    check
}

/// Keeps a next step only if its URL is a relative path (`/…`, not `//…`) or an `https://`
/// URL; strips userinfo, fragments and secret-named query parameters.
#[must_use]
pub fn sanitize_next_step(step: NextStep) -> Option<NextStep> {
    let NextStep { label: mut raw_label, url: raw_url } = step;
    let label = if raw_label.trim().len() == raw_label.len() {
        sanitize_text_in_place(&mut raw_label, MAX_LABEL_CHARS);
        raw_label
    } else {
        sanitize_text(raw_label.trim(), MAX_LABEL_CHARS)
    };
    if label.trim().is_empty() || raw_url.len() > MAX_URL_BYTES {
        return None;
    }
    if raw_url.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return None;
    }
    let url = if raw_url.starts_with('/') && !raw_url.starts_with("//") {
        if is_plain_path(&raw_url) { raw_url } else { relative_url(&raw_url)? }
    } else {
        if !raw_url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) || raw_url[8..].starts_with('/') {
            return None;
        }
        let mut parsed = Url::parse(&raw_url).ok()?;
        if parsed.scheme() != "https" || parsed.host_str().is_none_or(str::is_empty) {
            return None;
        }
        strip_url(&mut parsed);
        parsed.to_string()
    };
    (url.len() <= MAX_URL_BYTES).then_some(NextStep { label, url })
}

/// A path that URL parsing leaves as it is: a `/` and then letters, digits, `-`, `_`, `~` and
/// single `/`s — no dot segment to resolve, nothing to percent-encode, no query, userinfo or
/// fragment to strip. (`a_plain_path_is_what_parsing_makes_of_it` holds it to [`relative_url`].)
fn is_plain_path(url: &str) -> bool {
    url.starts_with('/')
        && !url.contains("//")
        && url.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'~'))
}

/// A relative URL (`/…`) resolved, normalized and stripped as [`strip_url`] says.
fn relative_url(url: &str) -> Option<String> {
    static BASE: LazyLock<Option<Url>> = LazyLock::new(|| Url::parse("https://relative.invalid").ok());
    let mut parsed = BASE.as_ref()?.join(url).ok()?;
    strip_url(&mut parsed);
    let mut relative = parsed.path().to_owned();
    if let Some(query) = parsed.query() {
        relative.push('?');
        relative.push_str(query);
    }
    Some(relative)
}

fn strip_url(url: &mut Url) {
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_secret_like_name(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// Most keys audit metadata may hold.
pub const MAX_METADATA_KEYS: usize = 32;

/// Audit metadata keeps small, safe facts: secret-like and free-text keys (`reason`,
/// `message`, …) are dropped, strings are redacted and truncated, nesting is limited to one
/// object level and arrays to scalars.
#[must_use]
pub fn sanitize_metadata(mut metadata: Map<String, Value>) -> Map<String, Value> {
    sanitize_map(&mut metadata, 0);
    metadata
}

const FREE_TEXT_WORDS: &[&str] =
    &["reason", "message", "comment", "note", "description", "raw", "response", "request_body"];

/// Keeps the first [`MAX_METADATA_KEYS`] safe keys, in the map's order, each value sanitized in
/// place.
fn sanitize_map(map: &mut Map<String, Value>, depth: u8) {
    let mut kept = 0;
    map.retain(|k, v| {
        let keep = kept < MAX_METADATA_KEYS
            && k.len() <= 64
            && !is_secret_like_name(k)
            && !FREE_TEXT_WORD.is_match(k)
            && sanitize_metadata_value(v, depth);
        kept += usize::from(keep);
        keep
    });
}

/// Sanitizes `value` in place; `false` when it is dropped (an object below the first level).
fn sanitize_metadata_value(value: &mut Value, depth: u8) -> bool {
    match value {
        Value::String(s) => sanitize_text_in_place(s, MAX_EVIDENCE_VALUE_CHARS),
        Value::Object(map) if depth == 0 => sanitize_map(map, 1),
        Value::Object(_) => return false,
        Value::Array(items) => {
            items.retain(|v| !matches!(v, Value::Object(_) | Value::Array(_)));
            items.truncate(MAX_METADATA_KEYS);
            for item in items {
                sanitize_metadata_value(item, depth + 1);
            }
        }
        _ => {}
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CheckStatus, Evidence, ReasonCode, Severity};
    use crate::rules::test_support::check;
    use serde_json::json;

    proptest::proptest! {
        /// The one-scan gate never skips a text that a replacement pass would change: texts built
        /// from the patterns' own pieces (schemes, JWT heads, secret words, separators, quotes).
        #[test]
        fn the_gate_skips_only_texts_no_pass_changes(
            parts in proptest::collection::vec(
                "Bearer |bearer\t|Basic |eyJ|[A-Za-z0-9+/=._~-]{1,12}|client_secret|Password|key|token|[=:]|\"|'| |\\.|&|\\[REDACTED\\]|é",
                0..12,
            )
        ) {
            let text = parts.concat();
            if !ANY_PATTERN.is_match(&text) {
                proptest::prop_assert_eq!(replace_patterns(&text), text);
            }
        }

        /// The shortcut past URL parsing keeps only paths that parsing would leave as they are.
        #[test]
        fn a_plain_path_is_what_parsing_makes_of_it(
            parts in proptest::collection::vec("/|//|[A-Za-z0-9_~-]{1,8}|\\.|\\.\\.|%2[eE]|\\?|#|@|:|;|é|\\[|\\||\\^|`|\\{", 1..10)
        ) {
            let url = format!("/{}", parts.concat());
            if is_plain_path(&url) {
                proptest::prop_assert_eq!(relative_url(&url), Some(url));
            }
        }

        /// Its converse, so the strategy above reaches the shortcut at all.
        #[test]
        fn plain_paths_are_reached(segments in proptest::collection::vec("[A-Za-z0-9_~-]{1,8}", 1..6)) {
            let url = format!("/{}", segments.join("/"));
            proptest::prop_assert!(is_plain_path(&url));
            proptest::prop_assert_eq!(relative_url(&url), Some(url));
        }

        /// The search without a copy finds what lowercasing and searching finds.
        #[test]
        fn word_search_ignores_ascii_case_only(
            parts in proptest::collection::vec("[A-Za-z_]{0,4}|TOKEN|Secret|kEy|ey|sig|SIG|Check_Key|reason|MeSsAgE|é|\\x{212A}|\\x{17F}|\\x{130}", 0..6)
        ) {
            let name = parts.concat();
            let lower = name.to_ascii_lowercase();
            let by_copy = !SAFE_NAMES.contains(&lower.as_str())
                && (lower == "sig" || SECRET_WORDS.iter().any(|w| lower.contains(w)));
            proptest::prop_assert_eq!(is_secret_like_name(&name), by_copy);
            proptest::prop_assert_eq!(
                FREE_TEXT_WORD.is_match(&name),
                FREE_TEXT_WORDS.iter().any(|w| lower.contains(w))
            );
        }
    }

    const JWT_SAMPLE: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";

    #[test]
    fn redaction_table() {
        let table = [
            (format!("token {JWT_SAMPLE} expired"), "token [REDACTED] expired".to_owned()),
            ("Authorization: Bearer abc.def-ghi".to_owned(), "Authorization=[REDACTED]".to_owned()),
            ("sent Bearer abc123 to graph".to_owned(), "sent [REDACTED] to graph".to_owned()),
            ("Basic dXNlcjpwYXNz".to_owned(), "[REDACTED]".to_owned()),
            ("basic checks passed".to_owned(), "basic checks passed".to_owned()),
            ("password=[REDACTED]}".to_owned(), "password=[REDACTED]}".to_owned()),
            ("client_secret=hunter2&x=1".to_owned(), "client_secret=[REDACTED]&x=1".to_owned()),
            (r#"{"client_secret":"hunter2"}"#.to_owned(), r#"{"client_secret=[REDACTED]}"#.to_owned()),
            ("password: s3cr3t ok".to_owned(), "password=[REDACTED] ok".to_owned()),
            // A key whose value names the secret: the chain goes, not only its first link
            // (found by `sanitizer_never_lets_a_secret_through`).
            (r#"key: "client_secret": "A0aaAaaA" "#.to_owned(), "key=[REDACTED] ".to_owned()),
            ("token=a=b9XyZ ok".to_owned(), "token=[REDACTED] ok".to_owned()),
            (
                "blob Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ubw== end".to_owned(),
                "blob [REDACTED] end".to_owned(),
            ),
            ("secret A1b~C2d.E3f_G4h-I5j~K6l.M7n_O8p-Q9r~S0t end".to_owned(), "secret [REDACTED] end".to_owned()),
            ("line\nbreak\u{0}".to_owned(), "line break ".to_owned()),
        ];
        for (input, expected) in table {
            assert_eq!(sanitize_text(&input, 500), expected, "{input}");
        }
    }

    #[test]
    fn safe_pointers_survive() {
        let safe = [
            "Graph answered 403 for request 6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f",
            "fingerprint 7f019947e0e90264e9b4f196d9ede0c7d5a9cde543b188c77dc9c952f14051f4",
            "missing DeviceManagementConfiguration.Read.All",
            "check ext.provider_connection.prerequisite_failed",
            "AADSTS7000215: Invalid client secret provided.",
            "GET graph.microsoft.com/v1.0/deviceManagement/deviceConfigurations answered 503",
            "permissions.intune_rbac_assignments: 3 roles",
        ];
        for text in safe {
            assert_eq!(sanitize_text(text, 500), text);
        }
    }

    #[test]
    fn truncation_is_bounded_and_idempotent() {
        let long = "a ".repeat(400);
        let once = sanitize_text(&long, 500);
        assert_eq!(once.chars().count(), 500);
        assert_eq!(sanitize_text(&once, 500), once);
        let tricky = format!("{}password=x", "y".repeat(495));
        let once = sanitize_text(&tricky, 500);
        assert_eq!(sanitize_text(&once, 500), once);
        assert!(once.chars().count() <= 500);
    }

    #[test]
    fn secret_named_evidence_is_dropped_and_values_redacted() {
        let c = check("a", CheckStatus::Fail, false, ReasonCode::AUTHENTICATION_FAILED, Severity::High)
            .with_message(format!("got {JWT_SAMPLE}"))
            .with_evidence(Evidence::new("access_token", "x").unwrap())
            .with_evidence(Evidence::new("client_secret_hint", "x").unwrap())
            .with_evidence(Evidence::new("response_body", "x").unwrap())
            .with_evidence(Evidence::new("aadsts_code", "AADSTS7000215").unwrap())
            .with_evidence(Evidence::new("correlation_id", format!("Bearer {JWT_SAMPLE}")).unwrap())
            .with_evidence(Evidence::new("http_status", 401_i64).unwrap());
        let clean = sanitize_check(c);
        assert_eq!(clean.message, "got [REDACTED]");
        let kinds: Vec<&str> = clean.evidence.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["aadsts_code", "correlation_id", "http_status"]);
        assert_eq!(clean.evidence[1].value, EvidenceValue::Text(REDACTED.to_owned()));
        assert_eq!(sanitize_check(clean.clone()), clean);
    }

    #[test]
    fn next_step_urls_are_relative_or_https_and_stripped() {
        let keep = |url: &str| sanitize_next_step(NextStep::new("Go", url)).map(|s| s.url);
        assert_eq!(keep("/v1/runs/1"), Some("/v1/runs/1".to_owned()));
        assert_eq!(
            keep("https://login.microsoftonline.com/t/adminconsent?client_id=abc"),
            Some("https://login.microsoftonline.com/t/adminconsent?client_id=abc".to_owned())
        );
        assert_eq!(
            keep("https://user:pw@example.com/a?access_token=x&page=2#frag"),
            Some("https://example.com/a?page=2".to_owned())
        );
        assert_eq!(keep("/a?code_signature=1&sig=2&b=3"), Some("/a?b=3".to_owned()));
        for bad in [
            "http://example.com/",
            "javascript:alert(1)",
            "//evil.example/x",
            "ftp://x/",
            "",
            "relative/path",
            "https:///x",
            "/a b",
        ] {
            assert_eq!(keep(bad), None, "{bad}");
        }
        assert_eq!(sanitize_next_step(NextStep::new("  ", "/x")), None, "blank label");
    }

    #[test]
    fn metadata_drops_reasons_secrets_and_deep_values() {
        let raw = json!({
            "flow": "provider.connection.check",
            "check_key": "permissions.admin_consent",
            "ack_reason": "vendor ticket",
            "client_secret": "x",
            "access_token": "x",
            "counts": {"total": 2, "fail": 1, "deep": {"x": 1}},
            "note": "free text",
            "ids": ["a", {"b": 1}],
            "outcome": format!("Bearer {JWT_SAMPLE}")
        });
        let Value::Object(map) = raw else { unreachable!() };
        let clean = Value::Object(sanitize_metadata(map));
        assert_eq!(
            clean,
            json!({
                "flow": "provider.connection.check",
                "check_key": "permissions.admin_consent",
                "counts": {"total": 2, "fail": 1},
                "ids": ["a"],
                "outcome": "[REDACTED]"
            })
        );
    }
}
