//! RFC 3339 timestamps, stored as milliseconds since the Unix epoch in UTC.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// An instant with millisecond precision. On the wire it is an RFC 3339 string; an offset
/// other than `Z` is accepted and converted to UTC, sub-millisecond digits are truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis())
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| Timestamp(t.timestamp_millis()))
            .map_err(|e| format!("not an RFC 3339 timestamp ({e}): {text:?}"))
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).expect("i64 milliseconds from an RFC 3339 date are in chrono's range")
    }

    /// The UTC date and hour of this instant, as used for lake partitions.
    pub fn date_hour(self) -> (String, u32) {
        let t = self.to_datetime();
        (t.format("%Y-%m-%d").to_string(), chrono::Timelike::hour(&t))
    }

    pub fn add_millis(self, millis: i64) -> Self {
        Timestamp(self.0 + millis)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_datetime().to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_rfc3339() {
        let cases = [
            ("2022-04-05T23:04:00.123Z", "2022-04-05T23:04:00.123Z"),
            ("2022-04-05T23:04:00Z", "2022-04-05T23:04:00.000Z"),
            ("2022-04-06T01:04:00.5+02:00", "2022-04-05T23:04:00.500Z"),
            ("2022-04-05T23:04:00.123456Z", "2022-04-05T23:04:00.123Z"),
        ];
        for (input, want) in cases {
            assert_eq!(Timestamp::parse(input).expect(input).to_string(), want, "{input}");
        }
        for bad in ["2022-04-05", "yesterday", "2022-13-01T00:00:00Z", "2022-04-05T23:04:00"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_hour_is_utc() {
        let t = Timestamp::parse("2022-04-06T01:30:00+02:00").expect("valid");
        assert_eq!(t.date_hour(), ("2022-04-05".to_string(), 23));
    }
}
