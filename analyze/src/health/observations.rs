//! What the detector reads from the lake: counts per minute, of connect attempts by region and
//! target (the cells), of the attempts of the workers that failed any by region, target and
//! worker, and of finished jobs by region and project. Read once for a replay, and for the
//! last minutes again on every live tick.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMillisecondType};
use datafusion::common::ParamValues;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use failscope_schemas::Timestamp;
use foldhash::fast::RandomState;
use tracing::debug;

use super::reading::Reading;
use crate::error::{AnalyzeError, Result};
use crate::scan_window::partition_of;

/// Minutes since the Unix epoch: the detector's clock.
pub(crate) type Minute = i64;

pub(crate) fn minute_of(t: Timestamp) -> Minute {
    t.as_millis().div_euclid(60_000)
}

pub(crate) fn timestamp_of(minute: Minute) -> Timestamp {
    Timestamp::from_millis(minute * 60_000)
}

pub(super) const JOB_MINUTES_SQL: &str = include_str!("../../../queries/health/job_minutes.sql");
const JOB_STARTS_SQL: &str = include_str!("../../../queries/health/job_starts.sql");

/// Connect attempts of one cell, split by how they failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectCounts {
    pub n_attempts: u64,
    /// Timeouts and attempts abandoned while hanging.
    pub n_timeouts: u64,
    pub n_refused: u64,
    pub n_dns: u64,
    /// Resets, unreachable networks and TLS failures.
    pub n_other_failed: u64,
    /// Outcomes that say nothing of the path (`other`): neither success nor failure.
    pub n_inconclusive: u64,
}

impl ConnectCounts {
    pub(crate) fn n_failed(&self) -> u64 {
        self.n_timeouts + self.n_refused + self.n_dns + self.n_other_failed
    }

    /// Attempts that tell whether the path works.
    pub(crate) fn n_judged(&self) -> u64 {
        self.n_attempts - self.n_inconclusive.min(self.n_attempts)
    }

    /// Attempts that got through: judged and not failed.
    pub(crate) fn n_succeeded(&self) -> u64 {
        self.n_judged() - self.n_failed().min(self.n_judged())
    }

    pub(crate) fn add(&mut self, other: &ConnectCounts) {
        self.n_attempts += other.n_attempts;
        self.n_timeouts += other.n_timeouts;
        self.n_refused += other.n_refused;
        self.n_dns += other.n_dns;
        self.n_other_failed += other.n_other_failed;
        self.n_inconclusive += other.n_inconclusive;
    }

    /// Takes out counts that were added before (never below zero).
    pub(crate) fn sub(&mut self, other: &ConnectCounts) {
        self.n_attempts = self.n_attempts.saturating_sub(other.n_attempts);
        self.n_timeouts = self.n_timeouts.saturating_sub(other.n_timeouts);
        self.n_refused = self.n_refused.saturating_sub(other.n_refused);
        self.n_dns = self.n_dns.saturating_sub(other.n_dns);
        self.n_other_failed = self.n_other_failed.saturating_sub(other.n_other_failed);
        self.n_inconclusive = self.n_inconclusive.saturating_sub(other.n_inconclusive);
    }
}

/// Finished jobs of one region and project.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobCounts {
    pub n_jobs: u64,
    pub n_failed: u64,
    pub n_infra: u64,
    pub n_user: u64,
    pub n_unknown: u64,
}

impl JobCounts {
    pub(crate) fn add(&mut self, other: &JobCounts) {
        self.n_jobs += other.n_jobs;
        self.n_failed += other.n_failed;
        self.n_infra += other.n_infra;
        self.n_user += other.n_user;
        self.n_unknown += other.n_unknown;
    }

