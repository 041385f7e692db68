//! Which export format a request asks for (docs/contract.md#exports): an explicit `format` query value wins;
//! otherwise the `Accept` header is negotiated by RFC 9110 §12.5.1 (media ranges, wildcards,
//! q-values, `q=0` excludes); no `Accept` means the report itself as JSON.

use verdict_core::domain::RunId;

use crate::accept::{MediaRange, parse_accept};

/// The formats a report can be exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// The stored report itself (docs/contract.md#report-contract).
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
}

/// Why no format could be chosen. The handler maps [`NegotiationError::UnknownFormat`] to 422
/// naming the `format` field and [`NegotiationError::NotAcceptable`] to 406.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// The `format` query value is none of `json`, `sarif`, `junit`. The value is not echoed:
    /// it is caller input.
    #[error("format must be one of json, sarif, junit")]
    UnknownFormat,
    /// The `Accept` header admits none of the media types the report is served as.
    #[error("none of application/json, application/sarif+json, application/xml is acceptable")]
    NotAcceptable,
}

impl NegotiationError {
    /// The request field the error is about, for a 422's details.
    #[must_use]
    pub const fn field(self) -> &'static str {
        match self {
            Self::UnknownFormat => "format",
            Self::NotAcceptable => "accept",
        }
    }
}

impl ExportFormat {
    /// Every format, in the server's order of preference when a client likes several equally.
    pub const ALL: [Self; 3] = [Self::Json, Self::Sarif, Self::Junit];

    /// The `format` query value that selects it.
    #[must_use]
    pub const fn query_value(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Sarif => "sarif",
            Self::Junit => "junit",
        }
    }

    /// Parses a `format` query value (exact, lowercase).
    ///
    /// # Errors
    /// [`NegotiationError::UnknownFormat`] for anything but `json`, `sarif` or `junit`.
    pub fn from_query(value: &str) -> Result<Self, NegotiationError> {
        Self::ALL.into_iter().find(|f| f.query_value() == value).ok_or(NegotiationError::UnknownFormat)
    }

    /// The response's `Content-Type`.
    #[must_use]
    pub const fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Sarif => "application/sarif+json",
            Self::Junit => "application/xml; charset=utf-8",
        }
    }

    /// A file name to suggest for a download (`Content-Disposition`), e.g.
    /// `verdict-report-{run id}.sarif`. Only UUID characters and a fixed suffix: safe unquoted.
    #[must_use]
    pub fn file_name(self, run: RunId) -> String {
        let suffix = match self {
            Self::Json => "json",
            Self::Sarif => "sarif",
            Self::Junit => "junit.xml",
        };
        format!("verdict-report-{run}.{suffix}")
    }

    /// The media types (`type`, `subtype`) under which a client may ask for this format.
    const fn accepted_as(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Json => &[("application", "json")],
            Self::Sarif => &[("application", "sarif+json")],
            Self::Junit => &[("application", "xml"), ("text", "xml")],
        }
    }
}

/// Chooses the export format of a request from its `format` query value and `Accept` header.
///
/// - `format` present: it decides alone, whatever `Accept` says.
/// - `Accept` missing or blank: [`ExportFormat::Json`].
/// - Otherwise each format gets the q-value of the most specific range that matches one of its
///   media types (exact beats `type/*` beats `*/*`; among equally specific ranges the first
///   listed counts); the highest q-value wins, then the more specific match, then the order of
///   [`ExportFormat::ALL`]. Media-type parameters other than `q` do not restrict the match.
///   Malformed ranges are ignored.
///
/// # Errors
/// [`NegotiationError::UnknownFormat`] for an unknown `format`; [`NegotiationError::NotAcceptable`]
/// when `Accept` admits no format (every match has `q=0`, or nothing matches).
pub fn negotiate(format: Option<&str>, accept: Option<&str>) -> Result<ExportFormat, NegotiationError> {
    if let Some(format) = format {
        return ExportFormat::from_query(format);
    }
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(ExportFormat::Json);
    };
    let ranges = parse_accept(accept);
    ExportFormat::ALL
        .into_iter()
        .enumerate()
        .filter_map(|(order, format)| {
            let (quality, specificity) = preference(&ranges, format)?;
            (quality > 0).then_some(((quality, specificity, std::cmp::Reverse(order)), format))
        })
        .max_by_key(|(rank, _)| *rank)
        .map(|(_, format)| format)
        .ok_or(NegotiationError::NotAcceptable)
}

