//! One lake hour of connect attempts, folded (`connect_read.rs` drives the hours): every
//! attempt counted in its cell (region, target) and minute and in its region's hour, and kept,
//! a few bytes each, until its worker is decided.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch, StringViewArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::common::ParamValues;
use datafusion::prelude::DataFrame;
use datafusion::scalar::ScalarValue;
use failscope_schemas::Timestamp;
use foldhash::fast::RandomState;
use futures::TryStreamExt;

use super::observations::{CellRow, ConnectCounts, Minute, Observations};
use crate::error::{AnalyzeError, Result};
use crate::provided::RegionHourCount;
use crate::scan_window::{HOUR_MS, partition_of};

/// Lake hours since the Unix epoch.
pub(super) type Hour = i64;

/// How an attempt's outcome counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Success,
    Timeout,
    Refused,
    Dns,
    OtherFailed,
    Inconclusive,
}

impl Outcome {
    /// How `outcome` counts in the cells, and whether `region_hour_connects` counts it as not
    /// succeeded (anything but `ok` and `other`, an unknown outcome too): one match for both.
    fn of(outcome: &str) -> (Outcome, bool) {
        match outcome {
            "ok" => (Outcome::Success, false),
            "other" => (Outcome::Inconclusive, false),
            "timeout" | "abandoned" => (Outcome::Timeout, true),
            "refused" => (Outcome::Refused, true),
            "dns_error" => (Outcome::Dns, true),
            "reset" | "unreachable" | "tls_error" => (Outcome::OtherFailed, true),
            _ => (Outcome::Success, true),
        }
    }

    fn failed(self) -> bool {
        !matches!(self, Outcome::Success | Outcome::Inconclusive)
    }

    pub(super) fn count(self, counts: &mut ConnectCounts) {
        counts.n_attempts += 1;
        match self {
            Outcome::Success => {}
            Outcome::Timeout => counts.n_timeouts += 1,
            Outcome::Refused => counts.n_refused += 1,
            Outcome::Dns => counts.n_dns += 1,
            Outcome::OtherFailed => counts.n_other_failed += 1,
            Outcome::Inconclusive => counts.n_inconclusive += 1,
        }
    }
}

/// Names seen in a fold, numbered; the last one looked up is tried first (an hour's rows come
/// in runs of one job, so of one worker and region).
#[derive(Default)]
pub(super) struct Names {
    ids: HashMap<Arc<str>, usize, RandomState>,
    pub(super) names: Vec<Arc<str>>,
    last: Option<usize>,
    /// Names short enough to lie whole in their string view (12 bytes at most), by view:
    /// the view stands for the name in any batch, and comparing it costs one instruction.
    /// Regions and targets are such names as a rule, and few.
    inline: Vec<(u128, usize)>,
    /// The view of the last name looked up in the current batch: within a batch, an equal
    /// view points at the same bytes.
    last_view: Option<(u128, usize)>,
}

/// Inline names remembered by view, at most; the rest are looked up by text.
const INLINE_NAMES: usize = 16;

impl Names {
    /// The id of `name`, and whether it is new.
    fn id(&mut self, name: &str) -> (usize, bool) {
        if let Some(last) = self.last
            && &*self.names[last] == name
        {
            return (last, false);
        }
        let (id, new) = match self.ids.get(name) {
            Some(&id) => (id, false),
            None => {
                let name: Arc<str> = Arc::from(name);
                self.names.push(Arc::clone(&name));
                self.ids.insert(name, self.names.len() - 1);
                (self.names.len() - 1, true)
            }
        };
        self.last = Some(id);
        (id, new)
    }

    /// The id of the name at `i` in `array`, and whether it is new, by its view when that
    /// tells: an inline view, or the view of the name looked up just before in this batch.
    fn id_at(&mut self, array: &StringViewArray, i: usize) -> (usize, bool) {
        let view = array.views()[i];
        if let Some((last, id)) = self.last_view
            && last == view
        {
            return (id, false);
        }
        let inline = view as u32 <= 12;
        if inline && let Some(&(_, id)) = self.inline.iter().find(|(v, _)| *v == view) {
            self.last_view = Some((view, id));
            return (id, false);
        }
        let (id, new) = self.id(array.value(i));
        if inline && self.inline.len() < INLINE_NAMES {
            self.inline.push((view, id));
        }
        self.last_view = Some((view, id));
        (id, new)
    }

    /// Forgets what held for the batch before (views of long names point into its buffers).
    fn new_batch(&mut self) {
        self.last_view = None;
    }

    fn get(&self, name: &str) -> Option<usize> {
        self.ids.get(name).copied()
    }
}

