//! The detector's read of the connect attempts: one pass over a window, lake hour by lake hour,
//! folded in memory into what [`Observations`] holds.
//!
//! - Every attempt counts in its cell (region, target) and minute.
//! - A worker's own rows (its attempts by cell and minute) are kept only when it failed a
//!   connect within `reach` of them. The detector looks at a worker only over a window in which
//!   it failed, and a window is never longer than `reach`. Most of a fleet never fails, so this
//!   keeps a small share of the rows (8 % on the benchmark's lake).
//!
//! The lake partitions attempts by the hour they started. An hour's rows are therefore folded
//! on their own (`hour_fold.rs`; several hours at once, one task each), and a worker's rows of hour `h` are
//! decided once the hours up to `h + reach` are folded. Memory holds a few hours of attempts,
//! 12 bytes each, whatever the length of the window. SQL could say the same with a join of the
//! attempts to their failing workers, but that reads the attempts twice and builds a join over
//! all of them: three times one scan on 48 hours of 50 M attempts.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::prelude::{DataFrame, SessionContext};
use failscope_schemas::Timestamp;
use foldhash::fast::RandomState;
use tracing::debug;

use super::hour_fold::{Failing, Hour, HourFold, Names, fold_hour};
use super::observations::{ConnectCounts, ConnectRow, Minute, Observations, minute_of};
use crate::error::{AnalyzeError, Result};
use crate::provided::RegionHourCount;
use crate::scan_window::HOUR_MS;
use crate::task::AbortOnDrop;

const CONNECT_ROWS_SQL: &str = include_str!("../../../queries/health/connect_rows.sql");

/// The read of the connect attempts of `[since, until)`, hour by hour: the cells of every
/// minute, the rows of each worker within `reach_minutes` of one of its failures, and every
/// region's counts per lake hour (`region_hour_connects`).
pub(super) struct ConnectRead {
    /// The statement, parsed and planned once; each hour binds its parameters.
    statement: DataFrame,
    since: Timestamp,
    until_ms: i64,
    /// The next hour to start folding, and the end of the hours to read (exclusive).
    next: Hour,
    end: Hour,
    /// Hours folded at once, one task each: they go on while the caller judges.
    in_flight: usize,
    /// Whether other work of the caller comes first: one hour folds at a time then.
    yielding: bool,
    folding: VecDeque<AbortOnDrop<Result<HourFold>>>,
    window: Neighbours,
    until: Minute,
    /// Minutes before this have all their cells, and all their workers' rows.
    cells_until: Minute,
    workers_until: Minute,
    done: bool,
    started: Instant,
    n_hours: i64,
    n_rows: usize,
    folding_time: Duration,
    emitting: Duration,
}

/// What one more hour read brought.
pub(super) struct HourRead {
    /// The lake hour's counts by region, for `region_hour_connects`.
    pub region_hours: Vec<RegionHourCount>,
    /// The lake hour read.
    pub hour: Hour,
    /// Its attempts to third parties that did not succeed, whatever their minute or region.
    pub third_party_failures: u64,
}

impl ConnectRead {
    pub(super) async fn start(
        ctx: &SessionContext,
        since: Timestamp,
        until: Timestamp,
        reach_minutes: i64,
    ) -> Result<ConnectRead> {
        let (first, last) = (since.as_millis().div_euclid(HOUR_MS), (until.as_millis() - 1).div_euclid(HOUR_MS));
        let reach = usize::try_from((reach_minutes.max(1) + 59) / 60).unwrap_or(1);
        let in_flight = ctx.copied_config().target_partitions().max(1);
        let statement = ctx.sql(CONNECT_ROWS_SQL).await?;
        let n_hours = if until > since { last - first + 1 } else { 0 };
        let start = minute_of(since);
        Ok(ConnectRead {
            statement,
            since,
            until_ms: until.as_millis(),
            next: first,
            end: first + n_hours,
            in_flight,
            yielding: false,
            folding: VecDeque::new(),
            window: Neighbours::new(reach),
            until: minute_of(until),
            cells_until: start,
            workers_until: start,
            done: until <= since,
            started: Instant::now(),
            n_hours,
            n_rows: 0,
            folding_time: Duration::ZERO,
            emitting: Duration::ZERO,
        })
    }

