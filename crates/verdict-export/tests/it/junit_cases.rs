//! The JUnit XML export, parsed back by an independent XML parser (roxmltree): well-formed
//! whatever the text, counts equal to the report's, and the docs/contract.md#exports mapping case by case.

use verdict_core::domain::{CheckStatus, Report};
use verdict_export::{ExportInput, junit, xml_safe};

use crate::scenarios::{self, HOSTILE, hostile};

/// One `<testcase>` as a CI viewer reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Case {
    Passed,
    Warned { out: String },
    Failed { kind: String, message: String, text: String },
    Skipped { message: String },
}

/// A parsed JUnit document: suite totals and the cases by name.
#[derive(Debug)]
pub struct Parsed {
    pub tests: usize,
    pub failures: usize,
    pub skipped: usize,
    pub cases: Vec<(String, Case)>,
}

fn attr(node: roxmltree::Node<'_, '_>, name: &str) -> String {
    node.attribute(name).unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name())).to_owned()
}

fn count(node: roxmltree::Node<'_, '_>, name: &str) -> usize {
    attr(node, name).parse().unwrap()
}

/// Parses `xml` strictly and checks it has the shape docs/contract.md#exports describes.
pub fn parse(xml: &str, flow: &str) -> Parsed {
    let document = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{xml}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(roxmltree::Node::is_element).collect();
    assert_eq!(suites.len(), 1, "one testsuite");
    let suite = suites[0];
    assert_eq!(suite.tag_name().name(), "testsuite");
    assert_eq!(attr(suite, "name"), flow);
    assert_eq!(attr(suite, "errors"), "0");
    for total in ["tests", "failures", "skipped", "errors"] {
        assert_eq!(attr(root, total), attr(suite, total), "testsuites repeats the suite's {total}");
    }
    let mut cases = Vec::new();
    for case in suite.children().filter(roxmltree::Node::is_element) {
        assert_eq!(case.tag_name().name(), "testcase");
        assert_eq!(attr(case, "classname"), flow);
        let children: Vec<_> = case.children().filter(roxmltree::Node::is_element).collect();
        assert!(children.len() <= 1, "at most one child per case");
        let parsed = match children.first() {
            None => Case::Passed,
            Some(child) => match child.tag_name().name() {
                "failure" => Case::Failed {
                    kind: attr(*child, "type"),
                    message: attr(*child, "message"),
                    text: child.text().unwrap_or_default().to_owned(),
                },
                "skipped" => Case::Skipped { message: attr(*child, "message") },
                "system-out" => Case::Warned { out: child.text().unwrap_or_default().to_owned() },
                other => panic!("unexpected <{other}>"),
            },
        };
        cases.push((attr(case, "name"), parsed));
    }
    Parsed { tests: count(suite, "tests"), failures: count(suite, "failures"), skipped: count(suite, "skipped"), cases }
}

/// The parsed document agrees with the report: totals from the summary, totals from the
/// elements, and one case per check in report order with the status's element.
pub fn assert_matches_report(parsed: &Parsed, report: &Report) {
    let counts = report.summary().counts;
    let as_usize = |n: u32| usize::try_from(n).unwrap();
    assert_eq!(parsed.tests, as_usize(counts.total));
    assert_eq!(parsed.failures, as_usize(counts.fail));
    assert_eq!(parsed.skipped, as_usize(counts.skip + counts.running));
    let failed = parsed.cases.iter().filter(|(_, c)| matches!(c, Case::Failed { .. })).count();
    let skipped = parsed.cases.iter().filter(|(_, c)| matches!(c, Case::Skipped { .. })).count();
    assert_eq!((parsed.cases.len(), failed, skipped), (parsed.tests, parsed.failures, parsed.skipped));
    for ((name, case), check) in parsed.cases.iter().zip(report.checks()) {
        assert_eq!(name, check.key.as_str());
        let expected = match check.status {
            CheckStatus::Pass => matches!(case, Case::Passed),
            CheckStatus::Warn => matches!(case, Case::Warned { out } if out.starts_with("warn: ")),
            CheckStatus::Fail => matches!(case, Case::Failed { kind, .. } if kind == check.reason_code.as_str()),
            CheckStatus::Skip => matches!(case, Case::Skipped { .. }),
            CheckStatus::Running => matches!(case, Case::Skipped { message } if message == "still running"),
        };
        assert!(expected, "{name}: {:?} exported as {case:?}", check.status);
    }
}

