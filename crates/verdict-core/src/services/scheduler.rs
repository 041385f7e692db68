//! The scheduler (docs/contract.md#continuous-verification): claims due schedules and starts their verifications through the
//! same start service an API call uses — as the system actor `scheduler`, deduplicated as
//! docs/contract.md#idempotent-starts — then re-arms each one an interval (plus up to 10 % jitter) after it fired. A schedule
//! that was due many times while the cluster was down fires once.

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use chrono::Duration;

use super::{Ports, StartPermit, StartVerificationError, VerificationService};
use crate::domain::{LeaseOwner, Schedule};
use crate::ports::{ScheduledStart, StartOutcome, StoreError};

/// Schedules claimed per round trip.
pub const SCHEDULE_BATCH: u32 = 50;

/// How long a scheduler holds a claimed schedule: if it dies before re-arming it, the schedule
/// is due again after this (and fires once more; the start dedupes an active run).
pub const SCHEDULE_CLAIM: Duration = Duration::seconds(60);

/// Fires due schedules.
#[derive(Debug, Clone)]
pub struct SchedulerService {
    ports: Ports,
    verifications: VerificationService,
}

impl SchedulerService {
    /// Builds the service.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { verifications: VerificationService::new(ports.clone()), ports }
    }

    /// Claims up to [`SCHEDULE_BATCH`] due schedules for `owner`, starts each one's verification
    /// and re-arms it. Answers how many it claimed: a full batch means more may be due.
    ///
    /// # Errors
    /// [`StoreError`] when the claim fails; a failed start leaves its schedule to its claim's
    /// expiry instead, and the others go on.
    pub async fn fire_due(&self, owner: &LeaseOwner) -> Result<usize, StoreError> {
        let now = self.ports.clock.now();
        let due = self.ports.schedules.claim_due(owner, now, now + SCHEDULE_CLAIM, SCHEDULE_BATCH).await?;
        for schedule in &due {
            self.fire(owner, schedule).await;
        }
        Ok(due.len())
    }

    #[tracing::instrument(skip_all, fields(connection_id = %schedule.provider_connection_id))]
    async fn fire(&self, owner: &LeaseOwner, schedule: &Schedule) {
        let fired_at = self.ports.clock.now();
        let lag = (fired_at - schedule.next_run_at).max(Duration::zero());
        let permit = StartPermit::system(schedule.workspace_id, schedule.tenant_id);
        let started =
            self.verifications.start(permit, schedule.flow.clone(), Some(schedule.provider_connection_id)).await;
        let result = match &started {
            Ok(StartOutcome::Created(run)) => {
                tracing::info!(run_id = %run.id, lag_ms = lag.num_milliseconds(), "scheduled verification started");
                ScheduledStart::Created
            }
            Ok(StartOutcome::Deduplicated(run)) => {
                tracing::info!(run_id = %run.id, "scheduled verification already active; deduplicated");
                ScheduledStart::Deduplicated
            }
            Err(error) => {
                tracing::warn!(error = %error, "scheduled verification could not be started");
                ScheduledStart::Failed
            }
        };
        self.ports.observer.schedule_fired(lag, result);
        // A store failure is left to the claim's expiry (it fires again); anything else is
        // re-armed, so a permanent refusal does not fire every minute.
        if matches!(started, Err(StartVerificationError::Store(_))) {
            return;
        }
        let next = schedule.interval.next_after(self.ports.clock.now(), random_fraction());
        match self.ports.schedules.rearm(schedule.provider_connection_id, owner, next).await {
            Ok(true) => {}
            Ok(false) => tracing::debug!("the schedule changed while it fired; not re-armed"),
            Err(error) => tracing::warn!(error = %error, "the schedule could not be re-armed; it fires again"),
        }
    }
}

/// A uniform fraction in `[0, 1)` from the operating system's generator: the jitter's share.
fn random_fraction() -> f64 {
    // 53 random bits are exactly what an f64 in [0, 1) can hold.
    #[allow(clippy::cast_precision_loss)]
    let fraction = (OsRng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    fraction
}