    /// Starts folding hours until `in_flight` are under way. A task per hour, so that hours
    /// fold on several cores and go on while the caller works; aborted if the read is
    /// dropped (a tick cut short, a request gone).
    fn start_hours(&mut self) {
        let in_flight = if self.yielding { 1 } else { self.in_flight };
        while self.folding.len() < in_flight && self.next < self.end {
            let hour = self.next;
            let from = self.since.as_millis().max(hour * HOUR_MS);
            let to = self.until_ms.min((hour + 1) * HOUR_MS);
            self.folding.push_back(AbortOnDrop::spawn(fold_hour(self.statement.clone(), hour, from, to)));
            self.next += 1;
        }
    }

    /// Folds one hour at a time while `yielding`, as many as the session has partitions
    /// otherwise.
    pub(super) fn yield_to_others(&mut self, yielding: bool) {
        self.yielding = yielding;
    }

    /// Minutes before this have all their cells and workers' rows in the observations.
    pub(super) fn complete_until(&self) -> Minute {
        self.cells_until.min(self.workers_until)
    }

    /// Minutes before this have their cells.
    pub(super) fn cells_until(&self) -> Minute {
        self.cells_until
    }

    /// Whether the next hour is folded and waits to be taken ([`ConnectRead::next_hour`]
    /// then returns at once).
    pub(super) fn next_hour_ready(&self) -> bool {
        self.folding.front().is_some_and(|task| task.0.is_finished())
    }

    pub(super) fn is_done(&self) -> bool {
        self.done
    }

    /// Reads the next hour into `observations`; `None` once every hour is read (and every
    /// worker decided).
    pub(super) async fn next_hour(&mut self, observations: &mut Observations) -> Result<Option<HourRead>> {
        if self.done {
            return Ok(None);
        }
        self.start_hours();
        let Some(task) = self.folding.pop_front() else {
            let window = std::mem::replace(&mut self.window, Neighbours::new(1));
            window.finish(observations);
            (self.cells_until, self.workers_until, self.done) = (self.until, self.until, true);
            debug!(
                rows = self.n_rows,
                hours = self.n_hours,
                folding_ms = self.folding_time.as_millis() as u64,
                emitting_ms = self.emitting.as_millis() as u64,
                elapsed_ms = self.started.elapsed().as_millis() as u64,
                "health connect attempts read"
            );
            return Ok(None);
        };
        let fold =
            task.join().await.map_err(|e| AnalyzeError::Health(format!("reading the connect attempts: {e}")))??;
        // The next hour starts before this one's rows are emitted.
        self.start_hours();
        let emitted = Instant::now();
        self.n_rows += fold.n_rows;
        self.folding_time += fold.folding;
        let hour_end = fold.first_minute + 60;
        let (region_hours, third_party_failures) = (fold.region_hours(), fold.third_party_failures);
        let hour = fold.first_minute.div_euclid(60);
        fold.emit_cells(observations);
        let decided_until = self.window.push(fold, observations);
        self.cells_until = hour_end.min(self.until);
        if let Some(decided_until) = decided_until {
            self.workers_until = decided_until.min(self.until);
        }
        self.emitting += emitted.elapsed();
        Ok(Some(HourRead { region_hours, hour, third_party_failures }))
    }
}

/// Reads the connect attempts of `[since, until)` into `observations` at once.
#[cfg(test)]
pub(super) async fn read_connects(
    ctx: &SessionContext,
    since: Timestamp,
    until: Timestamp,
    reach_minutes: i64,
    observations: &mut Observations,
) -> Result<Vec<RegionHourCount>> {
    let mut read = ConnectRead::start(ctx, since, until, reach_minutes).await?;
    let mut counts = Vec::new();
    while let Some(hour) = read.next_hour(observations).await? {
        counts.extend(hour.region_hours);
    }
    Ok(counts)
}

/// The folds of consecutive hours waiting for their neighbours' failures, and the failing
/// workers of the hours already decided that later hours still need.
struct Neighbours {
    reach: usize,
    /// Hours folded, not yet decided: the first is decided once `reach` more are folded.
    pending: VecDeque<HourFold>,
    /// The workers of the last `reach` decided hours, and which of them failed.
    decided: VecDeque<Failing>,
}

impl Neighbours {
    fn new(reach: usize) -> Neighbours {
        Neighbours { reach, pending: VecDeque::new(), decided: VecDeque::new() }
    }

