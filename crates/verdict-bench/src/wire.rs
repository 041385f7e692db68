//! A PostgreSQL wire-protocol proxy that records what a server sends: the statements it executes
//! (SQL text, bound parameters decoded to their text form, the rows that came back) and the
//! simple queries between them (`BEGIN`, `COMMIT`). The benchmark points a capture server at it,
//! sends one request at a time, and turns the recording into a pgbench script
//! (docs/benchmarks.md, "Same SQL"). Bytes are forwarded unchanged; the proxy only reads along.
//!
//! The client must not ask for TLS (`sslmode=disable`): an encrypted stream cannot be read.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::value::{Column, Value, decode};

/// One thing the server did for a request, in the order the database answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An extended-protocol execution of a prepared statement.
    Execute {
        /// The statement's SQL, with `$n` placeholders.
        sql: String,
        /// The bound values, `$1` first.
        params: Vec<Value>,
        /// The rows returned: each column's name and value.
        rows: Vec<Vec<(String, Value)>>,
    },
    /// A simple query (`BEGIN`, `COMMIT`, `ROLLBACK`).
    Simple(String),
}

impl Event {
    /// The statement's first 100 characters.
    #[must_use]
    pub fn summary(&self) -> String {
        let sql = match self {
            Self::Execute { sql, .. } | Self::Simple(sql) => sql,
        };
        sql.chars().take(100).collect()
    }
}

/// The recording every proxied connection appends to while recording is on.
#[derive(Debug, Default)]
struct Recording {
    on: bool,
    /// Statements of the server's own background loops, which no request sends.
    ignored: Vec<String>,
    events: Vec<Event>,
    errors: Vec<String>,
}

/// A running proxy; connections to [`Proxy::address`] are forwarded to the upstream server.
#[derive(Debug, Clone)]
pub struct Proxy {
    address: SocketAddr,
    recording: Arc<Mutex<Recording>>,
}

