//! Fleet status (docs/contract.md, "Fleet status and the operator view"): one row per provider
//! connection of a workspace with its latest run, the credential expiry and the schedule, read
//! from stored columns only. The filters and the keyset position are parsed here; the stores
//! evaluate them in one indexed query.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    ChangeState, DisplayName, FlowId, Outcome, Overall, PageLimit, ParseError, ProviderConnectionId, RunId, RunStatus,
    ScheduleInterval, TenantId, TenantScope, WorkspaceId,
};

/// The latest run of a connection, as the fleet shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRun {
    /// The run.
    pub run_id: RunId,
    /// Its flow.
    pub flow: FlowId,
    /// Queued, running or completed.
    pub status: RunStatus,
    /// The report's overall once completed; `running` while the run is active.
    pub overall: Overall,
    /// The outcome (`pending` while active).
    pub outcome: Outcome,
    /// When it completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// What changed since the previous report; `None` while active, and for runs completed
    /// before Verdict stored it.
    pub change_state: Option<ChangeState>,
}

/// A connection's schedule, as the fleet shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSchedule {
    /// The interval.
    pub interval: ScheduleInterval,
    /// The next due time.
    pub next_run_at: DateTime<Utc>,
}

/// One row of the fleet status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRow {
    /// The connection's tenant.
    pub tenant_id: TenantId,
    /// The connection.
    pub provider_connection_id: ProviderConnectionId,
    /// Its display name.
    pub connection_display_name: DisplayName,
    /// Its latest run; `None` when it was never verified.
    pub latest: Option<FleetRun>,
    /// The connection's `client_secret_expires_at`, else the expiry the latest completed report
    /// found.
    pub credential_expires_at: Option<DateTime<Utc>>,
    /// Its schedule, if it has one.
    pub schedule: Option<FleetSchedule>,
}

impl FleetRow {
    /// The keyset position just after this row.
    #[must_use]
    pub fn cursor(&self) -> FleetCursor {
        FleetCursor { tenant_id: self.tenant_id, provider_connection_id: self.provider_connection_id }
    }
}

/// A keyset position: `(tenant_id, provider_connection_id)`, ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetCursor {
    /// The tenant of the last row seen.
    pub tenant_id: TenantId,
    /// Its connection.
    pub provider_connection_id: ProviderConnectionId,
}

impl FleetCursor {
    /// The pattern of the text form, for the OpenAPI document.
    pub const PATTERN: &'static str = "^[0-9]{1,19}-[0-9a-f]{32}$";

    /// The text form handed to callers (treat it as opaque): the tenant id and the connection
    /// id's 32 hex digits.
    #[must_use]
    pub fn encode(&self) -> String {
        format!("{}-{}", self.tenant_id.get(), self.provider_connection_id.as_uuid().simple())
    }

    /// Parses a cursor.
    ///
    /// # Errors
    /// [`ParseError`] unless the text matches [`FleetCursor::PATTERN`] with a valid tenant.
    pub fn decode(text: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::new("cursor", "is not a cursor returned by this API");
        let (tenant, id) = text.split_once('-').ok_or_else(bad)?;
        if tenant.is_empty() || tenant.len() > 19 || !tenant.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if id.len() != 32 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let tenant = tenant.parse::<i64>().ok().and_then(|t| TenantId::new(t).ok()).ok_or_else(bad)?;
        let id = Uuid::try_parse(id).map_err(|_| bad())?;
        Ok(Self { tenant_id: tenant, provider_connection_id: ProviderConnectionId::from_uuid(id) })
    }
}

/// `expiring_within_days`: 0 to 3650.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiringWithinDays(u16);

impl ExpiringWithinDays {
    /// Parses the filter.
    ///
    /// # Errors
    /// [`ParseError`] outside 0..=3650.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        text.parse::<u16>()
            .ok()
            .filter(|d| *d <= 3650)
            .map(Self)
            .ok_or_else(|| ParseError::new("expiring_within_days", "must be an integer from 0 to 3650"))
    }

    /// The cut-off at `now`: credentials expiring at or before it match (expired ones too).
    #[must_use]
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + Duration::days(i64::from(self.0))
    }
}

/// `stale_after_hours`: 1 to 87600.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleAfterHours(u32);

impl StaleAfterHours {
    /// Parses the filter.
    ///
    /// # Errors
    /// [`ParseError`] outside 1..=87600.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        text.parse::<u32>()
            .ok()
            .filter(|h| (1..=87_600).contains(h))
            .map(Self)
            .ok_or_else(|| ParseError::new("stale_after_hours", "must be an integer from 1 to 87600"))
    }

    /// The cut-off at `now`: connections whose latest completed verification is older than it,
    /// or that have none, match.
    #[must_use]
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::hours(i64::from(self.0))
    }
}