    /// Adds the next hour's fold; the hour `reach` before it is decided and its rows kept.
    /// Returns the end of the hour decided, if one was.
    fn push(&mut self, fold: HourFold, observations: &mut Observations) -> Option<Minute> {
        self.pending.push_back(fold);
        if self.pending.len() > self.reach {
            return Some(self.decide_first(observations));
        }
        None
    }

    /// Decides the hours still pending: the window ends, no later hour can add a failure.
    fn finish(mut self, observations: &mut Observations) {
        while !self.pending.is_empty() {
            self.decide_first(observations);
        }
    }

    /// Keeps the rows of the first pending hour's workers that failed within reach; returns
    /// the end of that hour.
    fn decide_first(&mut self, observations: &mut Observations) -> Minute {
        let fold = self.pending.pop_front().expect("an hour is pending");
        let HourFold { first_minute, regions, targets, cells, failing, attempts, .. } = fold;
        let keep: Vec<bool> = (0..failing.failed.len())
            .map(|id| {
                let name = &failing.workers[id];
                failing.failed[id]
                    || self.decided.iter().any(|past| past.failed(name))
                    || self.pending.iter().take(self.reach).any(|later| later.failing.failed(name))
            })
            .collect();
        // The kept workers' attempts, by worker, cell and minute, in that order.
        let mut kept: HashMap<(u32, u32, u8), ConnectCounts, RandomState> = HashMap::default();
        for a in attempts.iter().filter(|a| keep[a.worker as usize]) {
            a.outcome.count(kept.entry((a.worker, a.cell, a.minute)).or_default());
        }
        let mut kept: Vec<_> = kept.into_iter().collect();
        kept.sort_unstable_by_key(|(key, _)| *key);
        let intern = |names: &Names, observations: &mut Observations| -> Vec<Arc<str>> {
            names.names.iter().map(|name| observations.intern(name)).collect()
        };
        let (regions, targets) = (intern(&regions, observations), intern(&targets, observations));
        let mut worker: Option<(u32, Arc<str>)> = None;
        for ((id, cell, offset), counts) in kept {
            // A worker's rows come together (sorted): its name is interned once.
            let name = match &mut worker {
                Some((w, name)) if *w == id => Arc::clone(name),
                slot => {
                    let name = observations.intern(&failing.workers[id as usize]);
                    *slot = Some((id, Arc::clone(&name)));
                    name
                }
            };
            let (region, target) = cells.keys[cell as usize];
            let connect = ConnectRow {
                region: Arc::clone(&regions[region]),
                target: Arc::clone(&targets[target]),
                worker: name,
                counts,
            };
            observations.push_worker_row(first_minute + Minute::from(offset), connect);
        }
        self.decided.push_back(failing);
        if self.decided.len() > self.reach {
            self.decided.pop_front();
        }
        first_minute + 60
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use arrow::datatypes::Int64Type;
    use failscope_schemas::{ConnectAttempt, ConnectOutcome, TargetOwner};
    use failscope_test_support::fixtures::{MINUTE, T0, probe, write_lake};

    use arrow::array::{AsArray, RecordBatch};
    use arrow::compute::cast;
    use arrow::datatypes::DataType;

    use super::*;
    use crate::provided::RegionHourConnects;
    use crate::session_mark::SessionMark;
    use crate::{Analyzer, CatalogConfig};

    /// An attempt of `worker` in region `r-a` to `target`, `minute` minutes after T0.
    fn attempt(n: u32, worker: &str, target: &str, minute: i64, outcome: ConnectOutcome) -> ConnectAttempt<'static> {
        let mut c = probe("r-a", n, T0 + minute * MINUTE, outcome);
        c.event_id = Cow::Owned(format!("{worker}-{n}"));
        c.worker_id = Cow::Owned(worker.into());
        c.target_service = Cow::Owned(target.into());
        c
    }

