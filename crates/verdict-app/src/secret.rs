//! Settings that hold secrets — the JWT secret, the encryption key, a database URL's password —
//! in types whose `Debug` cannot print them, so no log line or error built from the settings
//! does either.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

/// A secret setting, redacted in `Debug`.
#[derive(Clone)]
pub struct SecretSetting(Arc<SecretString>);

impl SecretSetting {
    /// The secret, for the one place that uses it.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl FromStr for SecretSetting {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        Ok(Self(Arc::new(SecretString::from(text.to_owned()))))
    }
}

impl fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretSetting([REDACTED])")
    }
}

/// `VERDICT_DATABASE_URL`, whose password `Debug` replaces with `[REDACTED]`.
#[derive(Clone)]
pub struct DatabaseUrl(SecretSetting);

impl DatabaseUrl {
    /// The URL, for the one place that connects.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL with its password (if any) replaced, for messages.
    #[must_use]
    pub fn redacted(&self) -> String {
        match url::Url::parse(self.expose()) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("[REDACTED]"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            // Not a URL at all (a bare SQLite path): it may be anything, so show nothing.
            Err(_) => "[unparseable database URL]".to_owned(),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = Infallible;

    fn from_str(text: &str) -> Result<Self, Infallible> {
        text.parse().map(Self)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_a_secret() {
        let secret: SecretSetting = "hunter2-hunter2-hunter2-hunter2-x".parse().unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2-hunter2-hunter2-hunter2-x");
        let url: DatabaseUrl = "postgres://verdict:s3cr3t-pw@db.internal:5432/verdict".parse().unwrap();
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cr3t-pw") && shown.contains("db.internal"), "{shown}");
        let sqlite: DatabaseUrl = "sqlite://verdict-data/verdict.db".parse().unwrap();
        assert!(format!("{sqlite:?}").contains("verdict-data"));
    }
}