impl std::ops::Index<usize> for Names {
    type Output = Arc<str>;
    fn index(&self, id: usize) -> &Arc<str> {
        &self.names[id]
    }
}

/// The workers of an hour, and which of them failed a connect.
#[derive(Default)]
pub(super) struct Failing {
    pub(super) workers: Names,
    /// By worker id.
    pub(super) failed: Vec<bool>,
}

impl Failing {
    pub(super) fn failed(&self, name: &str) -> bool {
        self.workers.get(name).is_some_and(|id| self.failed[id])
    }
}

/// One attempt, as an hour keeps it until its worker is decided: a few bytes, since an hour
/// holds every attempt of the hour while most workers never fail.
#[derive(Clone, Copy)]
pub(super) struct Attempt {
    pub(super) worker: u32,
    pub(super) cell: u32,
    /// Minutes into the hour.
    pub(super) minute: u8,
    pub(super) outcome: Outcome,
}

/// An hour's (region, target) cells, numbered, and their counts minute by minute.
#[derive(Default)]
pub(super) struct Cells {
    /// [region][target] → cell id.
    ids: Vec<Vec<Option<u32>>>,
    /// Cell id → (region, target).
    pub(super) keys: Vec<(usize, usize)>,
    /// Cell id → counts by minute into the hour.
    counts: Vec<[ConnectCounts; 60]>,
}

impl Cells {
    fn id(&mut self, region: usize, target: usize) -> u32 {
        if self.ids.len() <= region {
            self.ids.resize_with(region + 1, Vec::new);
        }
        let targets = &mut self.ids[region];
        if targets.len() <= target {
            targets.resize(target + 1, None);
        }
        *targets[target].get_or_insert_with(|| {
            self.keys.push((region, target));
            self.counts.push([ConnectCounts::default(); 60]);
            (self.keys.len() - 1) as u32
        })
    }
}

/// One hour of attempts, folded: counted by cell and minute, and kept, a few bytes each, for
/// the decision on their workers.
pub(super) struct HourFold {
    pub(super) n_rows: usize,
    /// The part of the hour in the window, UTC milliseconds (half-open).
    from: i64,
    to: i64,
    /// Time spent folding the hour's rows (reading them not counted).
    pub(super) folding: Duration,
    /// The hour's first minute.
    pub(super) first_minute: Minute,
    pub(super) regions: Names,
    pub(super) targets: Names,
    pub(super) cells: Cells,
    pub(super) failing: Failing,
    pub(super) attempts: Vec<Attempt>,
    /// By region id: every attempt of the hour, in the window or not and to any target, and
    /// those that did not succeed (`region_hour_connects` counts).
    region_counts: Vec<(i64, i64)>,
    /// Attempts of the hour to third parties, in the window or not, that did not succeed.
    pub(super) third_party_failures: u64,
}

pub(super) async fn fold_hour(statement: DataFrame, hour: Hour, from: i64, to: i64) -> Result<HourFold> {
    let (date, hour_of_day) = partition_of(Timestamp::from_millis(hour * HOUR_MS));
    let params = ParamValues::from(vec![
        ("date", ScalarValue::Date32(Some(date))),
        ("hour", ScalarValue::Int32(Some(hour_of_day))),
    ]);
    let mut stream = statement.with_param_values(params)?.execute_stream().await?;
    let mut fold = HourFold {
        n_rows: 0,
        from,
        to,
        folding: Duration::ZERO,
        first_minute: hour * 60,
        regions: Names::default(),
        targets: Names::default(),
        cells: Cells::default(),
        failing: Failing::default(),
        attempts: Vec::new(),
        region_counts: Vec::new(),
        third_party_failures: 0,
    };
    while let Some(batch) = stream.try_next().await? {
        let started = Instant::now();
        fold.add(&batch)?;
        fold.folding += started.elapsed();
    }
    Ok(fold)
}