    /// Takes out counts that were added before (never below zero).
    pub(crate) fn sub(&mut self, other: &JobCounts) {
        self.n_jobs = self.n_jobs.saturating_sub(other.n_jobs);
        self.n_failed = self.n_failed.saturating_sub(other.n_failed);
        self.n_infra = self.n_infra.saturating_sub(other.n_infra);
        self.n_user = self.n_user.saturating_sub(other.n_user);
        self.n_unknown = self.n_unknown.saturating_sub(other.n_unknown);
    }
}

/// Every worker's attempts in one cell and minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CellRow {
    pub region: Arc<str>,
    pub target: Arc<str>,
    pub counts: ConnectCounts,
}

/// One failing worker's attempts in one cell and minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectRow {
    pub region: Arc<str>,
    pub target: Arc<str>,
    pub worker: Arc<str>,
    pub counts: ConnectCounts,
}

/// One row of `job_minutes.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobRow {
    pub region: Arc<str>,
    pub project: Arc<str>,
    pub counts: JobCounts,
}

/// The counts the detector holds, by minute.
#[derive(Debug, Default, Clone)]
pub struct Observations {
    pub(crate) cells: BTreeMap<Minute, Vec<CellRow>>,
    /// The workers that failed a connect, in the minutes within reach of a failure (the
    /// longest window): a worker that failed in a window is here for every minute of it.
    pub(crate) connects: BTreeMap<Minute, Vec<ConnectRow>>,
    pub(crate) jobs: BTreeMap<Minute, Vec<JobRow>>,
    names: HashSet<Arc<str>, RandomState>,
    /// How many names were left at the last pruning.
    names_after_prune: usize,
}

impl Observations {
    /// Reads the counts of `[since, until)` from the lake: the connect attempts in one pass
    /// (keeping a worker's own rows within `reach_minutes` of its failures, the longest window
    /// the detector looks at a worker over), and the jobs with their classification.
    pub async fn load(
        ctx: &SessionContext,
        since: Timestamp,
        until: Timestamp,
        reach_minutes: i64,
    ) -> Result<Observations> {
        let mut observations = Observations::default();
        let mut reading = Reading::start(ctx, since, until, reach_minutes).await?;
        while reading.next(&mut observations).await?.is_some() {}
        Ok(observations)
    }

    /// Replaces every minute from `from` on with `fresh`'s: a live tick re-reads the recent
    /// minutes, which late files may have completed since the last tick.
    pub(crate) fn replace_from(&mut self, from: Minute, fresh: Observations) {
        self.cells.split_off(&from);
        self.connects.split_off(&from);
        self.jobs.split_off(&from);
        for (minute, rows) in fresh.cells.into_iter().filter(|(m, _)| *m >= from) {
            let rows = rows.into_iter().map(|r| self.intern_cell(r)).collect();
            self.cells.insert(minute, rows);
        }
        for (minute, rows) in fresh.connects.into_iter().filter(|(m, _)| *m >= from) {
            let rows = rows.into_iter().map(|r| self.intern_connect(r)).collect();
            self.connects.insert(minute, rows);
        }
        for (minute, rows) in fresh.jobs.into_iter().filter(|(m, _)| *m >= from) {
            let rows = rows.into_iter().map(|r| self.intern_job(r)).collect();
            self.jobs.insert(minute, rows);
        }
    }

    /// Forgets the minutes before `minute` (they live on in the baselines), and now and then
    /// the names nothing holds any more: a live detector runs for months over workers that
    /// come and go. Pruning when the names have doubled keeps its cost per step constant.
    pub(crate) fn forget_before(&mut self, minute: Minute) {
        self.cells = self.cells.split_off(&minute);
        self.connects = self.connects.split_off(&minute);
        self.jobs = self.jobs.split_off(&minute);
        if self.names.len() > 2 * self.names_after_prune.max(1024) {
            self.names.retain(|name| Arc::strong_count(name) > 1);
            self.names_after_prune = self.names.len();
        }
    }