    /// Three hours of attempts: a worker that never fails, one that fails once in the middle
    /// hour, one that fails in the first hour only, and a job's connects to its own database.
    fn attempts() -> Vec<ConnectAttempt<'static>> {
        let mut n = 0;
        let mut next = || {
            n += 1;
            n
        };
        let mut out = Vec::new();
        for minute in (0..180).step_by(7) {
            out.push(attempt(next(), "steady", "api", minute, ConnectOutcome::Ok));
            out.push(attempt(next(), "steady", "git", minute, ConnectOutcome::Other));
            let flaky = if minute == 91 { ConnectOutcome::Abandoned } else { ConnectOutcome::Ok };
            out.push(attempt(next(), "flaky", "api", minute, flaky));
            out.push(attempt(next(), "flaky", "api", minute, ConnectOutcome::Ok));
            let early = if minute == 7 { ConnectOutcome::Refused } else { ConnectOutcome::Ok };
            out.push(attempt(next(), "early", "git", minute, early));
            let mut own = attempt(next(), "flaky", "postgres", minute, ConnectOutcome::Refused);
            own.target_owner = Some(TargetOwner::Job);
            out.push(own);
        }
        out
    }

    async fn open(lake: &std::path::Path) -> Analyzer {
        let config = CatalogConfig {
            lake: lake.into(),
            queries_dir: None,
            memory_limit_bytes: None,
            target_partitions: Some(2),
        };
        Analyzer::open(&config).await.expect("the fixture lake opens")
    }

    async fn read(analyzer: &Analyzer, since: i64, until: i64) -> Observations {
        let mut observations = Observations::default();
        let (since, until) = (Timestamp::from_millis(T0 + since * MINUTE), Timestamp::from_millis(T0 + until * MINUTE));
        read_connects(analyzer.context(), since, until, 60, &mut observations).await.expect("reads");
        observations
    }

    /// The cells as SQL counts them from the lake, for the minutes of `[since, until)`.
    async fn cells_by_sql(analyzer: &Analyzer, since: i64, until: i64) -> BTreeMap<(Minute, String), [i64; 6]> {
        let sql = format!(
            "SELECT CAST(to_unixtime(started_at) / 60 AS BIGINT), region || '/' || target_service, COUNT(*),
                    COUNT(CASE WHEN outcome IN ('timeout', 'abandoned') THEN 1 END),
                    COUNT(CASE WHEN outcome = 'refused' THEN 1 END),
                    COUNT(CASE WHEN outcome = 'dns_error' THEN 1 END),
                    COUNT(CASE WHEN outcome IN ('reset', 'unreachable', 'tls_error') THEN 1 END),
                    COUNT(CASE WHEN outcome = 'other' THEN 1 END)
             FROM connect_attempts
             WHERE target_owner <> 'job' AND started_at >= to_timestamp_millis({}) AND started_at < to_timestamp_millis({})
             GROUP BY 1, 2",
            T0 + since * MINUTE,
            T0 + until * MINUTE
        );
        let batches = analyzer.context().sql(&sql).await.expect("plans").collect().await.expect("runs");
        let mut out = BTreeMap::new();
        for batch in batches {
            let ints =
                |i: usize| cast(batch.column(i), &DataType::Int64).expect("int").as_primitive::<Int64Type>().clone();
            let names = cast(batch.column(1), &DataType::Utf8).expect("text");
            let names = names.as_string::<i32>();
            let columns: Vec<_> = (2..8).map(ints).collect();
            for row in 0..batch.num_rows() {
                let counts = std::array::from_fn(|c| columns[c].value(row));
                out.insert((ints(0).value(row), names.value(row).to_string()), counts);
            }
        }
        out
    }

    fn cells_read(observations: &Observations) -> BTreeMap<(Minute, String), [i64; 6]> {
        let mut out = BTreeMap::new();
        for (minute, rows) in &observations.cells {
            for row in rows {
                let c = row.counts;
                let counts = [c.n_attempts, c.n_timeouts, c.n_refused, c.n_dns, c.n_other_failed, c.n_inconclusive];
                let previous =
                    out.insert((*minute, format!("{}/{}", row.region, row.target)), counts.map(|n| n as i64));
                assert!(previous.is_none(), "one row per cell and minute");
            }
        }
        out
    }

    /// Worker → the minutes (after T0) of its rows.
    fn worker_minutes(observations: &Observations) -> BTreeMap<String, Vec<i64>> {
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (minute, rows) in &observations.connects {
            for row in rows {
                out.entry(row.worker.to_string()).or_default().push(minute - T0 / MINUTE);
            }
        }
        out
    }

    #[tokio::test]
    async fn every_attempt_counts_in_its_cell_and_a_worker_is_kept_near_its_failures() {
        let lake = tempfile::tempdir().expect("temp dir");
        write_lake(lake.path(), &[], &attempts(), 0);
        let analyzer = open(lake.path()).await;
        let observations = read(&analyzer, 0, 180).await;
        let expected = cells_by_sql(&analyzer, 0, 180).await;
        assert_eq!(expected.len(), 26 * 2, "two cells in each of 26 minutes: {expected:?}");
        assert_eq!(cells_read(&observations), expected);
        let workers = worker_minutes(&observations);
        let all: Vec<i64> = (0..180).step_by(7).collect();
        // Failed at minute 91 (hour 1): its rows of hours 0 to 2 are all within reach.
        assert_eq!(workers["flaky"], all);
        // Failed at minute 7 (hour 0): its rows of hour 2 are more than an hour away.
        assert_eq!(workers["early"], all.iter().copied().filter(|m| *m < 120).collect::<Vec<_>>());
        assert!(!workers.contains_key("steady"), "a worker that never fails is in the cells only");
    }

    /// `region_hour_connects` as the view computes it, and as a session provides it.
    async fn region_hours(ctx: &SessionContext) -> Vec<(String, i32, i32, i64, i64)> {
        let sql = "SELECT region, date, hour, n_connects, n_failed_connects FROM region_hour_connects ORDER BY 1, 2, 3";
        let batches = ctx.sql(sql).await.expect("plans").collect().await.expect("runs");
        let mut out = Vec::new();
        for batch in batches {
            let text = cast(batch.column(0), &DataType::Utf8).expect("text");
            let date = cast(batch.column(1), &DataType::Int32).expect("days");
            let ints = |i: usize| cast(batch.column(i), &DataType::Int64).expect("int");
            let (hour, n, k) = (ints(2), ints(3), ints(4));
            for row in 0..batch.num_rows() {
                out.push((
                    text.as_string::<i32>().value(row).to_string(),
                    date.as_primitive::<arrow::datatypes::Int32Type>().value(row),
                    hour.as_primitive::<Int64Type>().value(row) as i32,
                    n.as_primitive::<Int64Type>().value(row),
                    k.as_primitive::<Int64Type>().value(row),
                ));
            }
        }
        out
    }

    /// The read counts every attempt of each hour it touches by region, as the view does:
    /// the job's own connects and the minutes outside the window included, `other` not
    /// failed. A session given those counts answers the view's queries with them.
    #[tokio::test]
    async fn the_hours_read_are_counted_by_region_as_region_hour_connects_counts_them() {
        let lake = tempfile::tempdir().expect("temp dir");
        let rows = attempts();
        write_lake(lake.path(), &[], &rows, 0);
        let analyzer = open(lake.path()).await;
        let computed = region_hours(analyzer.context()).await;
        assert_eq!(computed.iter().map(|r| r.3).sum::<i64>(), rows.len() as i64);
        // Minutes 30 to 150: hours 0 to 2 are touched, each counted whole.
        let mut observations = Observations::default();
        let (since, until) = (Timestamp::from_millis(T0 + 30 * MINUTE), Timestamp::from_millis(T0 + 150 * MINUTE));
        let counts = read_connects(analyzer.context(), since, until, 60, &mut observations).await.expect("reads");
        let provided = RegionHourConnects(counts).scope(analyzer.context());
        assert_eq!(region_hours(&provided).await, computed);
        // The session's rows are what it answers with (the view is not computed again).
        let one = RegionHourCount { region: "elsewhere".into(), date: 1, hour: 2, n_connects: 3, n_failed_connects: 1 };
        let provided = RegionHourConnects(vec![one]).scope(analyzer.context());
        let health = provided.sql("SELECT region, n_connects, anomaly_open FROM region_hour_health").await;
        let batches = health.expect("plans").collect().await.expect("runs");
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
        assert_eq!(region_hours(&provided).await, vec![("elsewhere".to_string(), 1, 2, 3, 1)]);
    }

    /// A window that starts and ends inside hours reads only its own minutes; a worker whose
    /// failure lies outside the window is not kept.
    #[tokio::test]
    async fn a_window_inside_hours_reads_its_minutes_only() {
        let lake = tempfile::tempdir().expect("temp dir");
        write_lake(lake.path(), &[], &attempts(), 0);
        let analyzer = open(lake.path()).await;
        let observations = read(&analyzer, 30, 100).await;
        assert_eq!(cells_read(&observations), cells_by_sql(&analyzer, 30, 100).await);
        let workers = worker_minutes(&observations);
        assert_eq!(workers["flaky"], (35..100).step_by(7).collect::<Vec<_>>());
        assert!(!workers.contains_key("early"), "{workers:?}");
    }
}