impl HourFold {
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let regions = text(batch, 0)?;
        let targets = text(batch, 1)?;
        let workers = text(batch, 2)?;
        let started = cast(batch.column(3), &DataType::Timestamp(TimeUnit::Millisecond, None))?;
        let started = started.as_primitive::<TimestampMillisecondType>();
        let outcomes = text(batch, 4)?;
        let flag = |i: usize| {
            batch.column(i).as_boolean_opt().ok_or_else(|| {
                AnalyzeError::Health(format!("column {} is not a boolean", batch.schema().field(i).name()))
            })
        };
        let (own_targets, third_parties) = (flag(5)?, flag(6)?);
        self.attempts.reserve(batch.num_rows());
        for names in [&mut self.regions, &mut self.targets, &mut self.failing.workers] {
            names.new_batch();
        }
        for i in 0..batch.num_rows() {
            let (region, new_region) = self.regions.id_at(&regions, i);
            if new_region {
                self.region_counts.push((0, 0));
            }
            let (outcome, not_ok) = Outcome::of(outcomes.value(i));
            let counts = &mut self.region_counts[region];
            counts.0 += 1;
            counts.1 += i64::from(not_ok);
            self.third_party_failures += u64::from(not_ok && third_parties.value(i));
            let at = started.value(i);
            if at < self.from || at >= self.to || own_targets.value(i) {
                // Outside the window, or a job's connect to its own target (a test's database
                // on loopback), which says nothing of the platform: counted for the region only.
                continue;
            }
            let (target, _) = self.targets.id_at(&targets, i);
            let (worker, new) = self.failing.workers.id_at(&workers, i);
            // The statement reads the attempts of this hour only.
            let minute = u8::try_from(at.div_euclid(60_000) - self.first_minute)
                .ok()
                .filter(|m| *m < 60)
                .ok_or_else(|| AnalyzeError::Health(format!("an attempt outside the hour read: {at}")))?;
            let cell = self.cells.id(region, target);
            outcome.count(&mut self.cells.counts[cell as usize][usize::from(minute)]);
            if new {
                self.failing.failed.push(false);
            }
            self.failing.failed[worker] |= outcome.failed();
            let worker =
                u32::try_from(worker).map_err(|_| AnalyzeError::Health("over 2^32 workers in an hour".into()))?;
            self.attempts.push(Attempt { worker, cell, minute, outcome });
        }
        self.n_rows += batch.num_rows();
        Ok(())
    }

    /// The hour's counts by region, for `region_hour_connects`.
    pub(super) fn region_hours(&self) -> Vec<RegionHourCount> {
        let (date, hour) = partition_of(Timestamp::from_millis(self.first_minute * 60_000));
        self.region_counts
            .iter()
            .enumerate()
            .map(|(region, &(n_connects, n_failed_connects))| RegionHourCount {
                region: Arc::clone(&self.regions[region]),
                date,
                hour,
                n_connects,
                n_failed_connects,
            })
            .collect()
    }

    /// Adds the hour's cells, minute by minute, to `observations`.
    pub(super) fn emit_cells(&self, observations: &mut Observations) {
        for (cell, &(region, target)) in self.cells.keys.iter().enumerate() {
            for (offset, counts) in self.cells.counts[cell].iter().enumerate().filter(|(_, c)| c.n_attempts > 0) {
                let row = CellRow {
                    region: Arc::clone(&self.regions[region]),
                    target: Arc::clone(&self.targets[target]),
                    counts: *counts,
                };
                observations.push_cell(self.first_minute + offset as Minute, row);
            }
        }
    }
}

/// Column `i` as string views (the lake's text reads as `Utf8View`, or `Utf8` elsewhere).
pub(super) fn text(batch: &RecordBatch, i: usize) -> Result<StringViewArray> {
    let column = batch.column(i);
    let column = match column.data_type() {
        DataType::Utf8View => Arc::clone(column),
        _ => cast(column, &DataType::Utf8View)?,
    };
    if column.null_count() > 0 {
        return Err(AnalyzeError::Health(format!("column {} has nulls", batch.schema().field(i).name())));
    }
    Ok(column.as_string_view().clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looking names up by view gives what looking them up by text gives, across batches: an
    /// inline view (short names) stands for its name anywhere, while the view of a long name
    /// points into its batch's buffers, where the next batch may hold another name.
    #[test]
    fn names_by_view_are_the_names_by_text_across_batches() {
        let batches = [
            vec!["worker-aaaaaaaaaaaa-1"],
            // Same length, prefix and place as the last name of the batch before: the same
            // view for another name.
            vec!["worker-bbbbbbbbbbbb-1", "worker-bbbbbbbbbbbb-1", "us-east-2", "worker-aaaaaaaaaaaa-1", "api"],
            vec!["eu-west-1", "api", "us-east-2", "logs", "api"],
        ];
        let mut by_view = Names::default();
        let mut by_text = Names::default();
        for batch in batches {
            let array = StringViewArray::from_iter_values(batch.iter().copied());
            by_view.new_batch();
            for (i, name) in batch.iter().enumerate() {
                assert_eq!(by_view.id_at(&array, i), by_text.id(name), "{name} in {batch:?}");
            }
        }
        assert_eq!(by_view.names, by_text.names);
        assert_eq!(by_view.names.len(), 6);
    }
}
