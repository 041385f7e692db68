//! Resolving settings into what the service runs with: which database, which token key, which
//! encryption key. Without explicit keys on SQLite, development mode generates them into the
//! data folder (owner-only permissions) and says so loudly; a PostgreSQL URL without explicit
//! keys refuses to start.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretBox};
use url::Url;
use verdict_core::crypto::Aes256GcmCipher;
use verdict_http::auth::{MIN_HS256_SECRET_BYTES, VerificationKey};

use crate::cli::Settings;
use crate::secret::DatabaseUrl;

/// The database to use.
#[derive(Debug, Clone)]
pub enum Database {
    /// Embedded SQLite at this `sqlite://` URL.
    Sqlite(String),
    /// PostgreSQL at this `postgres://` URL (its password never printed).
    Postgres(DatabaseUrl),
}

impl Database {
    /// Chooses by URL scheme.
    ///
    /// # Errors
    /// For any other scheme.
    pub fn from_url(url: &DatabaseUrl) -> Result<Self> {
        let text = url.expose();
        if text.starts_with("sqlite:") {
            Ok(Self::Sqlite(text.to_owned()))
        } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Ok(Self::Postgres(url.clone()))
        } else {
            bail!("VERDICT_DATABASE_URL must start with sqlite:// or postgres://")
        }
    }

    fn sqlite_folder(&self) -> Option<PathBuf> {
        let Self::Sqlite(url) = self else { return None };
        let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
        let path = path.split('?').next().unwrap_or(path);
        Path::new(path).parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty())
    }
}

/// Keys the service runs with.
pub struct Keys {
    /// How bearer tokens are verified.
    pub jwt: VerificationKey,
    /// The HS256 secret, when tokens are HS256 (`verdict token issue` signs with it).
    pub hs256_secret: Option<SecretBox<Vec<u8>>>,
    /// The AES-256-GCM key for client secrets.
    pub encryption_key: SecretBox<[u8; 32]>,
    /// Whether any key was generated for development.
    pub development: bool,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("jwt", &self.jwt).field("development", &self.development).finish_non_exhaustive()
    }
}

impl Keys {
    /// The secret cipher.
    ///
    /// # Errors
    /// Never for a 32-byte key.
    pub fn cipher(&self) -> Result<Aes256GcmCipher> {
        Aes256GcmCipher::new(self.encryption_key.expose_secret()).context("encryption key")
    }
}

/// The folder development keys live in.
#[must_use]
pub fn data_dir(settings: &Settings, database: &Database) -> PathBuf {
    settings.data_dir.clone().or_else(|| database.sqlite_folder()).unwrap_or_else(|| PathBuf::from("verdict-data"))
}

/// Resolves the token and encryption keys.
///
/// # Errors
/// A PostgreSQL URL without explicit keys; a short HS256 secret; an unreadable key file; a
/// malformed encryption key; a data folder that cannot be written.
pub fn resolve_keys(settings: &Settings, database: &Database) -> Result<Keys> {
    let explicit_jwt = settings.jwt_hs256_secret.is_some() || settings.jwt_public_key_file.is_some();
    if matches!(database, Database::Postgres(_)) && (!explicit_jwt || settings.encryption_key.is_none()) {
        bail!(
            "refusing to start: a PostgreSQL database needs explicit keys — set VERDICT_JWT_HS256_SECRET \
             (or VERDICT_JWT_PUBLIC_KEY_FILE) and VERDICT_ENCRYPTION_KEY; development keys are only \
             generated for the embedded SQLite database"
        );
    }
    let dir = data_dir(settings, database);
    let mut development = false;
    let (jwt, hs256_secret) = if let Some(secret) = &settings.jwt_hs256_secret {
        let bytes = secret.expose().as_bytes().to_vec();
        if bytes.len() < MIN_HS256_SECRET_BYTES {
            bail!("VERDICT_JWT_HS256_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes");
        }
        (VerificationKey::Hs256(bytes.clone()), Some(SecretBox::new(Box::new(bytes))))
    } else if let Some(path) = &settings.jwt_public_key_file {
        (read_public_key(path)?, None)
    } else {
        development = true;
        let secret = dev_secret(&dir.join("jwt-hs256.secret"))?;
        (VerificationKey::Hs256(secret.clone()), Some(SecretBox::new(Box::new(secret))))
    };
    let encryption_key = match &settings.encryption_key {
        Some(text) => parse_encryption_key(text.expose())?,
        None => {
            development = true;
            let text = String::from_utf8(dev_secret(&dir.join("encryption.key"))?).context("encryption.key")?;
            parse_encryption_key(&text)?
        }
    };
    Ok(Keys { jwt, hs256_secret, encryption_key: SecretBox::new(Box::new(encryption_key)), development })
}

fn read_public_key(path: &Path) -> Result<VerificationKey> {
    let pem = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8_lossy(&pem);
    // An EC key says so in its PEM or parses as one; otherwise treat it as RSA.
    let is_ec = text.contains("EC PUBLIC KEY")
        || verdict_http::auth::Authenticator::new(&VerificationKey::Es256Pem(pem.clone()), None, None).is_ok();
    Ok(if is_ec { VerificationKey::Es256Pem(pem) } else { VerificationKey::Rs256Pem(pem) })
}

/// Parses a 32-byte key given as 64 hex digits or base64.
///
/// # Errors
/// Anything else. The error never contains the key.
pub fn parse_encryption_key(text: &str) -> Result<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).ok()
    } else {
        base64::engine::general_purpose::STANDARD.decode(text).ok()
    };
    bytes
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .context("VERDICT_ENCRYPTION_KEY must be 32 bytes, as 64 hex digits or base64")
}