    pub(crate) fn cells_at(&self, minute: Minute) -> &[CellRow] {
        self.cells.get(&minute).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn connects_at(&self, minute: Minute) -> &[ConnectRow] {
        self.connects.get(&minute).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn jobs_at(&self, minute: Minute) -> &[JobRow] {
        self.jobs.get(&minute).map_or(&[], Vec::as_slice)
    }

    #[cfg(test)]
    pub(crate) fn push_connect(
        &mut self,
        minute: Minute,
        region: &str,
        target: &str,
        worker: &str,
        counts: ConnectCounts,
    ) {
        let row = ConnectRow { region: region.into(), target: target.into(), worker: worker.into(), counts };
        let row = self.intern_connect(row);
        let cells = self.cells.entry(minute).or_default();
        match cells.iter_mut().find(|c| c.region == row.region && c.target == row.target) {
            Some(cell) => cell.counts.add(&counts),
            None => cells.push(CellRow { region: Arc::clone(&row.region), target: Arc::clone(&row.target), counts }),
        }
        self.connects.entry(minute).or_default().push(row);
    }

    /// Leaves out the worker rows of the workers that never failed, as the query does.
    #[cfg(test)]
    pub(crate) fn only_failing_workers(mut self) -> Observations {
        let failing: HashSet<Arc<str>> = self
            .connects
            .values()
            .flatten()
            .filter(|r| r.counts.n_failed() > 0)
            .map(|r| Arc::clone(&r.worker))
            .collect();
        for rows in self.connects.values_mut() {
            rows.retain(|r| failing.contains(&r.worker));
        }
        self
    }

    #[cfg(test)]
    pub(crate) fn push_job(&mut self, minute: Minute, region: &str, project: &str, counts: JobCounts) {
        let row = JobRow { region: region.into(), project: project.into(), counts };
        let row = self.intern_job(row);
        self.jobs.entry(minute).or_default().push(row);
    }

    /// The one copy of `name` the observations keep.
    pub(super) fn intern(&mut self, name: &Arc<str>) -> Arc<str> {
        if let Some(known) = self.names.get(name) {
            return Arc::clone(known);
        }
        self.names.insert(Arc::clone(name));
        Arc::clone(name)
    }

    fn intern_cell(&mut self, row: CellRow) -> CellRow {
        CellRow { region: self.intern(&row.region), target: self.intern(&row.target), counts: row.counts }
    }

    fn intern_connect(&mut self, row: ConnectRow) -> ConnectRow {
        ConnectRow {
            region: self.intern(&row.region),
            target: self.intern(&row.target),
            worker: self.intern(&row.worker),
            counts: row.counts,
        }
    }

    fn intern_job(&mut self, row: JobRow) -> JobRow {
        JobRow { region: self.intern(&row.region), project: self.intern(&row.project), counts: row.counts }
    }

    /// Adds a cell's counts in `minute`.
    pub(super) fn push_cell(&mut self, minute: Minute, row: CellRow) {
        let row = self.intern_cell(row);
        self.cells.entry(minute).or_default().push(row);
    }

    /// Adds a failing worker's counts in `minute`, its names interned already (by
    /// [`Observations::intern`]: a worker's rows are many, its names few).
    pub(super) fn push_worker_row(&mut self, minute: Minute, row: ConnectRow) {
        self.connects.entry(minute).or_default().push(row);
    }

    pub(super) fn add_job_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        let (regions, projects) = (strings(batch, 0)?, strings(batch, 1)?);
        let minutes = ints(batch, 2)?;
        let counts: Vec<Vec<i64>> = (3..8).map(|i| ints(batch, i)).collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            let n = |c: usize| counts[c][row].max(0) as u64;
            let counts = JobCounts { n_jobs: n(0), n_failed: n(1), n_infra: n(2), n_user: n(3), n_unknown: n(4) };
            let job = JobRow { region: self.intern(&regions[row]), project: self.intern(&projects[row]), counts };
            self.jobs.entry(minutes[row]).or_default().push(job);
        }
        Ok(())
    }
}

