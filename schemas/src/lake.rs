//! The lake's layout, owned here so that the ingest that writes it and the analysis that reads
//! it cannot drift apart:
//! `<table>/date=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first_offset:020>.parquet`,
//! one table per event type, partitioned by the UTC hour of the *event* (each type's time
//! column), so late events land where they happened and every copy of an event lands in the
//! same directory.

use crate::{EventType, Timestamp};

/// The lake when `--lake` is not given: `lake` under the working directory (commands log the
/// absolute path they use).
#[cfg(feature = "cli")]
const DEFAULT_LAKE: &str = "lake";

/// `--lake` (`FAILSCOPE_LAKE`): one flag, one variable and one default for every command that
/// writes or reads the lake (`ingest`, `sql`, `query`, `health`, `serve`).
#[cfg(feature = "cli")]
#[derive(Debug, Clone, clap::Args)]
pub struct LakeArg {
    /// The lake: a directory holding connect_attempts/ and job_outcomes/, or a `file://`,
    /// `s3://bucket/prefix` or `gs://bucket/prefix` URL (the store configured from the AWS_* or
    /// GOOGLE_* environment variables). A relative directory is taken from the working
    /// directory and logged as an absolute one.
    #[arg(long = "lake", value_name = "LAKE", env = "FAILSCOPE_LAKE", default_value = DEFAULT_LAKE)]
    pub path: std::path::PathBuf,
}

/// The partition columns, in directory order: `date=YYYY-MM-DD/hour=HH` (hour zero-padded).
pub const PARTITION_COLUMNS: [&str; 2] = ["date", "hour"];

const MILLIS_PER_HOUR: i64 = 3_600_000;

impl EventType {
    /// The lake table this event type is stored in.
    pub fn table(self) -> &'static str {
        match self {
            EventType::ConnectAttempt => "connect_attempts",
            EventType::JobOutcome => "job_outcomes",
        }
    }

    /// The column holding the event time, which decides the partition and the sort order of
    /// a file (the same instant as [`crate::TypedEvent::event_time`]).
    pub fn time_column(self) -> &'static str {
        match self {
            EventType::ConnectAttempt => "started_at",
            EventType::JobOutcome => "finished_at",
        }
    }
}

/// The UTC hour an instant falls in, counted from the Unix epoch.
pub fn hour_of(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(MILLIS_PER_HOUR)
}

/// The lake-relative path of a data file.
pub fn file_path(table: &str, hour: i64, topic: &str, partition: i32, first_offset: i64) -> String {
    let (date, hour_of_day) = Timestamp::from_millis(hour * MILLIS_PER_HOUR).date_hour();
    format!("{table}/{}/{}", partition_dir(&date, hour_of_day), file_name(topic, partition, first_offset))
}

/// The partition directory of a date and hour of day: `date=2022-04-05/hour=05`.
pub fn partition_dir(date: &str, hour_of_day: u32) -> String {
    let [date_column, hour_column] = PARTITION_COLUMNS;
    format!("{date_column}={date}/{hour_column}={hour_of_day:02}")
}

/// The file name: topic, partition and first offset, so that files of a partition sort by
/// offset and a replay of the same offsets produces the same name.
pub fn file_name(topic: &str, partition: i32, first_offset: i64) -> String {
    format!("{topic}+{partition}+{first_offset:020}.parquet")
}

/// The topic, partition and first offset encoded in a file name, if it is a data file.
pub fn parse_file_name(name: &str) -> Option<(&str, i32, i64)> {
    let stem = name.strip_suffix(".parquet")?;
    let mut parts = stem.rsplitn(3, '+');
    let offset = parts.next()?.parse().ok()?;
    let partition = parts.next()?.parse().ok()?;
    let topic = parts.next()?;
    Some((topic, partition, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_use_the_event_hour_in_utc() {
        let t = Timestamp::parse("2022-04-05T23:59:59.999Z").expect("valid");
        let path = file_path("connect_attempts", hour_of(t), "ci.connect_attempts", 3, 42);
        assert_eq!(path, "connect_attempts/date=2022-04-05/hour=23/ci.connect_attempts+3+00000000000000000042.parquet");
        let before_epoch = Timestamp::parse("1969-12-31T23:30:00Z").expect("valid");
        assert_eq!(hour_of(before_epoch), -1);
        assert_eq!(partition_dir("2022-04-06", 5), "date=2022-04-06/hour=05");
    }

    #[test]
    fn file_names_round_trip() {
        let name = file_name("ci.job_outcomes", 11, 1_234_567);
        assert_eq!(parse_file_name(&name), Some(("ci.job_outcomes", 11, 1_234_567)));
        for not_data in ["x.parquet.tmp", "a+b.parquet", "a+1+x.parquet", "notes.txt"] {
            assert_eq!(parse_file_name(not_data), None, "{not_data}");
        }
    }

    #[test]
    fn each_table_has_its_time_column() {
        assert_eq!(EventType::ALL.map(EventType::table), ["connect_attempts", "job_outcomes"]);
        for event_type in EventType::ALL {
            let schema = crate::arrow::schema_of(event_type);
            assert!(schema.index_of(event_type.time_column()).is_ok(), "{event_type}");
        }
    }
}
