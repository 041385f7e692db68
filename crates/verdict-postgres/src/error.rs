//! Translation of driver errors at the boundary: availability problems become
//! [`StoreError::Unavailable`] (retry later, HTTP 503), everything else
//! [`StoreError::Unexpected`]. Business outcomes are recognised by constraint name only.

use verdict_core::ports::StoreError;

/// The foreign key from an acknowledgement to its run (in its workspace and tenant).
pub(crate) const ACK_RUN_FKEY: &str = "verification_check_acknowledgements_run_fkey";

/// Classifies a driver error.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    if is_unavailable(&err) { StoreError::Unavailable(err.into()) } else { StoreError::Unexpected(err.into()) }
}

/// A broken invariant or undecodable stored data.
pub(crate) fn unexpected(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unexpected(err.into())
}

/// The name of the constraint a database error violated, if any.
pub(crate) fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    err.as_database_error().and_then(|db| db.constraint())
}

fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        // A protocol error means the conversation with the server broke — e.g. a proxy or
        // balancer in front of it accepted the connection and closed it: retry later, not a bug.
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_unavailable_sqlstate(&code)),
        _ => false,
    }
}

/// SQLSTATEs meaning "not now": connection exceptions (08), insufficient resources (53), the
/// server shutting down or starting (57P01–57P03), and a statement cancelled by
/// `statement_timeout` (57014).
fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("53") || matches!(code, "57P01" | "57P02" | "57P03" | "57014")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_and_io_failures_are_unavailable() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into()),
        ] {
            assert!(matches!(store_error(err), StoreError::Unavailable(_)));
        }
        assert!(matches!(store_error(sqlx::Error::RowNotFound), StoreError::Unexpected(_)));
    }

    #[test]
    fn sqlstates_of_outages_and_timeouts_are_unavailable() {
        for code in ["08006", "08001", "53300", "57P01", "57P03", "57014"] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "23503", "40P01", "42P01"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }
}
