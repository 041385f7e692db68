//! The [`RunQueue`] port, expanded from the template of `verdict_sql::ports`: claiming with
//! `FOR UPDATE SKIP LOCKED`, and the lease-fenced updates (heartbeat, release, live report,
//! completion). A fenced update changes a run only while it is `running` under the caller's lease,
//! so a worker whose lease was taken over — or a run that completed — can never be changed by a
//! stale owner. Each of the three small fenced updates is one statement that also says whether
//! the run exists, so a refusal costs no second round trip.
//!
//! [`RunQueue`]: verdict_core::ports::RunQueue

use sqlx::{Encode, Postgres, Type};
use verdict_core::domain::{LeaseOwner, RunId};
use verdict_core::ports::LeaseError;
use verdict_sql::run_queue;

use crate::PgStore;
use crate::audit::append;
use crate::continuous::enqueue;
use crate::error::store_error;
use crate::queries::{CLAIM_NEXT, COMPLETE_RUN, HEARTBEAT, RELEASE, WRITE_LIVE_REPORT};
use crate::rows::{stored_at, stored_id, stored_optional_at};

impl PgStore {
    /// Runs one lease-fenced statement (`$1` run, `$2` owner, then `values`) that answers whether
    /// it changed the run and whether the run exists.
    async fn fenced<T>(&self, sql: &'static str, run: RunId, owner: &LeaseOwner, values: &[T]) -> Result<(), LeaseError>
    where
        T: for<'t> Encode<'t, Postgres> + Type<Postgres> + Sync,
    {
        let mut query = sqlx::query_as::<_, (bool, bool)>(sql).bind(stored_id(run.as_uuid())).bind(owner.as_str());
        for value in values {
            query = query.bind(value);
        }
        let mut conn = self.begin_one_statement().await?;
        let fenced = query.fetch_one(&mut *conn).await.map_err(store_error)?;
        conn.commit().await?;
        match fenced {
            (true, _) => Ok(()),
            (false, true) => Err(LeaseError::LeaseLost),
            (false, false) => Err(LeaseError::NotFound),
        }
    }
}

run_queue!(PgStore, verdict_sql::Postgres);
