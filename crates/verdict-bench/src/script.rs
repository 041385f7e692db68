//! pgbench scripts made from what the server sent for two requests of one scenario
//! (docs/benchmarks.md, "Same SQL"): the same statements in the same transactions, each
//! parameter bound as pgbench variables or computed in SQL where it must differ per transaction.
//!
//! A parameter is replayed by the first rule that fits it:
//! 1. a benchmark input (what the driver chose per request, e.g. the workspace): its generator
//!    (a pgbench `\set` expression or an SQL expression), or the first request's value when it
//!    has none;
//! 2. a value an earlier statement of the request returned (one row in both requests), or that
//!    value plus one (the audit chain's head `seq` and `hash`): that row, kept with `\gset`; or an
//!    earlier parameter plus one (the next `seq` under the same head);
//! 3. equal in both requests: a constant (`-D`);
//! 4. a fresh value of its type: a random UUID or 64-hex digest (one per distinct value), `now()`;
//! 5. otherwise the first request's value, and the script says so in its notes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{Read as _, Seek as _};
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::value::{Value, type_name};
use crate::wire::Event;

/// A value the driver chose for one request.
#[derive(Debug, Clone)]
pub struct Input {
    /// The variable name (`in_<name>` in the script).
    pub name: &'static str,
    /// The value the driver sent in this request.
    pub value: String,
    /// How pgbench draws it per transaction; `None` replays the first request's value.
    pub generator: Option<Generator>,
}

/// How pgbench draws an input per transaction.
#[derive(Debug, Clone)]
pub enum Generator {
    /// A pgbench `\set` expression (integers), bound as the variable `in_<name>`.
    Set(String),
    /// An SQL expression written in place of the parameter.
    Sql(String),
}

/// What the server sent for one request, and the inputs the driver chose for it.
#[derive(Debug, Clone)]
pub struct Capture {
    /// The statements, in order.
    pub events: Vec<Event>,
    /// The driver's inputs.
    pub inputs: Vec<Input>,
}

/// A pgbench script and the constants it binds.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The script's text.
    pub text: String,
    /// `-D name=value` constants.
    pub defines: Vec<(String, String)>,
    /// Parameters replayed by rule 5.
    pub notes: Vec<String>,
    /// Statements per transaction (what the server sent per request).
    pub statements: usize,
}

/// Builds the script replaying both captures.
///
/// # Errors
/// When the two requests sent different statements, or a parameter's type is unknown.
pub fn script(first: &Capture, second: &Capture) -> Result<Script> {
    if first.events.len() != second.events.len() {
        let list = |c: &Capture| c.events.iter().map(Event::summary).collect::<Vec<_>>().join("\n  ");
        bail!(
            "the two requests sent {} and {} statements:\n  {}\nand\n  {}",
            first.events.len(),
            second.events.len(),
            list(first),
            list(second)
        );
    }
    let mut out = Script { statements: first.events.len(), ..Script::default() };
    let mut state = State::default();
    let mut lines = Vec::new();
    for input in &first.inputs {
        if let Some(Generator::Set(generator)) = &input.generator {
            let _ = writeln!(out.text, "\\set in_{} {generator}", input.name);
        }
    }
    for (index, pair) in first.events.iter().zip(&second.events).enumerate() {
        match pair {
            (Event::Simple(a), Event::Simple(b)) if a == b => lines.push(a.clone()),
            (Event::Execute { sql, params: a, .. }, Event::Execute { sql: sql_b, params: b, .. }) if sql == sql_b => {
                let mut expressions = Vec::with_capacity(a.len());
                for (k, (x, y)) in a.iter().zip(b).enumerate() {
                    let place = Place { statement: index, param: k + 1, element: None };
                    let expression = parameter(&place, x, y, first, second, &mut out, &mut state)?;
                    if let (Value::Text { text: x, .. }, Value::Text { text: y, .. }) = (x, y) {
                        state.sent.push((x.clone(), y.clone(), expression.clone()));
                    }
                    expressions.push(expression);
                }
                lines.push(substitute(sql, &expressions));
            }
            _ => bail!("statement {index} differs between the two requests: {pair:?}"),
        }
    }
    for variable in state.fresh.values() {
        let _ = writeln!(out.text, "\\set {variable} random(1, 9000000000000000000)");
    }
    for (index, line) in lines.iter().enumerate() {
        let line = line.replace('\n', " ");
        if state.gset.contains(&index) {
            let _ = writeln!(out.text, "{line} \\gset r{index}_");
        } else {
            let _ = writeln!(out.text, "{line};");
        }
    }
    Ok(out)
}

