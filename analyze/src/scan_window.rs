//! A bound on the event hours the lake tables read, carried by a session rather than written
//! into a statement.
//!
//! The classification views join a job to its own connect attempts through a dynamic filter on
//! the job id, which cannot tell one hour directory from another: a statement about the last
//! hour's jobs still opens and filters every attempts file of the lake, so its cost grows with
//! the lake. The region-health detector knows better: the attempts that can matter to the jobs
//! it reads lie between the earliest start of those jobs and the end of its window, give or
//! take the hour the third-party check looks around a failure. Running its statement in a
//! session that carries a `ScanWindow` makes every lake table (`<table>_unique`) list only the
//! partition directories of that period; the views and their results stay the same.

use datafusion::logical_expr::{Expr, col, lit};
use datafusion::scalar::ScalarValue;
use failscope_schemas::Timestamp;

use crate::session_mark::SessionMark;

pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The event hours, `[from, until]` by the hour each lies in, that the lake tables of a session
/// read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScanWindow {
    pub(crate) from: Timestamp,
    pub(crate) until: Timestamp,
}

/// A session carrying a window: its lake tables read only the window's partitions.
impl SessionMark for ScanWindow {}

impl ScanWindow {
    /// The window a session carries, if any.
    pub(crate) fn of(config: &datafusion::prelude::SessionConfig) -> Option<ScanWindow> {
        config.get_extension::<ScanWindow>().map(|w| *w)
    }

    /// The filter on the partition columns (`date` typed, `hour` two-digit text) that keeps
    /// the hour directories of the window; the listing prunes the others before any file is
    /// opened.
    pub(crate) fn partition_filter(self) -> Expr {
        let text = |t: Timestamp| {
            let (days, hour) = partition_of(t);
            (ScalarValue::Date32(Some(days)), format!("{hour:02}"))
        };
        let ((from_date, from_hour), (until_date, until_hour)) = (text(self.from), text(self.until));
        let (date, hour) = (col("date"), col("hour"));
        date.clone()
            .gt_eq(lit(from_date.clone()))
            .and(date.clone().lt_eq(lit(until_date.clone())))
            .and(date.clone().gt(lit(from_date)).or(hour.clone().gt_eq(lit(from_hour))))
            .and(date.lt(lit(until_date)).or(hour.lt_eq(lit(until_hour))))
    }
}

/// The lake partition holding `t`: its date (days since the Unix epoch, as `Date32`) and hour.
pub(crate) fn partition_of(t: Timestamp) -> (i32, i32) {
    let ms = t.as_millis();
    (ms.div_euclid(24 * HOUR_MS) as i32, ms.div_euclid(HOUR_MS).rem_euclid(24) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_names_the_partition_values_of_both_ends() {
        // 2022-04-05 23:30 to 2022-04-06 01:10.
        let window = ScanWindow {
            from: Timestamp::from_millis(1_649_201_400_000),
            until: Timestamp::from_millis(1_649_207_400_000),
        };
        let text = window.partition_filter().to_string();
        assert!(text.contains("2022-04-05") && text.contains("2022-04-06"), "{text}");
        assert!(text.contains("Utf8(\"23\")") && text.contains("Utf8(\"01\")"), "{text}");
    }
}
