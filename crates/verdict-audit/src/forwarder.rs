//! The forwarder: walks every workspace's chain from its cursor, writes new events as JSON lines
//! (exactly the API's event objects), makes them durable, then moves the cursor. A crash between
//! writing and moving the cursor repeats events on restart (at least once); it never skips one.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use verdict_core::ports::{AuditLog, ChainPages, StoreError};

use crate::cursor::Cursor;

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file, appended to (created if missing).
    File(PathBuf),
}

impl FromStr for Sink {
    type Err = std::convert::Infallible;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(if value == "stdout" { Self::Stdout } else { Self::File(PathBuf::from(value)) })
    }
}

/// Forwarder settings.
#[derive(Debug, Clone)]
pub struct ForwarderConfig {
    /// Where events go.
    pub sink: Sink,
    /// Where the cursor is kept.
    pub cursor_file: PathBuf,
    /// How long to wait between passes when there is nothing new.
    pub poll: Duration,
    /// Events read per round trip.
    pub page: u32,
}

/// Why a pass failed. The cursor only ever records events that were written.
#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    /// The audit trail could not be read.
    #[error("reading the audit trail failed")]
    Store(#[from] StoreError),
    /// The sink or the cursor could not be written.
    #[error("writing audit events failed")]
    Io(#[from] io::Error),
}

/// Copies committed events to a JSON-lines sink.
pub struct Forwarder {
    log: Arc<dyn AuditLog>,
    config: ForwarderConfig,
    cursor: Cursor,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Forwarder {
    /// A forwarder resuming from the persisted cursor.
    ///
    /// # Errors
    /// When the cursor file exists but cannot be read.
    pub fn new(log: Arc<dyn AuditLog>, config: ForwarderConfig) -> Result<Self, ForwarderError> {
        let cursor = Cursor::load(&config.cursor_file)?;
        Ok(Self { log, config, cursor })
    }

    /// Forwards everything committed since the cursor to the configured sink.
    ///
    /// # Errors
    /// See [`ForwarderError`]; what was written before the error stays recorded.
    pub async fn forward_pending(&mut self) -> Result<u64, ForwarderError> {
        match self.config.sink.clone() {
            Sink::Stdout => self.forward_to(&mut StdoutSink).await,
            Sink::File(path) => {
                let file = OpenOptions::new().create(true).append(true).open(&path)?;
                self.forward_to(&mut FileSink(file)).await
            }
        }
    }

    /// Forwards everything committed since the cursor to `out`: per workspace, page by page;
    /// after each page the output is made durable and only then the cursor moves.
    ///
    /// # Errors
    /// See [`ForwarderError`].
    pub async fn forward_to(&mut self, out: &mut dyn DurableWrite) -> Result<u64, ForwarderError> {
        let mut forwarded = 0;
        for head in self.log.chain_heads().await? {
            let after = self.cursor.position(head.workspace);
            if after >= head.seq {
                continue;
            }
            let mut pages = ChainPages::new(self.log.as_ref(), head.workspace, Some(after), self.config.page);
            while let Some(page) = pages.next_page().await? {
                let Some(last) = page.last().map(verdict_core::domain::AuditEvent::seq) else { break };
                for event in &page {
                    let mut line = serde_json::to_vec(&event).map_err(io::Error::other)?;
                    line.push(b'\n');
                    out.write_all(&line)?;
                }
                out.make_durable()?;
                self.cursor.advance(head.workspace, last)?;
                forwarded += page.len() as u64;
            }
        }
        Ok(forwarded)
    }

    /// Forwards until `stop` resolves, polling for new events; failures are logged and retried.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.forward_pending().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(events = n, "forwarded audit events"),
                Err(error) => {
                    tracing::warn!(error = %error, cause = ?std::error::Error::source(&error).map(ToString::to_string), "audit forwarding failed; retrying")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll) => {}
                () = &mut stop => break,
            }
        }
        // One last pass so a clean shutdown leaves nothing behind.
        if let Err(error) = self.forward_pending().await {
            tracing::warn!(error = %error, "final audit forwarding pass failed; it resumes on the next start");
        }
    }
}

/// A sink that can make what was written durable.
pub trait DurableWrite: Write + Send {
    /// Flushes and, for files, syncs to disk.
    ///
    /// # Errors
    /// When the data cannot be made durable.
    fn make_durable(&mut self) -> io::Result<()>;
}

struct StdoutSink;

impl Write for StdoutSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        io::stdout().lock().write(bytes)
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().lock().flush()
    }
}

impl DurableWrite for StdoutSink {
    fn make_durable(&mut self) -> io::Result<()> {
        self.flush()
    }
}

struct FileSink(std::fs::File);

impl Write for FileSink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl DurableWrite for FileSink {
    fn make_durable(&mut self) -> io::Result<()> {
        self.0.flush()?;
        self.0.sync_data()
    }
}

impl DurableWrite for Vec<u8> {
    fn make_durable(&mut self) -> io::Result<()> {
        Ok(())
    }
}
