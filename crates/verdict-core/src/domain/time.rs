//! Timestamps. Every instant Verdict stores is UTC truncated to microseconds, the precision of
//! PostgreSQL's `timestamptz`, so that a value survives a round trip through any store unchanged
//! (the audit hash depends on that).

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};

/// Truncates an instant to whole microseconds.
#[must_use]
pub fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The one text form of an instant: RFC 3339, UTC, exactly six fractional digits, `Z`.
/// It sorts lexicographically in time order, which the SQLite adapter relies on.
#[must_use]
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    to_micros(at).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Serde helpers writing [`format_timestamp`].
pub mod timestamp_serde {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as [`super::format_timestamp`].
    ///
    /// # Errors
    /// Only the serializer's own.
    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_timestamp(*at))
    }

    /// Deserializes any RFC 3339 instant, truncated to microseconds.
    ///
    /// # Errors
    /// When the text is not RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| super::to_micros(t.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option<DateTime<Utc>>`.
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serializes `None` as `null`.
        ///
        /// # Errors
        /// Only the serializer's own.
        pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => super::serialize(at, s),
                None => s.serialize_none(),
            }
        }

        /// Deserializes `null` as `None`.
        ///
        /// # Errors
        /// When the text is not RFC 3339.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap(#[serde(with = "super")] DateTime<Utc>);
            Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_are_written_with_six_fraction_digits_and_sort_in_time_order() {
        let a = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(format_timestamp(a), "2026-01-02T03:04:05.000000Z");
        let b = a + chrono::Duration::nanoseconds(1_500);
        assert_eq!(format_timestamp(b), "2026-01-02T03:04:05.000001Z");
        assert!(format_timestamp(a) < format_timestamp(b));
    }
}