/// What the stores evaluate: the caller's visible tenants, the filters as absolute instants,
/// and the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetQuery {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tenants the caller may see.
    pub visible: TenantScope,
    /// Only this tenant.
    pub tenant_id: Option<TenantId>,
    /// Only rows with this overall; [`Overall::Running`] means a queued or running latest run.
    pub overall: Option<Overall>,
    /// Only credentials expiring at or before this instant.
    pub expiring_before: Option<DateTime<Utc>>,
    /// Only connections with no completed run at or after this instant.
    pub stale_before: Option<DateTime<Utc>>,
    /// Start after this position.
    pub after: Option<FleetCursor>,
    /// Rows to fetch: the page size plus one, which only says that another page follows.
    pub fetch_limit: u32,
}

/// One page of the fleet status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPage {
    /// The rows, by tenant then connection.
    pub rows: Vec<FleetRow>,
    /// Where the next page starts, if there may be one.
    pub next: Option<FleetCursor>,
}

impl FleetPage {
    /// A page from up to `limit + 1` rows in order.
    #[must_use]
    pub fn from_overfetched(mut rows: Vec<FleetRow>, limit: PageLimit) -> Self {
        let limit = limit.get() as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(FleetRow::cursor) } else { None };
        Self { rows, next }
    }
}

/// The columns of one fleet row, as the stores read them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // columns, named as in the schema
pub struct StoredFleetRow {
    pub tenant_id: i64,
    pub provider_connection_id: Uuid,
    pub display_name: String,
    pub client_secret_expires_at: Option<DateTime<Utc>>,
    pub run_id: Option<Uuid>,
    pub flow: Option<String>,
    pub status: Option<String>,
    pub overall: Option<String>,
    pub outcome: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub change_state: Option<String>,
    pub run_credential_expires_at: Option<DateTime<Utc>>,
    pub schedule_interval: Option<String>,
    pub interval_seconds: Option<i64>,
    pub next_run_at: Option<DateTime<Utc>>,
}

impl FleetRow {
    /// Rebuilds a row from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredFleetRow) -> Result<Self, ParseError> {
        let latest = match (row.run_id, row.flow, row.status, row.outcome) {
            (Some(run_id), Some(flow), Some(status), Some(outcome)) => {
                let status = RunStatus::parse(&status)?;
                let overall = match (status, row.overall) {
                    (RunStatus::Completed, Some(overall)) => Overall::parse(&overall)?,
                    (RunStatus::Completed, None) => {
                        return Err(ParseError::new("overall", "a completed run stores its overall"));
                    }
                    (RunStatus::Queued | RunStatus::Running, _) => Overall::Running,
                };
                Some(FleetRun {
                    run_id: RunId::from_uuid(run_id),
                    flow: FlowId::parse(&flow)?,
                    status,
                    overall,
                    outcome: Outcome::parse(&outcome)?,
                    completed_at: row.completed_at.map(super::to_micros),
                    change_state: row.change_state.as_deref().map(ChangeState::parse).transpose()?,
                })
            }
            (None, None, None, None) => None,
            _ => return Err(ParseError::new("run_id", "a latest run is read whole or not at all")),
        };
        let schedule = match (row.schedule_interval, row.interval_seconds, row.next_run_at) {
            (Some(text), Some(seconds), Some(next_run_at)) => Some(FleetSchedule {
                interval: ScheduleInterval::from_stored(&text, seconds)?,
                next_run_at: super::to_micros(next_run_at),
            }),
            (None, None, None) => None,
            _ => return Err(ParseError::new("schedule_interval", "a schedule is read whole or not at all")),
        };
        Ok(Self {
            tenant_id: TenantId::new(row.tenant_id)?,
            provider_connection_id: ProviderConnectionId::from_uuid(row.provider_connection_id),
            connection_display_name: DisplayName::parse(&row.display_name)?,
            latest,
            credential_expires_at: row.client_secret_expires_at.or(row.run_credential_expires_at).map(super::to_micros),
            schedule,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_anything_off_its_pattern() {
        let cursor = FleetCursor {
            tenant_id: TenantId::new(42).unwrap(),
            provider_connection_id: ProviderConnectionId::generate(),
        };
        let text = cursor.encode();
        assert_eq!(FleetCursor::decode(&text), Ok(cursor));
        assert!(regex::Regex::new(FleetCursor::PATTERN).unwrap().is_match(&text), "{text}");
        for bad in ["", "0-", "-1", &text.to_uppercase(), &format!("{text}0"), "0-00000000000000000000000000000000"] {
            assert!(FleetCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filters_parse_their_ranges_only() {
        assert!(ExpiringWithinDays::parse("0").is_ok());
        assert!(ExpiringWithinDays::parse("3651").is_err());
        assert!(ExpiringWithinDays::parse("-1").is_err());
        assert!(StaleAfterHours::parse("0").is_err());
        assert!(StaleAfterHours::parse("24").is_ok());
        assert!(StaleAfterHours::parse("1e3").is_err());
    }
}
