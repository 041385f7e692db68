//! Timestamps. Every instant Verdict stores is UTC truncated to microseconds, the precision of
//! PostgreSQL's `timestamptz`, so that a value survives a round trip through any store unchanged
//! (the audit hash depends on that).

use chrono::{DateTime, Datelike as _, SecondsFormat, SubsecRound, Timelike as _, Utc};

/// Truncates an instant to whole microseconds.
#[must_use]
pub fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The one text form of an instant: RFC 3339, UTC, exactly six fractional digits, `Z`.
/// It sorts lexicographically in time order, which the SQLite adapter relies on.
#[must_use]
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    with_timestamp_text(at, str::to_owned)
}

/// [`format_timestamp`]'s text handed to `use_text`, from a buffer on the stack wherever
/// [`write_timestamp`] writes.
fn with_timestamp_text<R>(at: DateTime<Utc>, use_text: impl FnOnce(&str) -> R) -> R {
    let mut text = [0; TEXT_LEN];
    match write_timestamp(at, &mut text) {
        Some(written) => use_text(written),
        None => use_text(&rfc3339(at)),
    }
}

/// chrono's RFC 3339 writer, which [`write_timestamp`] matches byte for byte where it writes.
fn rfc3339(at: DateTime<Utc>) -> String {
    to_micros(at).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The length of [`format_timestamp`]'s text for years 0 to 9999.
const TEXT_LEN: usize = "2026-01-02T03:04:05.000000Z".len();

/// [`format_timestamp`]'s text written into `text`, without allocating or going through a
/// formatter; `None` for what only chrono's writer handles: years outside 0–9999 (a sign or a
/// fifth digit) and leap seconds. A page of runs writes three timestamps per run; writing them
/// here rather than through chrono's writer and a `String` each takes 3 % off a page's CPU
/// (docs/benchmarks.md, "The page of runs").
fn write_timestamp(at: DateTime<Utc>, text: &mut [u8; TEXT_LEN]) -> Option<&str> {
    // The naive parts once: each of `DateTime`'s own accessors adds the (zero) offset again.
    let (date, time) = (at.naive_utc().date(), at.naive_utc().time());
    let (year, nanos) = (date.year(), time.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    let mut put = |from: usize, width: u32, mut value: u32| {
        for i in (from..from + width as usize).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.unsigned_abs());
    put(5, 2, date.month());
    put(8, 2, date.day());
    put(11, 2, time.hour());
    put(14, 2, time.minute());
    put(17, 2, time.second());
    put(20, 6, nanos / 1_000);
    for (i, separator) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (26, b'Z')] {
        text[i] = separator;
    }
    std::str::from_utf8(text).ok()
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
        super::with_timestamp_text(*at, |text| s.serialize_str(text))
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

    proptest::proptest! {
        /// The stack writer is chrono's RFC 3339 writer wherever it writes, and leaves the rest
        /// (years outside 0–9999, leap seconds) to it.
        #[test]
        fn the_stack_writer_writes_what_chrono_writes(
            micros in DateTime::<Utc>::MIN_UTC.timestamp_micros()..=DateTime::<Utc>::MAX_UTC.timestamp_micros(),
            nanos in 0u32..1_000,
            leap in proptest::bool::weighted(0.05),
        ) {
            let at = DateTime::from_timestamp_micros(micros).unwrap() + chrono::Duration::nanoseconds(nanos.into());
            let at = if leap && at.second() == 59 { at.with_nanosecond(at.nanosecond() + 1_000_000_000).unwrap() } else { at };
            let mut text = [0; TEXT_LEN];
            match write_timestamp(at, &mut text) {
                Some(written) => proptest::prop_assert_eq!(written, rfc3339(at)),
                None => proptest::prop_assert!(!(0..=9999).contains(&at.year()) || at.nanosecond() >= 1_000_000_000),
            }
            proptest::prop_assert_eq!(format_timestamp(at), rfc3339(at));
        }

        /// Instants of the years Verdict meets, where the stack writer must write.
        #[test]
        fn the_stack_writer_writes_every_instant_of_years_0_to_9999(
            micros in -62_167_219_200_000_000i64..253_402_300_800_000_000,
        ) {
            let at = DateTime::from_timestamp_micros(micros).unwrap();
            let (mut text, expected) = ([0; TEXT_LEN], rfc3339(at));
            proptest::prop_assert_eq!(write_timestamp(at, &mut text), Some(expected.as_str()));
        }
    }

    #[test]
    fn a_leap_second_is_left_to_chrono() {
        let at = Utc.with_ymd_and_hms(2016, 12, 31, 23, 59, 59).unwrap().with_nanosecond(1_500_000_000).unwrap();
        assert_eq!(write_timestamp(at, &mut [0; TEXT_LEN]), None);
        assert_eq!(format_timestamp(at), "2016-12-31T23:59:60.500000Z");
    }
}