/// Reads a development secret, creating it (64 hex characters of fresh randomness, mode 0600,
/// in a 0700 folder) when missing.
fn dev_secret(path: &Path) -> Result<Vec<u8>> {
    if let Ok(existing) = fs::read(path) {
        return Ok(trim(existing));
    }
    let dir = path.parent().context("key path has no folder")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let secret = hex::encode(Aes256GcmCipher::generate_key());
    match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes()).with_context(|| format!("cannot write {}", path.display()))?;
            tracing::warn!(path = %path.display(), "DEVELOPMENT MODE: generated a key; do not use this setup in production");
            Ok(secret.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(trim(fs::read(path)?)),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

fn trim(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
    bytes
}

/// Accepts an `https://` base URL, or `http://` for loopback addresses only (tests, the demo).
///
/// # Errors
/// Any other URL.
pub fn provider_base_url(name: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value).with_context(|| format!("{name} is not a URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host == "localhost",
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => bail!("{name} must be an https:// URL (http:// only for loopback addresses)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str]) -> Settings {
        let mut all = vec!["verdict"];
        all.extend_from_slice(args);
        crate::cli::Cli::parse_from(all).settings
    }

    #[test]
    fn development_keys_are_generated_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/data/verdict.db", dir.path().display());
        let s = settings(&["--database-url", &url]);
        let db = Database::from_url(&s.database_url).unwrap();
        let first = resolve_keys(&s, &db).unwrap();
        assert!(first.development);
        let secret_file = dir.path().join("data/jwt-hs256.secret");
        let mode = fs::metadata(&secret_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = resolve_keys(&s, &db).unwrap();
        assert_eq!(
            first.hs256_secret.unwrap().expose_secret(),
            again.hs256_secret.unwrap().expose_secret(),
            "the same secret on the next start"
        );
        assert_eq!(first.encryption_key.expose_secret(), again.encryption_key.expose_secret());
    }

    /// While the database is unreachable a request waits at most a second for a connection
    /// before its 503 (it was 5 s: 64 clients got 11 answers a second in an outage).
    #[tokio::test]
    async fn a_request_waits_at_most_a_second_for_a_database_connection_by_default() {
        let s = settings(&["--database-url", "postgres://127.0.0.1:1/verdict"]);
        assert_eq!(s.db_acquire_timeout_ms, 1000);
        let db = Database::from_url(&s.database_url).unwrap();
        let store = crate::store::Store::open(&db, std::time::Duration::from_millis(s.db_acquire_timeout_ms)).await;
        let crate::store::Store::Postgres(store) = store.unwrap() else { panic!("a PostgreSQL URL opens PostgreSQL") };
        assert_eq!(store.pool().options().get_acquire_timeout(), std::time::Duration::from_secs(1));
    }

    #[test]
    fn postgres_without_explicit_keys_refuses_to_start() {
        let s = settings(&["--database-url", "postgres://localhost/verdict"]);
        let db = Database::from_url(&s.database_url).unwrap();
        let err = resolve_keys(&s, &db).unwrap_err().to_string();
        assert!(err.contains("refusing to start"), "{err}");
        let key = "00".repeat(32);
        let ok = settings(&[
            "--database-url",
            "postgres://localhost/verdict",
            "--jwt-hs256-secret",
            "0123456789abcdef0123456789abcdef",
            "--encryption-key",
            &key,
        ]);
        assert!(!resolve_keys(&ok, &db).unwrap().development);
    }

    #[test]
    fn keys_are_validated_without_echoing_them() {
        assert!(parse_encryption_key(&"ab".repeat(32)).is_ok());
        assert!(parse_encryption_key(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])).is_ok());
        let err = parse_encryption_key("tooshort-secret-value").unwrap_err().to_string();
        assert!(!err.contains("tooshort"));
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/v.db", dir.path().display());
        let s = settings(&["--database-url", &url, "--jwt-hs256-secret", "short"]);
        assert!(resolve_keys(&s, &Database::from_url(&url.parse().unwrap()).unwrap()).is_err());
    }

    #[test]
    fn provider_urls_must_be_https_except_on_loopback() {
        for ok in ["https://login.microsoftonline.com", "http://127.0.0.1:9999", "http://localhost:1", "http://[::1]:2"]
        {
            assert!(provider_base_url("x", ok).is_ok(), "{ok}");
        }
        for bad in
            ["http://login.microsoftonline.com", "http://10.0.0.1", "ftp://x", "not a url", "http://127.0.0.1.evil.com"]
        {
            assert!(provider_base_url("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_database_is_chosen_by_scheme() {
        let url = |text: &str| -> DatabaseUrl { text.parse().unwrap() };
        assert!(matches!(Database::from_url(&url("sqlite://a/b.db")), Ok(Database::Sqlite(_))));
        assert!(matches!(Database::from_url(&url("postgres://h/d")), Ok(Database::Postgres(_))));
        assert!(Database::from_url(&url("mysql://h/d")).is_err());
        assert_eq!(Database::from_url(&url("sqlite://a/b.db")).unwrap().sqlite_folder(), Some(PathBuf::from("a")));
    }

    #[test]
    fn settings_never_print_their_secrets() {
        let key = "ab".repeat(32);
        let s = settings(&[
            "--database-url",
            "postgres://verdict:db-password-4711@db.internal/verdict",
            "--jwt-hs256-secret",
            "jwt-secret-4711-jwt-secret-4711-jwt",
            "--encryption-key",
            &key,
        ]);
        let shown = format!("{s:?}");
        for secret in ["db-password-4711", "jwt-secret-4711", key.as_str()] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let database = Database::from_url(&s.database_url).unwrap();
        assert!(!format!("{database:?}").contains("db-password-4711"));
        let keys = resolve_keys(&s, &database).unwrap();
        assert!(!format!("{keys:?}").contains("jwt-secret-4711"));
    }
}