fn export(input: &ExportInput<'_>) -> Parsed {
    parse(&junit(input).unwrap(), input.report().flow().as_str())
}

#[test]
fn every_scenario_parses_back_with_the_reports_counts() {
    for scenario in scenarios::all() {
        let parsed = export(&scenario.input());
        assert_matches_report(&parsed, &scenario.current.report);
    }
}

#[test]
fn hostile_text_is_escaped_and_forbidden_characters_are_removed() {
    let scenario = hostile();
    let xml = junit(&scenario.input()).unwrap();
    assert!(!xml.contains("]]>"), "no raw CDATA terminator");
    assert!(!xml.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')), "no control characters");
    assert!(!xml.contains(['\u{fffe}', '\u{ffff}']), "no non-characters");
    let parsed = parse(&xml, "provider.connection.check");
    assert_matches_report(&parsed, &scenario.current.report);

    // The stored message: core's sanitizer already turned control characters into spaces;
    // U+FFFE/U+FFFF survive it and only the XML writer's cleaning removes them.
    let stored = &scenario.current.report.checks()[0].message;
    assert!(stored.contains('\u{fffe}') && stored.starts_with("a <b> & c ]]> \"d\" 'e'"), "{stored:?}");
    let expected = xml_safe(stored).into_owned();
    assert_eq!(expected, "a <b> & c ]]> \"d\" 'e'  f g hi ✓");
    let Case::Failed { message, text, .. } = &parsed.cases[0].1 else { panic!("{:?}", parsed.cases[0]) };
    assert_eq!(message, &expected, "the attribute round-trips exactly");
    assert!(text.contains("title: Title <x> & \"y\" 'z' ]]>"), "{text}");
    assert!(text.contains(&format!("  detail={expected}")), "evidence value round-trips: {text}");
    assert_eq!(parsed.cases[1].1, Case::Warned { out: format!("warn: {expected}") });
    assert_eq!(parsed.cases[2].1, Case::Skipped { message: expected.clone() });
    assert_eq!(parsed.cases[3].1, Case::Passed);
    assert!(HOSTILE.contains('\u{1}'), "the fixture really is hostile");
}

#[test]
fn failures_say_blocker_and_list_reason_severity_and_evidence() {
    let scenario = scenarios::acknowledged();
    let parsed = export(&scenario.input());
    let case = |key: &str| &parsed.cases.iter().find(|(n, _)| n == key).unwrap().1;
    let Case::Failed { kind, message, text } = case("b.blocker") else { panic!() };
    assert_eq!(kind, "permission_denied");
    assert_eq!(message, "Permission DeviceManagementApps.Read.All is not granted.");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "blocker: this failure blocks the verification",
            "title: Check b.blocker",
            "reason: permission_denied",
            "severity: critical",
            "message: Permission DeviceManagementApps.Read.All is not granted.",
            "evidence:",
            "  permission=DeviceManagementApps.Read.All",
            "  http_status=403",
        ]
    );
    let Case::Failed { text, message, .. } = case("e.fail-unknown") else { panic!() };
    assert!(text.starts_with("failure: this failure does not block"), "{text}");
    assert!(text.contains("severity: unknown"), "{text}");
    assert_eq!(message, "Odd.");
    let Case::Failed { message, .. } = case("d.fail-low") else { panic!() };
    assert_eq!(message, "Check d.fail-low", "an empty message falls back to the title");
    assert_eq!(case("g.skip"), &Case::Skipped { message: "Skipped.".to_owned() });
    assert_eq!(case("f.warn"), &Case::Warned { out: "warn: Looks off.".to_owned() });
    assert_eq!(case("a.pass"), &Case::Passed);
}

#[test]
fn the_suite_timestamp_is_the_runs_start_in_utc() {
    let scenario = scenarios::acknowledged();
    let xml = junit(&scenario.input()).unwrap();
    let document = roxmltree::Document::parse(&xml).unwrap();
    let suite = document.descendants().find(|n| n.has_tag_name("testsuite")).unwrap();
    let started = scenario.current.run.started_at.unwrap();
    assert_eq!(suite.attribute("timestamp"), Some(started.format("%Y-%m-%dT%H:%M:%S").to_string().as_str()));
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
}
