//! The JUnit XML export of a report (docs/contract.md#exports), as GitLab, Jenkins and Azure DevOps read it: one
//! `<testsuite>` for the flow, one `<testcase>` per check. Written with quick-xml, which escapes
//! every attribute and text; characters XML 1.0 cannot carry are removed first.

use std::borrow::Cow;
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use verdict_core::domain::{CheckResult, CheckStatus, EvidenceValue};

use crate::input::{ExportError, ExportInput};

/// The `message` of a `running` check's `<skipped>`.
pub const STILL_RUNNING: &str = "still running";

/// The JUnit XML document of a report.
///
/// Mapping (docs/contract.md#exports): `fail` → `<failure type="{reason_code}" message="{message}">` whose text
/// says whether it is a blocker and lists title, reason, severity, message and the evidence as
/// `kind=value` lines; `skip` → `<skipped message="{message}"/>`; `warn` → a passing case with
/// `<system-out>warn: {message}</system-out>`; `pass` → an empty case. A `running` check (live
/// reports only; the spec does not map it) becomes `<skipped message="still running"/>`: it has
/// no verdict yet, and CI viewers show skipped cases as neither passed nor failed. So
/// `skipped` = the report's `skip` + `running` counts and `failures` = its `fail` count; `errors`
/// is always 0 (a check that crashed is a `fail` with its own reason code). The `<testsuites>`
/// wrapper carries the same totals. `timestamp` is the run's `started_at` (else the report's
/// `generated_at`) in UTC, written without a zone as the JUnit schema's `timestamp` expects.
///
/// # Errors
/// [`ExportError::Write`] if the XML writer fails (it does not on an in-memory buffer).
pub fn junit(input: &ExportInput<'_>) -> Result<String, ExportError> {
    let bytes = write_document(input).map_err(|e| ExportError::Write { format: "junit", reason: e.to_string() })?;
    String::from_utf8(bytes).map_err(|e| ExportError::Write { format: "junit", reason: e.to_string() })
}

fn write_document(input: &ExportInput<'_>) -> io::Result<Vec<u8>> {
    let report = input.report();
    let counts = report.summary().counts;
    let flow = report.flow().as_str();
    let tests = counts.total.to_string();
    let failures = counts.fail.to_string();
    let skipped = (counts.skip + counts.running).to_string();
    let started = input.run().started_at.unwrap_or_else(|| report.generated_at());
    let timestamp = started.format("%Y-%m-%dT%H:%M:%S").to_string();

    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element("testsuites")
        .with_attributes([
            ("name", "Verdict"),
            ("tests", tests.as_str()),
            ("failures", failures.as_str()),
            ("skipped", skipped.as_str()),
            ("errors", "0"),
        ])
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes([
                    ("name", flow),
                    ("tests", tests.as_str()),
                    ("failures", failures.as_str()),
                    ("skipped", skipped.as_str()),
                    ("errors", "0"),
                    ("timestamp", timestamp.as_str()),
                ])
                .write_inner_content(|w| report.checks().iter().try_for_each(|check| testcase(w, flow, check)))?;
            Ok(())
        })?;
    Ok(writer.into_inner())
}

fn testcase(w: &mut Writer<Vec<u8>>, flow: &str, check: &CheckResult) -> io::Result<()> {
    let case = w.create_element("testcase").with_attributes([("classname", flow), ("name", check.key.as_str())]);
    let message = xml_safe(text_of(check));
    match check.status {
        CheckStatus::Pass => {
            case.write_empty()?;
        }
        CheckStatus::Fail => {
            case.write_inner_content(|w| {
                w.create_element("failure")
                    .with_attributes([("type", check.reason_code.as_str()), ("message", &message)])
                    .write_text_content(BytesText::new(&failure_text(check)))?;
                Ok(())
            })?;
        }
        CheckStatus::Warn => {
            case.write_inner_content(|w| {
                w.create_element("system-out").write_text_content(BytesText::new(&format!("warn: {message}")))?;
                Ok(())
            })?;
        }
        CheckStatus::Skip | CheckStatus::Running => {
            let why = if check.status == CheckStatus::Running { Cow::Borrowed(STILL_RUNNING) } else { message };
            case.write_inner_content(|w| {
                w.create_element("skipped").with_attribute(("message", why.as_ref())).write_empty()?;
                Ok(())
            })?;
        }
    }
    Ok(())
}

/// The check's message, or its title when the message is empty.
fn text_of(check: &CheckResult) -> &str {
    if check.message.trim().is_empty() { check.title.as_str() } else { check.message.as_str() }
}

/// The body of a `<failure>`: blocker or not, then title, reason, severity, message and evidence.
fn failure_text(check: &CheckResult) -> String {
    let mut lines = vec![
        if check.blocking {
            "blocker: this failure blocks the verification".to_owned()
        } else {
            "failure: this failure does not block the verification".to_owned()
        },
        format!("title: {}", check.title.as_str()),
        format!("reason: {}", check.reason_code),
        format!("severity: {}", if check.severity.as_str().is_empty() { "unknown" } else { check.severity.as_str() }),
        format!("message: {}", check.message),
    ];
    if !check.evidence.is_empty() {
        lines.push("evidence:".to_owned());
        lines.extend(check.evidence.iter().map(|e| {
            let value = match &e.value {
                EvidenceValue::Bool(b) => b.to_string(),
                EvidenceValue::Int(i) => i.to_string(),
                EvidenceValue::Text(t) => t.clone(),
            };
            format!("  {}={value}", e.kind.as_str())
        }));
    }
    xml_safe(&lines.join("\n")).into_owned()
}

/// Removes what an XML 1.0 document cannot carry — control characters other than tab, line feed
/// and carriage return (C0, DEL and C1 alike), and U+FFFE/U+FFFF. Lone surrogates cannot occur in
/// a Rust string. Markup characters stay: the writer escapes them.
#[must_use]
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    let forbidden =
        |c: char| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}');
    if text.chars().any(forbidden) {
        Cow::Owned(text.chars().filter(|c| !forbidden(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_safe_removes_what_xml_forbids_and_keeps_the_rest() {
        let hostile = "a\u{0}b\u{1}c\u{b}d\u{c}e\u{1f}f\u{7f}g\u{85}h\u{9f}i\u{fffe}j\u{ffff}k";
        assert_eq!(xml_safe(hostile), "abcdefghijk");
        assert_eq!(xml_safe("tab\tlf\ncr\r<&>]]>\"'\u{fffd}\u{10ffff}"), "tab\tlf\ncr\r<&>]]>\"'\u{fffd}\u{10ffff}");
        assert!(matches!(xml_safe("plain"), Cow::Borrowed(_)), "no copy when nothing is removed");
    }
}