impl Proxy {
    /// Listens on an ephemeral local port and forwards every connection to `upstream`; the
    /// statements that start with one of `ignored` are never recorded.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start(upstream: SocketAddr, ignored: &[&str]) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let ignored = ignored.iter().map(|&s| s.to_owned()).collect();
        let recording = Arc::new(Mutex::new(Recording { ignored, ..Recording::default() }));
        let shared = recording.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let recording = shared.clone();
                tokio::spawn(async move {
                    if let Err(error) = relay(client, upstream, recording.clone()).await {
                        eprintln!("capture proxy: {error:#}");
                        lock(&recording).errors.push(format!("{error:#}"));
                    }
                });
            }
        });
        Ok(Self { address, recording })
    }

    /// Where clients connect.
    #[must_use]
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Starts a fresh recording.
    pub fn record(&self) {
        let mut recording = lock(&self.recording);
        recording.on = true;
        recording.events.clear();
        recording.errors.clear();
    }

    /// Stops recording and returns what was recorded.
    ///
    /// # Errors
    /// When a message could not be read or a value could not be decoded.
    pub fn take(&self) -> Result<Vec<Event>> {
        let mut recording = lock(&self.recording);
        recording.on = false;
        if !recording.errors.is_empty() {
            bail!("capture proxy: {}", recording.errors.join("; "));
        }
        Ok(std::mem::take(&mut recording.events))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A prepared statement as the client declared it and the server described it.
#[derive(Debug, Default, Clone)]
struct Statement {
    sql: String,
    param_types: Vec<u32>,
    columns: Vec<Column>,
}

/// A bound portal waiting for its `Execute`.
#[derive(Debug, Clone)]
struct Portal {
    statement: Statement,
    params: Vec<Value>,
    result_formats: Vec<i16>,
}

/// What the client asked for, in order; each answer of the server consumes the front.
#[derive(Debug)]
enum Pending {
    Parse,
    Bind,
    Close,
    DescribeStatement(String),
    DescribePortal,
    Execute { portal: Portal, rows: Vec<Vec<(String, Value)>> },
    Query { sql: String, columns: Vec<Column> },
    Sync,
}

#[derive(Debug, Default)]
struct Connection {
    statements: HashMap<String, Statement>,
    portals: HashMap<String, Portal>,
    pending: VecDeque<Pending>,
}

async fn relay(client: TcpStream, upstream: SocketAddr, recording: Arc<Mutex<Recording>>) -> Result<()> {
    let server = TcpStream::connect(upstream).await.context("capture proxy: upstream unreachable")?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let connection = Arc::new(Mutex::new(Connection::default()));
    let frontend = frontend(client_read, server_write, connection.clone());
    let backend = backend(server_read, client_write, connection, recording);
    let (front, back) = tokio::join!(frontend, backend);
    front.and(back)
}

/// Reads one message: its type byte (none for the startup packet), and its body.
async fn read_message(stream: &mut OwnedReadHalf, typed: bool) -> Result<Option<(u8, Vec<u8>, Vec<u8>)>> {
    let mut header = vec![0u8; if typed { 5 } else { 4 }];
    if stream.read_exact(&mut header).await.is_err() {
        return Ok(None);
    }
    let tag = if typed { header[0] } else { 0 };
    let length_bytes: [u8; 4] = header[header.len() - 4..].try_into()?;
    let length = usize::try_from(u32::from_be_bytes(length_bytes))?.checked_sub(4).context("message length")?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(Some((tag, header, body)))
}

async fn frontend(
    mut client: OwnedReadHalf,
    mut server: OwnedWriteHalf,
    connection: Arc<Mutex<Connection>>,
) -> Result<()> {
    // The startup packet has no type byte.
    let Some((_, header, body)) = read_message(&mut client, false).await? else { return Ok(()) };
    if body.get(..4) == Some(&[0x04, 0xd2, 0x16, 0x2f]) {
        bail!("the client asked for TLS: connect through the capture proxy with sslmode=disable");
    }
    server.write_all(&header).await?;
    server.write_all(&body).await?;
    while let Some((tag, header, body)) = read_message(&mut client, true).await? {
        note_frontend(&mut lock(&connection), tag, &body)?;
        server.write_all(&header).await?;
        server.write_all(&body).await?;
    }
    Ok(())
}

async fn backend(
    mut server: OwnedReadHalf,
    mut client: OwnedWriteHalf,
    connection: Arc<Mutex<Connection>>,
    recording: Arc<Mutex<Recording>>,
) -> Result<()> {
    // Until the client's startup packet is answered, the server's messages are typed too.
    while let Some((tag, header, body)) = read_message(&mut server, true).await? {
        if let Some(event) = note_backend(&mut lock(&connection), tag, &body)? {
            let mut recording = lock(&recording);
            let sql = match &event {
                Event::Execute { sql, .. } | Event::Simple(sql) => sql,
            };
            if recording.on && !recording.ignored.iter().any(|prefix| sql.starts_with(prefix.as_str())) {
                recording.events.push(event);
            }
        }
        client.write_all(&header).await?;
        client.write_all(&body).await?;
    }
    Ok(())
}

/// A cursor over a message body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            bail!("truncated message");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.take(2)?.try_into()?))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take(4)?.try_into()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into()?))
    }
    fn cstr(&mut self) -> Result<String> {
        let end = self.0.iter().position(|&b| b == 0).context("unterminated string")?;
        let text = String::from_utf8(self.0[..end].to_vec())?;
        self.0 = &self.0[end + 1..];
        Ok(text)
    }
    fn count(&mut self) -> Result<usize> {
        Ok(usize::try_from(self.i16()?)?)
    }
    /// A length-prefixed value; `None` for SQL NULL (length -1).
    fn value(&mut self) -> Result<Option<&'a [u8]>> {
        let length = self.i32()?;
        if length < 0 { Ok(None) } else { Ok(Some(self.take(usize::try_from(length)?)?)) }
    }
}