/// The (q-value in thousandths, specificity) a format gets, or `None` when no range matches it.
fn preference(ranges: &[MediaRange<'_>], format: ExportFormat) -> Option<(u16, u8)> {
    format
        .accepted_as()
        .iter()
        .filter_map(|(kind, subtype)| {
            let mut best: Option<&MediaRange<'_>> = None;
            for range in ranges {
                let specificity = range.specificity_for(kind, subtype);
                if specificity > best.map_or(0, |b| b.specificity_for(kind, subtype)) {
                    best = Some(range);
                }
            }
            best.map(|b| (b.quality, b.specificity_for(kind, subtype)))
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExportFormat::{Json, Junit, Sarif};

    #[test]
    fn negotiation_table() {
        let not_acceptable = Err(NegotiationError::NotAcceptable);
        let unknown = Err(NegotiationError::UnknownFormat);
        type Row<'a> = (Option<&'a str>, Option<&'a str>, Result<ExportFormat, NegotiationError>, &'a str);
        let table: &[Row<'_>] = &[
            (None, None, Ok(Json), "no Accept: the report itself"),
            (None, Some("  "), Ok(Json), "a blank Accept counts as none"),
            (Some("sarif"), Some("application/json"), Ok(Sarif), "format wins over Accept"),
            (Some("junit"), Some("application/json;q=0"), Ok(Junit), "format wins even over an exclusion"),
            (Some("json"), None, Ok(Json), "format=json"),
            (Some("xml"), None, unknown, "unknown format"),
            (Some("SARIF"), None, unknown, "format values are exact"),
            (Some(""), Some("application/sarif+json"), unknown, "an empty format is not a missing one"),
            (None, Some("application/sarif+json"), Ok(Sarif), "SARIF media type"),
            (None, Some("application/xml"), Ok(Junit), "application/xml"),
            (None, Some("text/xml"), Ok(Junit), "text/xml"),
            (None, Some("Application/SARIF+JSON"), Ok(Sarif), "types are case-insensitive"),
            (None, Some("*/*"), Ok(Json), "anything: the server's preference"),
            (None, Some("application/*"), Ok(Json), "application/*: the server's preference"),
            (None, Some("text/*"), Ok(Junit), "text/* only admits text/xml"),
            (None, Some("application/xml;q=0.5, application/sarif+json;q=0.8"), Ok(Sarif), "higher q wins"),
            (None, Some("application/json;q=0.1, application/xml"), Ok(Junit), "q defaults to 1"),
            (None, Some("application/json;q=0, */*"), Ok(Sarif), "q=0 excludes despite */*"),
            (None, Some("application/json;q=0, application/*;q=0.3"), Ok(Sarif), "the most specific range counts"),
            (None, Some("application/xml;q=0.9, */*;q=0.8"), Ok(Junit), "a browser's Accept"),
            (None, Some("application/xml, */*"), Ok(Junit), "exact beats wildcard at equal q"),
            (None, Some("application/sarif+json, application/xml"), Ok(Sarif), "equal: server order"),
            (None, Some("text/html"), not_acceptable, "nothing matches"),
            (None, Some("application/json;q=0"), not_acceptable, "the only match is excluded"),
            (None, Some("*/*;q=0"), not_acceptable, "everything excluded"),
            (None, Some("garbage"), not_acceptable, "malformed only"),
            (None, Some("garbage, application/xml"), Ok(Junit), "malformed ranges are skipped"),
            (None, Some("application/json;q=2, text/xml"), Ok(Junit), "an invalid q-value drops its range"),
            (None, Some("application/json;foo=\"a,b;q=0\";q=0.5, text/xml;q=0.4"), Ok(Json), "quoted parameters"),
            (None, Some("application/json; Q=0"), not_acceptable, "the q parameter name is case-insensitive"),
            (None, Some("application/xml;charset=utf-8"), Ok(Junit), "media-type parameters do not restrict"),
            (None, Some("application/json;q=0.5, application/json;q=0"), Ok(Json), "first of equals counts"),
            (None, Some(",, application/sarif+json ,"), Ok(Sarif), "empty list elements are allowed"),
        ];
        for (format, accept, expected, rule) in table {
            assert_eq!(negotiate(*format, *accept), *expected, "{rule}: format={format:?} accept={accept:?}");
        }
    }

    #[test]
    fn media_types_and_file_names() {
        let run = RunId::generate();
        assert_eq!(Json.media_type(), "application/json");
        assert_eq!(Sarif.media_type(), "application/sarif+json");
        assert_eq!(Junit.media_type(), "application/xml; charset=utf-8");
        assert_eq!(Sarif.file_name(run), format!("verdict-report-{run}.sarif"));
        assert_eq!(Junit.file_name(run), format!("verdict-report-{run}.junit.xml"));
        assert_eq!(Json.file_name(run), format!("verdict-report-{run}.json"));
        for format in ExportFormat::ALL {
            assert_eq!(ExportFormat::from_query(format.query_value()), Ok(format));
        }
        assert_eq!(NegotiationError::UnknownFormat.field(), "format");
    }
}