/// What the parameters of a script need besides their expressions.
#[derive(Default)]
struct State {
    /// Statements whose one row is kept with `\gset`.
    gset: BTreeSet<usize>,
    /// A random pgbench variable per varying value, by its two captured texts: a value the
    /// request sent twice (an identity hash, a run id) is one value in the replay too.
    fresh: BTreeMap<(String, String), String>,
    /// Every parameter bound so far: its two captured texts and its expression.
    sent: Vec<(String, String, String)>,
}

struct Place {
    statement: usize,
    param: usize,
    /// The element, for a parameter that is an array.
    element: Option<usize>,
}

impl Place {
    /// The parameter as the report's notes name it.
    fn describe(&self) -> String {
        match self.element {
            None => format!("${} of statement {}", self.param, self.statement),
            Some(element) => format!("${} (element {element}) of statement {}", self.param, self.statement),
        }
    }

    /// A name for the parameter's constant, unique within the script.
    fn name(&self) -> String {
        match self.element {
            None => format!("p{}_{}", self.statement, self.param),
            Some(element) => format!("p{}_{}_{element}", self.statement, self.param),
        }
    }
}

/// The element type of an array type the decoder knows.
fn element_oid(oid: u32) -> Option<u32> {
    Some(match oid {
        1000 => 16,
        1005 => 21,
        1007 => 23,
        1009 => 25,
        1016 => 20,
        1185 => 1184,
        2951 => 2950,
        _ => return None,
    })
}

/// The elements of an array in the text form `value::decode` writes (`{"a",NULL}`); `None`
/// for NULL.
fn elements(text: &str) -> Result<Vec<Option<String>>> {
    let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).context("not an array")?;
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    while chars.peek().is_some() {
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut item = String::new();
            loop {
                match chars.next().context("an unterminated array element")? {
                    '\\' => item.push(chars.next().context("a dangling escape")?),
                    '"' => break,
                    c => item.push(c),
                }
            }
            items.push(Some(item));
        } else {
            let item: String = chars.by_ref().take_while(|c| *c != ',').collect();
            if item != "NULL" {
                bail!("an unquoted array element {item:?}");
            }
            items.push(None);
            continue;
        }
        match chars.next() {
            None | Some(',') => {}
            Some(c) => bail!("{c:?} after an array element"),
        }
    }
    Ok(items)
}

/// An array parameter replayed element by element: each element follows the rules of a
/// parameter of its own (a fresh id, the chain head's `seq` plus one, the hash the previous
/// element sent), so that a statement writing several rows at once replays like one per row.
fn array_parameter(
    place: &Place,
    (oid, element): (u32, u32),
    (x, y): (&str, &str),
    (first, second): (&Capture, &Capture),
    out: &mut Script,
    state: &mut State,
) -> Result<Option<String>> {
    let (xs, ys) = (elements(x)?, elements(y)?);
    if xs.len() != ys.len() {
        return Ok(None);
    }
    let value = |item: &Option<String>| match item {
        Some(text) => Value::Text { oid: element, text: text.clone() },
        None => Value::Null,
    };
    let mut expressions = Vec::with_capacity(xs.len());
    for (i, (xi, yi)) in xs.iter().zip(&ys).enumerate() {
        let place = Place { element: Some(i + 1), ..*place };
        let expression = parameter(&place, &value(xi), &value(yi), first, second, out, state)?;
        if let (Some(xi), Some(yi)) = (xi, yi) {
            state.sent.push((xi.clone(), yi.clone(), expression.clone()));
        }
        expressions.push(expression);
    }
    Ok(Some(cast(&format!("ARRAY[{}]", expressions.join(", ")), oid)?))
}

fn cast(expression: &str, oid: u32) -> Result<String> {
    if oid == 0 {
        return Ok(expression.to_owned());
    }
    let name = type_name(oid).with_context(|| format!("no SQL name for type OID {oid}"))?;
    Ok(format!("CAST({expression} AS {name})"))
}

