//! A parser for the `Accept` header (RFC 9110 §12.5.1): media ranges with parameters, quoted
//! strings, and q-values. Lenient the way servers must be: a malformed range is skipped, never
//! an error of the whole header.

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaRange<'a> {
    kind: &'a str,
    subtype: &'a str,
    /// The q-value in thousandths, 0..=1000.
    pub(crate) quality: u16,
}

impl MediaRange<'_> {
    /// How specifically this range matches `kind/subtype`: 3 exactly, 2 as `kind/*`, 1 as `*/*`,
    /// 0 not at all.
    pub(crate) fn specificity_for(&self, kind: &str, subtype: &str) -> u8 {
        match (self.kind, self.subtype) {
            ("*", "*") => 1,
            (k, "*") if k.eq_ignore_ascii_case(kind) => 2,
            (k, s) if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) => 3,
            _ => 0,
        }
    }
}

/// The well-formed media ranges of an `Accept` header, in the order given.
pub(crate) fn parse_accept(header: &str) -> Vec<MediaRange<'_>> {
    split_unquoted(header, ',').into_iter().filter_map(parse_range).collect()
}

fn parse_range(element: &str) -> Option<MediaRange<'_>> {
    let mut parts = split_unquoted(element, ';').into_iter();
    let (kind, subtype) = parts.next()?.trim().split_once('/')?;
    if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
        return None;
    }
    let mut quality = 1000;
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        if !is_token(name) {
            return None;
        }
        if name.eq_ignore_ascii_case("q") {
            quality = parse_qvalue(value)?;
            // Anything after q is an extension parameter (RFC 7231's accept-ext): ignored.
            break;
        }
    }
    Some(MediaRange { kind, subtype, quality })
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// RFC 9110 `token`: one or more tchars.
fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Splits on `separator` outside double-quoted strings (with backslash escapes), trimming
/// nothing and dropping empty elements (lists may contain them).
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.retain(|p| !p.trim().is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues_follow_the_grammar() {
        for (text, expected) in [
            ("1", Some(1000)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.001", Some(1)),
            ("1.001", None),
            ("0.0001", None),
            ("2", None),
            ("-0", None),
            ("0.a", None),
            ("", None),
            (".5", None),
        ] {
            assert_eq!(parse_qvalue(text), expected, "{text:?}");
        }
    }

    #[test]
    fn ranges_are_parsed_with_parameters_and_quotes() {
        let ranges = parse_accept(r#"text/xml; level="a;b,c\"q=0"; q=0.3, */*;q=0, image/png"#);
        let parsed: Vec<(&str, &str, u16)> = ranges.iter().map(|r| (r.kind, r.subtype, r.quality)).collect();
        assert_eq!(parsed, [("text", "xml", 300), ("*", "*", 0), ("image", "png", 1000)]);
    }

    #[test]
    fn malformed_ranges_are_skipped() {
        for bad in ["xml", "*/xml", "/json", "application/", "a b/c", "text/xml;q", "text/xml;=1", "text/xml;q=x"] {
            assert_eq!(parse_accept(bad), [], "{bad:?}");
        }
    }

    #[test]
    fn specificity_ranks_exact_over_type_wildcard_over_any() {
        let [exact, by_type, any] = [("application", "json"), ("application", "*"), ("*", "*")]
            .map(|(kind, subtype)| MediaRange { kind, subtype, quality: 1000 });
        assert_eq!(exact.specificity_for("application", "json"), 3);
        assert_eq!(by_type.specificity_for("application", "json"), 2);
        assert_eq!(any.specificity_for("application", "json"), 1);
        assert_eq!(exact.specificity_for("application", "xml"), 0);
        assert_eq!(by_type.specificity_for("text", "xml"), 0);
    }
}