/// The window as the queries' parameters: timestamps, and the dates and hours that bound the
/// lake directories to list.
pub(super) fn window_params(since: Timestamp, until: Timestamp) -> ParamValues {
    let ts = |t: Timestamp| ScalarValue::TimestampMillisecond(Some(t.as_millis()), Some("UTC".into()));
    let date = |t: Timestamp| ScalarValue::Date32(Some(partition_of(t).0));
    let hour = |t: Timestamp| ScalarValue::Int32(Some(partition_of(t).1));
    ParamValues::from(vec![
        ("since", ts(since)),
        ("until", ts(until)),
        ("since_date", date(since)),
        ("since_hour", hour(since)),
        ("until_date", date(until)),
        ("until_hour", hour(until)),
    ])
}

/// When the earliest job of the window started (UTC milliseconds), `None` without jobs.
pub(super) async fn earliest_job_start(ctx: &SessionContext, params: &ParamValues) -> Result<Option<i64>> {
    let batches = run(ctx, "job_starts", JOB_STARTS_SQL, params).await?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else { return Ok(None) };
    let column = cast(batch.column(0), &DataType::Timestamp(TimeUnit::Millisecond, None))?;
    let column = column.as_primitive::<TimestampMillisecondType>();
    Ok(column.is_valid(0).then(|| column.value(0)))
}

/// Runs one of the detector's queries; how long it took is logged at debug level.
pub(super) async fn run(ctx: &SessionContext, name: &str, sql: &str, params: &ParamValues) -> Result<Vec<RecordBatch>> {
    let started = Instant::now();
    let df = ctx.sql(sql).await?.with_param_values(params.clone())?;
    let batches = df.collect().await?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    debug!(query = name, rows, elapsed_ms = started.elapsed().as_millis() as u64, "health observations read");
    Ok(batches)
}

/// Column `i` as owned strings (the lake's text reads as `Utf8View` or `Utf8`).
fn strings(batch: &RecordBatch, i: usize) -> Result<Vec<Arc<str>>> {
    let column = cast(batch.column(i), &DataType::Utf8)?;
    let column = column.as_string::<i32>();
    Ok((0..column.len()).map(|r| Arc::from(if column.is_null(r) { "" } else { column.value(r) })).collect())
}

fn ints(batch: &RecordBatch, i: usize) -> Result<Vec<i64>> {
    let column = cast(batch.column(i), &DataType::Int64)?;
    let column = column.as_primitive::<Int64Type>();
    if column.null_count() > 0 {
        return Err(AnalyzeError::Health(format!("column {} has nulls", batch.schema().field(i).name())));
    }
    Ok(column.values().to_vec())
}

#[cfg(test)]
mod tests {
    use failscope_schemas::{ConnectOutcome, JobStatus, TargetOwner};
    use failscope_test_support::fixtures::{MINUTE, T0, connect, job, probe, write_lake};

    use super::*;
    use crate::scan_window::{HOUR_MS, ScanWindow};
    use crate::session_mark::SessionMark;
    use crate::{Analyzer, CatalogConfig};

    async fn open(lake: &std::path::Path) -> Analyzer {
        let config = CatalogConfig {
            lake: lake.into(),
            queries_dir: None,
            memory_limit_bytes: None,
            target_partitions: Some(2),
        };
        Analyzer::open(&config).await.expect("the fixture lake opens")
    }

    /// The job rows the detector reads for `[since, until)` (UTC milliseconds).
    async fn jobs_read(analyzer: &Analyzer, since: i64, until: i64) -> Vec<JobRow> {
        let (since, until) = (Timestamp::from_millis(since), Timestamp::from_millis(until));
        let observations = Observations::load(analyzer.context(), since, until, 60).await.expect("reads");
        observations.jobs.into_values().flatten().collect()
    }

    async fn count(ctx: &SessionContext, sql: &str) -> i64 {
        let batches = ctx.sql(sql).await.expect("plans").collect().await.expect("runs");
        batches[0].column(0).as_primitive::<Int64Type>().value(0)
    }