fn parameter(
    place: &Place,
    a: &Value,
    b: &Value,
    first: &Capture,
    second: &Capture,
    out: &mut Script,
    state: &mut State,
) -> Result<String> {
    let (oid, a_text) = match a {
        Value::Null if b == &Value::Null => return Ok("NULL".to_owned()),
        Value::Null => (0, None),
        Value::Text { oid, text } => (*oid, Some(text.as_str())),
        Value::Opaque { oid } => bail!("{} has type OID {oid}, which verdict-bench cannot decode", place.describe()),
    };
    let b_text = match b {
        Value::Text { text, .. } => Some(text.as_str()),
        Value::Null | Value::Opaque { .. } => None,
    };
    if let (Some(element), Some(x), Some(y)) = (element_oid(oid), a_text, b_text)
        && let Some(expression) = array_parameter(place, (oid, element), (x, y), (first, second), out, state)?
    {
        return Ok(expression);
    }
    let constant = |out: &mut Script| -> Result<String> {
        let Some(text) = a_text else { return Ok("NULL".to_owned()) };
        let name = place.name();
        out.defines.push((name.clone(), text.to_owned()));
        cast(&format!(":{name}"), oid)
    };
    let (Some(x), Some(y)) = (a_text, b_text) else {
        out.notes.push(format!("{} is NULL in one request only", place.describe()));
        return constant(out);
    };
    // Rule 1: an input of the driver.
    for input in &first.inputs {
        let matches_second = second.inputs.iter().any(|i| i.name == input.name && i.value == y);
        if input.value == x && matches_second {
            return match &input.generator {
                Some(Generator::Set(_)) => cast(&format!(":in_{}", input.name), oid),
                Some(Generator::Sql(expression)) => Ok(expression.clone()),
                None => constant(out),
            };
        }
    }
    // Rule 2: a value an earlier statement returned, else that value plus one; the nearest
    // statement first (the audit chain head just locked, not the run inserted before it).
    for plus_one in [false, true] {
        let earlier = first.events.iter().zip(&second.events).enumerate().take(place.statement).rev();
        for (index, (ea, eb)) in earlier {
            let (Event::Execute { rows: ra, .. }, Event::Execute { rows: rb, .. }) = (ea, eb) else { continue };
            let ([row_a], [row_b]) = (ra.as_slice(), rb.as_slice()) else { continue };
            for ((name, va), (_, vb)) in row_a.iter().zip(row_b) {
                let (Value::Text { text: ta, oid: column_oid }, Value::Text { text: tb, .. }) = (va, vb) else {
                    continue;
                };
                let variable = format!(":r{index}_{name}");
                if !plus_one && ta == x && tb == y {
                    state.gset.insert(index);
                    return cast(&variable, oid);
                }
                let next = |t: &str, v: &str| {
                    t.parse::<i64>().ok().zip(v.parse::<i64>().ok()).is_some_and(|(t, v)| t + 1 == v)
                };
                if plus_one && next(ta, x) && next(tb, y) {
                    state.gset.insert(index);
                    return Ok(format!("({} + 1)", cast(&variable, *column_oid)?));
                }
            }
        }
    }
    // Still rule 2: a value an earlier parameter sent plus one (the second event appended under
    // one chain-head lock follows the first).
    let next = |t: &str, v: &str| t.parse::<i64>().ok().zip(v.parse::<i64>().ok()).is_some_and(|(t, v)| t + 1 == v);
    if let Some((.., expression)) = state.sent.iter().rev().find(|(ta, tb, _)| next(ta, x) && next(tb, y)) {
        return Ok(format!("({expression} + 1)"));
    }
    if a == b {
        return constant(out);
    }
    // Rule 4: a fresh value of its type. Made from a random integer variable, not `random()`
    // or `gen_random_uuid()` in the statement: a volatile function in a condition would make
    // PostgreSQL scan instead of using the index the server's statement uses.
    let mut variable = || {
        let next = format!("f{}", state.fresh.len());
        state.fresh.entry((x.to_owned(), y.to_owned())).or_insert(next).clone()
    };
    match oid {
        2950 => return Ok(format!("CAST(lpad(to_hex(CAST(:{} AS bigint)), 32, '0') AS uuid)", variable())),
        25 | 1043 if is_digest(x) && is_digest(y) => {
            // Right-padded: the leading digits vary, as a digest's do (an advisory lock keys on them).
            return Ok(format!("rpad(to_hex(CAST(:{} AS bigint)), 64, '0')", variable()));
        }
        1184 => return Ok("now()".to_owned()),
        1114 => return Ok("localtimestamp".to_owned()),
        _ => {}
    }
    out.notes
        .push(format!("{} varies between requests and is replayed as the first request's value", place.describe()));
    constant(out)
}