fn note_frontend(connection: &mut Connection, tag: u8, body: &[u8]) -> Result<()> {
    let mut r = Reader(body);
    match tag {
        b'P' => {
            let name = r.cstr()?;
            let sql = r.cstr()?;
            let count = r.count()?;
            let param_types = (0..count).map(|_| r.u32()).collect::<Result<_>>()?;
            connection.statements.insert(name, Statement { sql, param_types, columns: Vec::new() });
            connection.pending.push_back(Pending::Parse);
        }
        b'B' => {
            let portal = r.cstr()?;
            let name = r.cstr()?;
            let statement = connection.statements.get(&name).cloned().context("Bind of an unknown statement")?;
            let formats: Vec<i16> = (0..r.count()?).map(|_| r.i16()).collect::<Result<_>>()?;
            let count = r.count()?;
            let mut params = Vec::with_capacity(count);
            for index in 0..count {
                let format = *formats.get(index).or(formats.first()).unwrap_or(&0);
                let oid = statement.param_types.get(index).copied().unwrap_or(0);
                params.push(decode(oid, format, r.value()?)?);
            }
            let result_formats = (0..r.count()?).map(|_| r.i16()).collect::<Result<_>>()?;
            connection.portals.insert(portal, Portal { statement, params, result_formats });
            connection.pending.push_back(Pending::Bind);
        }
        b'D' => {
            let kind = r.take(1)?[0];
            let name = r.cstr()?;
            connection.pending.push_back(if kind == b'S' {
                Pending::DescribeStatement(name)
            } else {
                Pending::DescribePortal
            });
        }
        b'E' => {
            let name = r.cstr()?;
            let portal = connection.portals.get(&name).cloned().context("Execute of an unknown portal")?;
            connection.pending.push_back(Pending::Execute { portal, rows: Vec::new() });
        }
        b'C' => connection.pending.push_back(Pending::Close),
        b'S' => connection.pending.push_back(Pending::Sync),
        b'Q' => connection.pending.push_back(Pending::Query { sql: r.cstr()?, columns: Vec::new() }),
        // Flush, Terminate and authentication answers get no reply of their own.
        _ => {}
    }
    Ok(())
}

fn row_description(body: &[u8]) -> Result<Vec<Column>> {
    let mut r = Reader(body);
    (0..r.count()?)
        .map(|_| {
            let name = r.cstr()?;
            r.take(6)?; // table oid, attribute number
            let oid = r.u32()?;
            r.take(6)?; // type size, type modifier
            let format = r.i16()?;
            Ok(Column { name, oid, format })
        })
        .collect()
}

fn data_row(body: &[u8], columns: &[Column], formats: &[i16]) -> Result<Vec<(String, Value)>> {
    let mut r = Reader(body);
    let count = r.count()?;
    (0..count)
        .map(|index| {
            let column = columns.get(index).context("a DataRow column without a description")?;
            let format = formats.get(index).or(formats.first()).copied().unwrap_or(column.format);
            Ok((column.name.clone(), decode(column.oid, format, r.value()?)?))
        })
        .collect()
}