    /// Probes in three hours: a session scoped to a window reads the partitions of its hours
    /// and no other.
    #[tokio::test]
    async fn a_scoped_session_reads_only_the_partitions_of_its_window() {
        let lake = tempfile::tempdir().expect("temp dir");
        let probes: Vec<_> = [0, 5, 10]
            .into_iter()
            .flat_map(|h| {
                (0..3).map(move |n| {
                    probe(
                        "us-east-2",
                        h * 10 + n,
                        T0 + i64::from(h) * HOUR_MS + i64::from(n) * MINUTE,
                        ConnectOutcome::Ok,
                    )
                })
            })
            .collect();
        write_lake(lake.path(), &[], &probes, 0);
        let analyzer = open(lake.path()).await;
        let sql = "SELECT count(*) FROM connect_attempts";
        assert_eq!(count(analyzer.context(), sql).await, 9);
        let window = |from: i64, until: i64| ScanWindow {
            from: Timestamp::from_millis(from),
            until: Timestamp::from_millis(until),
        };
        let scoped = window(T0 + 5 * HOUR_MS + 30 * MINUTE, T0 + 5 * HOUR_MS + 40 * MINUTE).scope(analyzer.context());
        assert_eq!(count(&scoped, sql).await, 3);
        let scoped = window(T0 + 5 * HOUR_MS - MINUTE, T0 + 10 * HOUR_MS).scope(analyzer.context());
        assert_eq!(count(&scoped, sql).await, 6);
        // The views over the lake tables are scoped alike; the analyzer's session is not.
        assert_eq!(count(&scoped, "SELECT count(*) FROM region_hour_health").await, 2);
        assert_eq!(count(analyzer.context(), sql).await, 9);
    }

    /// Workers that come and go: the names of those whose rows are forgotten go with them.
    #[test]
    fn forgotten_workers_leave_no_names_behind() {
        let mut observations = Observations::default();
        let counts = ConnectCounts { n_attempts: 1, n_timeouts: 1, ..ConnectCounts::default() };
        for minute in 0..5000 {
            observations.push_connect(minute, "us-east-2", "api", &format!("worker-{minute}"), counts);
            observations.forget_before(minute - 60);
        }
        // The region, the target and the workers of the last hour, give or take a doubling.
        assert!(observations.names.len() <= 2 * 1024 + 1, "{} names held", observations.names.len());
        let held: usize = observations.connects.values().map(Vec::len).sum();
        assert_eq!(held, 61);
        // A name still held by a row is still the one the observations hand out.
        let worker: Arc<str> = Arc::from("worker-4999");
        let held = Arc::clone(&observations.connects[&4999][0].worker);
        assert!(Arc::ptr_eq(&observations.intern(&worker), &held));
    }

    /// A job that ran three hours and failed on connect timeouts in its first minutes: read in
    /// the minutes it finished, it is still infra, its attempts being hours before the window.
    #[tokio::test]
    async fn the_jobs_of_a_window_keep_the_connect_evidence_from_before_it() {
        let lake = tempfile::tempdir().expect("temp dir");
        let mut long = job("long", "us-east-2", T0 + 2 * HOUR_MS, JobStatus::Failed);
        long.finished_at = Timestamp::from_millis(T0 + 5 * HOUR_MS + 10 * MINUTE);
        long.failed_step = Some("test".into());
        let attempts: Vec<_> = (0..3)
            .map(|n| connect(&long, n, "api", "checkin", ConnectOutcome::Timeout, i64::from(n) * MINUTE))
            .collect();
        write_lake(lake.path(), &[long], &attempts, 0);
        let analyzer = open(lake.path()).await;
        let jobs = jobs_read(&analyzer, T0 + 5 * HOUR_MS, T0 + 6 * HOUR_MS).await;
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!((jobs[0].counts.n_failed, jobs[0].counts.n_infra), (1, 1), "{jobs:?}");
    }