fn is_digest(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Replaces the `$n` placeholders outside string literals with `expressions[n - 1]`.
fn substitute(sql: &str, expressions: &[String]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            let expression = digits.parse::<usize>().ok().and_then(|n| expressions.get(n.checked_sub(1)?));
            match expression {
                Some(expression) => out.push_str(expression),
                None => {
                    out.push('$');
                    out.push_str(&digits);
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// What pgbench measured.
#[derive(Debug, Clone, Copy)]
pub struct PgbenchResult {
    /// Transactions per second, without connection time.
    pub tps: f64,
    /// pgbench's own CPU (its client threads, not the database's) per transaction, milliseconds.
    pub client_ms: Option<f64>,
}

/// Runs `script` with `clients` connections for `seconds` against `url`, prepared statements.
///
/// # Errors
/// When pgbench is missing, fails, or prints no rate.
pub fn pgbench(
    bin: &Path,
    url: &str,
    script: &Script,
    clients: usize,
    seconds: u64,
    file: &Path,
) -> Result<PgbenchResult> {
    std::fs::write(file, &script.text)?;
    let defines: String = script.defines.iter().map(|(name, value)| format!("-D {name}={value}\n")).collect();
    std::fs::write(file.with_extension("defines"), defines)?;
    let mut command = Command::new(bin);
    command.args(["-n", "-M", "prepared", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string()]);
    command.arg("-f").arg(file);
    for (name, value) in &script.defines {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    command.arg(url);
    // Output to files, so that pgbench never waits on a pipe while this thread watches it.
    let (mut stdout_file, mut stderr_file) = (tempfile::tempfile()?, tempfile::tempfile()?);
    command.stdout(stdout_file.try_clone()?).stderr(stderr_file.try_clone()?);
    let mut child = command.spawn().with_context(|| format!("could not run {}", bin.display()))?;
    let cpu_seconds = final_cpu_seconds(&child.id().to_string());
    let status = child.wait()?;
    let read = |file: &mut std::fs::File| -> Result<String> {
        let mut text = String::new();
        file.seek(std::io::SeekFrom::Start(0))?;
        file.read_to_string(&mut text)?;
        Ok(text)
    };
    let stdout = read(&mut stdout_file)?;
    if !status.success() {
        bail!("pgbench failed on {}:\n{stdout}\n{}", file.display(), read(&mut stderr_file)?);
    }
    let number = |prefix: &str| -> Option<f64> {
        let line = stdout.lines().find(|l| l.starts_with(prefix))?;
        line[prefix.len()..].split_whitespace().next()?.parse().ok()
    };
    let transactions = number("number of transactions actually processed: ");
    Ok(PgbenchResult {
        tps: number("tps = ").with_context(|| format!("pgbench printed no rate:\n{stdout}"))?,
        client_ms: cpu_seconds.zip(transactions).map(|(seconds, n)| seconds * 1000.0 / n.max(1.0)),
    })
}

/// The CPU seconds of child `pid` once it has exited: an exited child that is not yet reaped
/// keeps its final figures in `/proc`, so it is watched until then and reaped after.
fn final_cpu_seconds(pid: &str) -> Option<f64> {
    loop {
        match crate::load::process_stat(pid) {
            Some(('Z', seconds)) => return Some(seconds),
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execute(sql: &str, params: Vec<Value>, rows: Vec<Vec<(String, Value)>>) -> Event {
        Event::Execute { sql: sql.to_owned(), params, rows }
    }

    fn capture(ws: &str, head: i64, hash: &str, id: &str) -> Capture {
        let head_row =
            vec![("seq".to_owned(), Value::text(20, &head.to_string())), ("hash".to_owned(), Value::text(25, hash))];
        Capture {
            events: vec![
                Event::Simple("BEGIN".to_owned()),
                execute("SELECT seq, hash FROM heads WHERE ws = $1", vec![Value::text(20, ws)], vec![head_row]),
                execute(
                    "INSERT INTO log VALUES ($1, $2, $3, $4, 'x$1')",
                    vec![
                        Value::text(2950, id),
                        Value::text(20, &(head + 1).to_string()),
                        Value::text(25, hash),
                        Value::text(25, "same"),
                    ],
                    vec![],
                ),
                Event::Simple("COMMIT".to_owned()),
            ],
            inputs: vec![
                Input { name: "ws", value: ws.to_owned(), generator: Some(Generator::Set("random(1, 50)".to_owned())) },
                Input {
                    name: "key",
                    value: "same".to_owned(),
                    generator: Some(Generator::Sql("md5(random()::text)".to_owned())),
                },
            ],
        }
    }

    #[test]
    fn parameters_are_replayed_by_the_first_rule_that_fits() {
        let first = capture("3", 7, &"a".repeat(64), "00000000-0000-0000-0000-000000000001");
        let second = capture("9", 12, &"b".repeat(64), "00000000-0000-0000-0000-000000000002");
        let script = script(&first, &second).unwrap();
        let expected = "\\set in_ws random(1, 50)\n\\set f0 random(1, 9000000000000000000)\nBEGIN;\n\
            SELECT seq, hash FROM heads WHERE ws = CAST(:in_ws AS bigint) \\gset r1_\n\
            INSERT INTO log VALUES (CAST(lpad(to_hex(CAST(:f0 AS bigint)), 32, '0') AS uuid), (CAST(:r1_seq AS bigint) + 1), CAST(:r1_hash AS text), \
            md5(random()::text), 'x$1');\nCOMMIT;\n";
        assert_eq!(script.text, expected);
        assert!(script.defines.is_empty());
        assert!(script.notes.is_empty());
        assert_eq!(script.statements, 4);
    }

    #[test]
    fn a_second_event_under_one_head_lock_follows_the_first() {
        let two = |head: i64, hash: &str, first_hash: &str| {
            let mut capture = capture("3", head, hash, "00000000-0000-0000-0000-000000000001");
            let next = execute(
                "INSERT INTO log2 VALUES ($1, $2)",
                vec![Value::text(20, &(head + 2).to_string()), Value::text(25, first_hash)],
                vec![],
            );
            capture.events.insert(3, next);
            capture
        };
        let script = script(&two(7, &"a".repeat(64), &"c".repeat(64)), &two(12, &"b".repeat(64), &"d".repeat(64)));
        let text = script.unwrap().text;
        assert!(text.contains("INSERT INTO log2 VALUES (((CAST(:r1_seq AS bigint) + 1) + 1), "), "{text}");
    }

    #[test]
    fn an_array_parameter_replays_each_element_by_the_rules() {
        let batch = |head: i64, hash: &str, second_hash: &str, id: &str| {
            let mut capture = capture("3", head, hash, id);
            let quoted = |items: &[&str]| {
                format!("{{{}}}", items.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(","))
            };
            let seqs = [(head + 1).to_string(), (head + 2).to_string()];
            capture.events[2] = execute(
                "INSERT INTO log SELECT * FROM unnest($1, $2, $3)",
                vec![
                    Value::text(1016, &quoted(&[&seqs[0], &seqs[1]])),
                    Value::text(1009, &quoted(&[hash, second_hash])),
                    Value::text(1009, &quoted(&["same", "a \\\"b\\\""])),
                ],
                vec![],
            );
            capture
        };
        let first = batch(7, &"a".repeat(64), &"c".repeat(64), "00000000-0000-0000-0000-000000000001");
        let second = batch(12, &"b".repeat(64), &"d".repeat(64), "00000000-0000-0000-0000-000000000002");
        let script = script(&first, &second).unwrap();
        let expected = "INSERT INTO log SELECT * FROM unnest(\
            CAST(ARRAY[(CAST(:r1_seq AS bigint) + 1), ((CAST(:r1_seq AS bigint) + 1) + 1)] AS bigint[]), \
            CAST(ARRAY[CAST(:r1_hash AS text), rpad(to_hex(CAST(:f0 AS bigint)), 64, '0')] AS text[]), \
            CAST(ARRAY[md5(random()::text), CAST(:p2_3_2 AS text)] AS text[]));";
        assert!(script.text.contains(expected), "{}", script.text);
        assert_eq!(script.defines, [("p2_3_2".to_owned(), "a \"b\"".to_owned())], "the element unescaped");
        assert_eq!(elements("{\"x\",NULL,\"a\\\\b\"}").unwrap(), [Some("x".into()), None, Some("a\\b".into())]);
        assert!(elements("{x}").is_err());
    }

    #[test]
    fn requests_that_sent_different_statements_are_refused() {
        let first = capture("3", 7, "h", "00000000-0000-0000-0000-000000000001");
        let mut second = first.clone();
        second.events.pop();
        assert!(script(&first, &second).is_err());
    }
}
