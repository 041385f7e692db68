//! Where the forwarder stopped, per workspace: a small JSON file replaced atomically (write a
//! temporary file, sync it, rename it over the old one), so a crash leaves either the old or the
//! new cursor, never a torn one.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use verdict_core::domain::WorkspaceId;

/// The last forwarded `seq` of each workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    path: PathBuf,
    positions: BTreeMap<i64, u64>,
}

impl Cursor {
    /// Loads the cursor at `path`; a missing file is a cursor at the start of every chain.
    ///
    /// # Errors
    /// When the file exists but cannot be read or is not a cursor.
    pub fn load(path: &Path) -> io::Result<Self> {
        let positions = match fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<BTreeMap<String, u64>>(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?
                .into_iter()
                .map(|(ws, seq)| {
                    ws.parse::<i64>()
                        .map(|ws| (ws, seq))
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
                })
                .collect::<io::Result<_>>()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Self { path: path.to_path_buf(), positions })
    }

    /// The last forwarded `seq` of `workspace` (0 when nothing was forwarded).
    #[must_use]
    pub fn position(&self, workspace: WorkspaceId) -> u64 {
        self.positions.get(&workspace.get()).copied().unwrap_or(0)
    }

    /// Records that `workspace` was forwarded up to `seq` and persists it.
    ///
    /// # Errors
    /// When the cursor file cannot be written.
    pub fn advance(&mut self, workspace: WorkspaceId, seq: u64) -> io::Result<()> {
        self.positions.insert(workspace.get(), seq);
        self.save()
    }

    fn save(&self) -> io::Result<()> {
        let text: BTreeMap<String, u64> = self.positions.iter().map(|(ws, seq)| (ws.to_string(), *seq)).collect();
        let bytes = serde_json::to_vec(&text).map_err(io::Error::other)?;
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let temporary = self.path.with_extension("cursor.tmp");
        {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        fs::rename(&temporary, &self.path)?;
        // Make the rename itself durable.
        if let Ok(dir) = fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_a_reload_and_a_missing_file_starts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/forwarder.cursor");
        let mut cursor = Cursor::load(&path).unwrap();
        let ws = WorkspaceId::new(7).unwrap();
        assert_eq!(cursor.position(ws), 0);
        cursor.advance(ws, 42).unwrap();
        assert_eq!(Cursor::load(&path).unwrap().position(ws), 42);
        fs::write(&path, b"not json").unwrap();
        assert!(Cursor::load(&path).is_err(), "a corrupt cursor is an error, not a silent restart");
    }
}