    /// A job that failed on a third party which another region reached 50 minutes before, in
    /// the hour before the job's: the read saw the third party fail, so the classification
    /// looks at the hour around, and the job is infra. (Without third-party failures in their
    /// hours, the jobs' classification reads their hours only.)
    #[tokio::test]
    async fn a_third_party_failure_is_checked_against_the_hour_before_the_jobs() {
        let lake = tempfile::tempdir().expect("temp dir");
        let mut failed = job("failed", "us-east-2", T0 + 5 * HOUR_MS + 5 * MINUTE, JobStatus::Failed);
        failed.finished_at = Timestamp::from_millis(T0 + 5 * HOUR_MS + 15 * MINUTE);
        failed.exit_code = Some(1);
        let reacher = job("reacher", "eu-west-1", T0 + 4 * HOUR_MS + 15 * MINUTE, JobStatus::Passed);
        let third_party = |j, n, outcome, offset| {
            let mut c = connect(j, n, "pypi", "fetch", outcome, offset);
            c.target_owner = Some(TargetOwner::ThirdParty);
            c
        };
        let attempts = vec![
            third_party(&failed, 0, ConnectOutcome::Timeout, 5 * MINUTE),
            third_party(&reacher, 0, ConnectOutcome::Ok, 5 * MINUTE),
        ];
        write_lake(lake.path(), &[failed, reacher], &attempts, 0);
        let analyzer = open(lake.path()).await;
        let jobs = jobs_read(&analyzer, T0 + 5 * HOUR_MS, T0 + 6 * HOUR_MS).await;
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!((jobs[0].counts.n_failed, jobs[0].counts.n_infra), (1, 1), "{jobs:?}");
    }

    /// Every attempt delivered twice: the detector, which reads them without dropping copies,
    /// attributes the jobs as `job_classifications` does, including a job whose one failed
    /// connect counts twice there (a rule on how many connects failed would tell them apart).
    #[tokio::test]
    async fn repeated_attempts_leave_the_jobs_attributions_as_the_view_has_them() {
        let lake = tempfile::tempdir().expect("temp dir");
        let at = |minutes: i64| T0 + 5 * HOUR_MS + minutes * MINUTE;
        let mut network = job("network", "us-east-2", at(5), JobStatus::Failed);
        (network.failed_step, network.exit_code) = (Some("test".into()), Some(1));
        let mut build = job("build", "us-east-2", at(6), JobStatus::Failed);
        (build.failed_step, build.exit_code) = (Some("build".into()), Some(2));
        let passed = job("passed", "eu-west-1", at(7), JobStatus::Passed);
        let attempts = vec![
            connect(&network, 0, "api", "checkin", ConnectOutcome::Timeout, MINUTE),
            connect(&build, 0, "api", "checkin", ConnectOutcome::Ok, MINUTE),
            connect(&passed, 0, "api", "checkin", ConnectOutcome::Ok, MINUTE),
        ];
        write_lake(lake.path(), &[network, build, passed], &attempts, 0);
        write_lake(lake.path(), &[], &attempts, 1);
        let analyzer = open(lake.path()).await;
        assert_eq!(count(analyzer.context(), "SELECT count(*) FROM connect_attempts_raw").await, 6);
        let mut read = JobCounts::default();
        for row in jobs_read(&analyzer, at(0), at(60)).await {
            read.add(&row.counts);
        }
        let sql =
            |attribution: &str| format!("SELECT count(*) FROM job_classifications WHERE attribution = '{attribution}'");
        let viewed = (
            count(analyzer.context(), &sql("infra")).await,
            count(analyzer.context(), &sql("user")).await,
            count(analyzer.context(), &sql("unknown")).await,
        );
        assert_eq!(viewed, (1, 1, 0));
        assert_eq!((read.n_jobs, read.n_failed), (3, 2));
        assert_eq!((read.n_infra as i64, read.n_user as i64, read.n_unknown as i64), viewed);
    }
}
