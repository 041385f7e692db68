//! Schedules (docs/contract.md#continuous-verification): a provider connection re-verified on an interval. One schedule per
//! connection; the scheduler fires it when `next_run_at` has passed and re-arms it from the
//! time it fired, so a stopped cluster catches up once, never once per missed interval.

use chrono::{DateTime, Duration, Utc};
use jiff::fmt::temporal::{SpanParser, SpanPrinter};
use uuid::Uuid;

use super::{FlowId, ParseError, ProviderConnectionId, TenantId, WorkspaceId, to_micros};

static PARSER: SpanParser = SpanParser::new();

/// How often a connection is verified: an ISO 8601 duration from `PT5M` to `P30D`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInterval {
    text: String,
    seconds: i64,
}

impl ScheduleInterval {
    /// The shortest interval: five minutes.
    pub const MIN_SECONDS: i64 = 5 * 60;
    /// The longest interval: thirty days.
    pub const MAX_SECONDS: i64 = 30 * 86_400;

    /// Parses an ISO 8601 duration (`PT6H`, `P1D`, `P1DT12H`, `P2W`). Days and weeks count as 24
    /// hours and 7 days: a schedule is a fixed period, not a calendar rule. Years and months,
    /// whose length varies, are refused, as is anything outside `PT5M`..`P30D` or not a whole
    /// number of seconds.
    ///
    /// # Errors
    /// [`ParseError`] for field `interval`.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let invalid = |problem: &str| ParseError::new("interval", problem);
        let span = PARSER.parse_span(text).map_err(|_| invalid("must be an ISO 8601 duration such as PT6H or P1D"))?;
        if span.get_years() != 0 || span.get_months() != 0 {
            return Err(invalid("must be given in weeks, days, hours or minutes (months and years vary in length)"));
        }
        let total = span
            .total(jiff::SpanTotal::from(jiff::Unit::Second).days_are_24_hours())
            .map_err(|_| invalid("must be an ISO 8601 duration such as PT6H or P1D"))?;
        if total.fract() != 0.0 {
            return Err(invalid("must be a whole number of seconds"));
        }
        if !(Self::MIN_SECONDS as f64..=Self::MAX_SECONDS as f64).contains(&total) {
            return Err(invalid("must be between PT5M and P30D"));
        }
        // Whole seconds within 30 days: the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        let seconds = total as i64;
        Ok(Self { text: SpanPrinter::new().span_to_string(&span), seconds })
    }

    /// Rebuilds a stored interval: the text must parse to the stored number of seconds.
    ///
    /// # Errors
    /// [`ParseError`] when the columns disagree or the text is invalid.
    pub fn from_stored(text: &str, seconds: i64) -> Result<Self, ParseError> {
        let parsed = Self::parse(text)?;
        if parsed.seconds == seconds {
            Ok(parsed)
        } else {
            Err(ParseError::new("interval_seconds", "does not match the stored interval"))
        }
    }

    /// The ISO 8601 text, as jiff writes it (`PT6H`).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The length in seconds.
    #[must_use]
    pub const fn seconds(&self) -> i64 {
        self.seconds
    }

    /// The length.
    #[must_use]
    pub fn duration(&self) -> Duration {
        Duration::seconds(self.seconds)
    }

    /// The most jitter a re-arm adds: a tenth of the interval, so schedules set at the same time
    /// drift apart instead of firing together forever.
    #[must_use]
    pub fn max_jitter(&self) -> Duration {
        Duration::milliseconds(self.seconds * 100)
    }

    /// When the schedule fires next after firing at `fired_at`: one interval later plus
    /// `fraction` (in `0.0..=1.0`, clamped) of the maximum jitter.
    #[must_use]
    pub fn next_after(&self, fired_at: DateTime<Utc>, fraction: f64) -> DateTime<Utc> {
        let fraction = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
        // At most 10 % of 30 days in milliseconds: far inside f64's exact integers.
        #[allow(clippy::cast_possible_truncation)]
        let jitter = Duration::milliseconds((self.max_jitter().num_milliseconds() as f64 * fraction) as i64);
        to_micros(fired_at + self.duration() + jitter)
    }
}

/// A connection's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The connection it verifies (one schedule per connection).
    pub provider_connection_id: ProviderConnectionId,
    /// Its workspace.
    pub workspace_id: WorkspaceId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The flow started (`provider.connection.check`).
    pub flow: FlowId,
    /// How often.
    pub interval: ScheduleInterval,
    /// When it fires next.
    pub next_run_at: DateTime<Utc>,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it was last set.
    pub updated_at: DateTime<Utc>,
}

/// The columns of `verification_schedules`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of the table, named as in the schema
pub struct StoredSchedule {
    pub provider_connection_id: Uuid,
    pub workspace_id: i64,
    pub tenant_id: i64,
    pub flow: String,
    pub interval: String,
    pub interval_seconds: i64,
    pub next_run_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Schedule {
    /// Rebuilds a schedule from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredSchedule) -> Result<Self, ParseError> {
        Ok(Self {
            provider_connection_id: ProviderConnectionId::from_uuid(row.provider_connection_id),
            workspace_id: WorkspaceId::new(row.workspace_id)?,
            tenant_id: TenantId::new(row.tenant_id)?,
            flow: FlowId::parse(row.flow)?,
            interval: ScheduleInterval::from_stored(&row.interval, row.interval_seconds)?,
            next_run_at: to_micros(row.next_run_at),
            created_at: to_micros(row.created_at),
            updated_at: to_micros(row.updated_at),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_iso_8601_durations_from_five_minutes_to_thirty_days() {
        for (text, seconds, printed) in [
            ("PT5M", 300, "PT5M"),
            ("PT6H", 21_600, "PT6H"),
            ("pt6h", 21_600, "PT6H"),
            ("P1D", 86_400, "P1D"),
            ("P1DT12H", 129_600, "P1DT12H"),
            ("P2W", 1_209_600, "P2W"),
            ("P30D", 2_592_000, "P30D"),
            ("PT300S", 300, "PT300S"),
        ] {
            let interval = ScheduleInterval::parse(text).unwrap();
            assert_eq!((interval.seconds(), interval.as_str()), (seconds, printed), "{text}");
        }
        for bad in ["PT4M59S", "P31D", "P1M", "P1Y", "PT0S", "-PT6H", "6 hours", "6h", "", "PT", "PT5M0.5S", "P5W"] {
            let error = ScheduleInterval::parse(bad).unwrap_err();
            assert_eq!(error.field, "interval", "{bad}");
        }
    }

    #[test]
    fn the_next_run_is_one_interval_later_plus_at_most_a_tenth_of_it() {
        let interval = ScheduleInterval::parse("PT6H").unwrap();
        let at = to_micros(Utc::now());
        assert_eq!(interval.next_after(at, 0.0), at + Duration::hours(6));
        assert_eq!(interval.next_after(at, 1.0), at + Duration::hours(6) + Duration::minutes(36));
        assert_eq!(interval.next_after(at, 7.0), interval.next_after(at, 1.0), "clamped");
        assert_eq!(interval.next_after(at, f64::NAN), at + Duration::hours(6));
    }

    #[test]
    fn stored_intervals_must_agree_with_their_seconds() {
        assert!(ScheduleInterval::from_stored("PT6H", 21_600).is_ok());
        assert_eq!(ScheduleInterval::from_stored("PT6H", 60).unwrap_err().field, "interval_seconds");
    }
}