/// Consumes the request the server's message answers; returns a finished event.
fn note_backend(connection: &mut Connection, tag: u8, body: &[u8]) -> Result<Option<Event>> {
    let pending = &mut connection.pending;
    match (tag, pending.front_mut()) {
        (b'1' | b'2' | b'3' | b'n', Some(_)) => {
            pending.pop_front();
        }
        (b'T', Some(Pending::DescribeStatement(name))) => {
            let name = name.clone();
            if let Some(statement) = connection.statements.get_mut(&name) {
                statement.columns = row_description(body)?;
            }
            pending.pop_front();
        }
        (b'T', Some(Pending::DescribePortal)) => {
            pending.pop_front();
        }
        (b'T', Some(Pending::Query { columns, .. })) => *columns = row_description(body)?,
        (b'D', Some(Pending::Execute { portal, rows })) => {
            rows.push(data_row(body, &portal.statement.columns, &portal.result_formats)?);
        }
        (b'D', Some(Pending::Query { .. })) => {}
        (b'C' | b'I' | b's', Some(Pending::Execute { .. })) => {
            if let Some(Pending::Execute { portal, rows }) = pending.pop_front() {
                let Portal { statement, params, .. } = portal;
                return Ok(Some(Event::Execute { sql: statement.sql, params, rows }));
            }
        }
        (b'C', Some(Pending::Query { sql, .. })) => return Ok(Some(Event::Simple(sql.clone()))),
        (b'E', _) => {
            // After an error the server skips to the next Sync.
            while matches!(pending.front(), Some(p) if !matches!(p, Pending::Sync | Pending::Query { .. })) {
                pending.pop_front();
            }
        }
        (b'Z', Some(Pending::Sync | Pending::Query { .. })) => {
            pending.pop_front();
        }
        _ => {}
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn an_execution_is_recorded_with_its_decoded_parameters_and_rows() {
        let mut connection = Connection::default();
        let parse =
            message(&[b"s1\0", b"SELECT seq FROM t WHERE id = $1\0", &1i16.to_be_bytes(), &20u32.to_be_bytes()]);
        note_frontend(&mut connection, b'P', &parse).unwrap();
        note_frontend(&mut connection, b'D', b"Ss1\0").unwrap();
        note_frontend(&mut connection, b'S', b"").unwrap();
        let description =
            message(&[&1i16.to_be_bytes(), b"seq\0", &[0u8; 6], &20u32.to_be_bytes(), &[0u8; 6], &0i16.to_be_bytes()]);
        for (tag, body) in [(b'1', &b""[..]), (b't', b""), (b'T', &description), (b'Z', b"I")] {
            assert_eq!(note_backend(&mut connection, tag, body).unwrap(), None);
        }
        let bind = message(&[
            b"\0s1\0",
            &1i16.to_be_bytes(),
            &1i16.to_be_bytes(),
            &1i16.to_be_bytes(),
            &8i32.to_be_bytes(),
            &7i64.to_be_bytes(),
            &1i16.to_be_bytes(),
            &1i16.to_be_bytes(),
        ]);
        note_frontend(&mut connection, b'B', &bind).unwrap();
        note_frontend(&mut connection, b'E', b"\0\0\0\0\0").unwrap();
        note_frontend(&mut connection, b'S', b"").unwrap();
        let row = message(&[&1i16.to_be_bytes(), &8i32.to_be_bytes(), &42i64.to_be_bytes()]);
        assert_eq!(note_backend(&mut connection, b'2', b"").unwrap(), None);
        assert_eq!(note_backend(&mut connection, b'D', &row).unwrap(), None);
        let event = note_backend(&mut connection, b'C', b"SELECT 1\0").unwrap();
        assert_eq!(
            event,
            Some(Event::Execute {
                sql: "SELECT seq FROM t WHERE id = $1".to_owned(),
                params: vec![Value::text(20, "7")],
                rows: vec![vec![("seq".to_owned(), Value::text(20, "42"))]],
            })
        );
        assert_eq!(note_backend(&mut connection, b'Z', b"I").unwrap(), None);
        assert!(connection.pending.is_empty());
    }

    #[test]
    fn a_simple_query_is_recorded_once_complete() {
        let mut connection = Connection::default();
        note_frontend(&mut connection, b'Q', b"BEGIN\0").unwrap();
        let event = note_backend(&mut connection, b'C', b"BEGIN\0").unwrap();
        assert_eq!(event, Some(Event::Simple("BEGIN".to_owned())));
        assert_eq!(note_backend(&mut connection, b'Z', b"T").unwrap(), None);
        assert!(connection.pending.is_empty());
    }
}
