//! The detector's read of a window, in event-time order: the connect attempts lake hour by
//! lake hour (`connect_read.rs`), and the finished jobs with their classification in spans of
//! a few hours, each run once the attempts of its hours are counted. The classification then
//! takes the region-hour counts from that read (`provided.rs`) rather than scanning every
//! attempt a second time. Rows go into the observations as they come, and [`Reading::next`]
//! says up to which minute they are complete: a replay judges those minutes while the rest of
//! its window is still being read, and holds only what its windows still need.

use std::collections::{BTreeSet, VecDeque};

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use failscope_schemas::{EventType, Timestamp};

use super::connect_read::{ConnectRead, HourRead};
use super::hour_fold::Hour;
use super::observations::{JOB_MINUTES_SQL, Minute, Observations, earliest_job_start, minute_of, run, window_params};
use crate::dedup::RepeatsHarmless;
use crate::error::{AnalyzeError, Result};
use crate::provided::{RegionHourConnects, RegionHourCount};
use crate::scan_window::{HOUR_MS, ScanWindow, partition_of};
use crate::session_mark::SessionMark;
use crate::task::AbortOnDrop;

/// The lake hours of jobs one classification statement takes at most. Each statement also
/// reads the attempts of the hours around its jobs (their evidence, and an hour on both sides
/// for the third-party check): longer spans read those less often, shorter ones let a replay
/// judge sooner and hold fewer minutes.
const JOB_SPAN_HOURS: i64 = 12;

/// The last spans of a window, counted back from the hour before its last: short, so that
/// little is left to classify, and to judge, once its attempts are read. A span's minutes are
/// judged once its jobs are classified, and its classification starts once its last hour is
/// read: a 12-hour span at the end would leave 12 hours of minutes to judge after the read.
const TAIL_SPAN_HOURS: [i64; 3] = [2, 4, 8];

/// A window being read.
pub(super) struct Reading {
    ctx: SessionContext,
    until: Timestamp,
    connects: ConnectRead,
    /// The region-hour counts of the hours read that a job span still needs, oldest first.
    region_hours: VecDeque<RegionHourCount>,
    /// The hours read so far with failed attempts to third parties.
    third_parties: ThirdPartyFailures,
    /// Where the next job span starts; the window's end once every span is under way.
    next_span: Timestamp,
    /// The job spans under way, oldest first, with where each ends.
    spans: VecDeque<(Timestamp, AbortOnDrop<Result<Vec<RecordBatch>>>)>,
    /// Jobs that finished before this are in the observations.
    jobs_until: Timestamp,
    /// What [`Reading::next`] last said.
    complete_until: Minute,
}

impl Reading {
    /// Starts reading `[since, until)`; a worker's rows are kept within `reach_minutes` of its
    /// failures.
    pub(super) async fn start(
        ctx: &SessionContext,
        since: Timestamp,
        until: Timestamp,
        reach_minutes: i64,
    ) -> Result<Reading> {
        Ok(Reading {
            ctx: ctx.clone(),
            until,
            connects: ConnectRead::start(ctx, since, until, reach_minutes).await?,
            region_hours: VecDeque::new(),
            third_parties: ThirdPartyFailures {
                first_hour_read: since.as_millis().div_euclid(HOUR_MS),
                hours: BTreeSet::new(),
            },
            next_span: since,
            spans: VecDeque::new(),
            jobs_until: since,
            complete_until: minute_of(since),
        })
    }

    /// Reads on into `observations` until more minutes are complete, and returns the minute
    /// before which all are; `None` once the whole window is in.
    pub(super) async fn next(&mut self, observations: &mut Observations) -> Result<Option<Minute>> {
        loop {
            self.keep_going(observations).await?;
            let complete = self.connects.complete_until().min(minute_of(self.jobs_until));
            if complete > self.complete_until {
                self.complete_until = complete;
                return Ok(Some(complete));
            }
            if !self.connects.is_done() {
                if let Some(hour) = self.connects.next_hour(observations).await? {
                    self.took(hour);
                }
            } else if !self.spans.is_empty() {
                self.take_span(observations).await?;
            } else {
                return Ok(None);
            }
        }
    }

    /// Takes what has been read already (hours folded, job spans classified) and starts
    /// what can start, without waiting: a replay calls it between the minutes it judges, so
    /// that the read goes on meanwhile.
    pub(super) async fn keep_going(&mut self, observations: &mut Observations) -> Result<()> {
        loop {
            while self.spans.front().is_some_and(|(_, task)| task.0.is_finished()) {
                self.take_span(observations).await?;
            }
            self.start_spans();
            // The hours fold one at a time while a span is classified, so that its minutes can
            // be judged early rather than all at the end.
            self.connects.yield_to_others(!self.spans.is_empty());
            if !self.connects.next_hour_ready() {
                return Ok(());
            }
            if let Some(hour) = self.connects.next_hour(observations).await? {
                self.took(hour);
            }
        }
    }

    /// Keeps what the job spans need of an hour read.
    fn took(&mut self, hour: HourRead) {
        self.region_hours.extend(hour.region_hours);
        if hour.third_party_failures > 0 {
            self.third_parties.hours.insert(hour.hour);
        }
    }

    /// Starts the classification of every job span whose hours are all counted.
    fn start_spans(&mut self) {
        while self.next_span < self.until {
            let end = Timestamp::from_millis(span_end(self.next_span.as_millis(), self.until.as_millis()));
            let counted =
                self.connects.is_done() || Timestamp::from_millis(self.connects.cells_until() * 60_000) >= end;
            if !counted {
                return;
            }
            // The partitions of the span's jobs: each is classified against its own hour.
            let (first, last) = (partition_of(self.next_span), partition_of(end.add_millis(-1)));
            let counts: Vec<RegionHourCount> = self
                .region_hours
                .iter()
                .filter(|c| (c.date, c.hour) >= first && (c.date, c.hour) <= last)
                .cloned()
                .collect();
            // Later spans start after this one's hours.
            while self.region_hours.front().is_some_and(|c| (c.date, c.hour) < last) {
                self.region_hours.pop_front();
            }
            let task = AbortOnDrop::spawn(read_jobs(
                self.ctx.clone(),
                (self.next_span, end),
                RegionHourConnects(counts),
                self.third_parties.clone(),
            ));
            self.spans.push_back((end, task));
            self.next_span = end;
        }
    }

    /// Waits for the oldest job span and adds its jobs.
    async fn take_span(&mut self, observations: &mut Observations) -> Result<()> {
        let (end, task) = self.spans.pop_front().expect("a job span is under way");
        let batches =
            task.join().await.map_err(|e| AnalyzeError::Health(format!("reading the finished jobs: {e}")))??;
        for batch in &batches {
            observations.add_job_batch(batch)?;
        }
        self.jobs_until = end;
        Ok(())
    }
}

/// Where the job span that starts at `from` ends, in a window that ends at `until` (UTC
/// milliseconds). Spans end on hour boundaries counted back from the hour before the window's
/// last: the last span holds an hour or two of jobs, the ones before it
/// [`TAIL_SPAN_HOURS`], and the rest [`JOB_SPAN_HOURS`] each.
fn span_end(from: i64, until: i64) -> i64 {
    let tail = ((until - 1).div_euclid(HOUR_MS) - 1) * HOUR_MS;
    if from >= tail {
        return until;
    }
    // The boundary just after `from`: the furthest back from `tail` that is still after it.
    let mut back = 0;
    for hours in TAIL_SPAN_HOURS.into_iter().chain(std::iter::repeat(JOB_SPAN_HOURS)) {
        if tail - (back + hours * HOUR_MS) <= from {
            return tail - back;
        }
        back += hours * HOUR_MS;
    }
    unreachable!("the spans repeat without end")
}

/// The hours of a window read so far in which attempts to third parties failed.
#[derive(Clone)]
struct ThirdPartyFailures {
    /// Hours before this were not read: nothing is known of them.
    first_hour_read: Hour,
    hours: BTreeSet<Hour>,
}

impl ThirdPartyFailures {
    /// Whether every hour of `hours` was read and none had such a failure.
    fn none_in(&self, hours: std::ops::RangeInclusive<Hour>) -> bool {
        *hours.start() >= self.first_hour_read && self.hours.range(hours).next().is_none()
    }
}

/// The batches of `job_minutes.sql` for the jobs that finished in `[since, until)`, classified
/// with `counts` as the region-hour counts of their hours.
async fn read_jobs(
    ctx: SessionContext,
    (since, until): (Timestamp, Timestamp),
    counts: RegionHourConnects,
    third_parties: ThirdPartyFailures,
) -> Result<Vec<RecordBatch>> {
    let params = window_params(since, until);
    let Some(earliest_start) = earliest_job_start(&ctx, &params).await? else { return Ok(Vec::new()) };
    // The classification of these jobs looks at their attempts, from their start to their
    // end, and for a third party that failed them, at other regions' attempts up to an hour
    // around the failure (bounds included). Without such failures in their hours (the read
    // counted every attempt of them), the hour around is left unread.
    let first = Timestamp::from_millis(earliest_start.min(since.as_millis()));
    let last = until.add_millis(-1);
    let hours = first.as_millis().div_euclid(HOUR_MS)..=last.as_millis().div_euclid(HOUR_MS);
    let window = if third_parties.none_in(hours) {
        ScanWindow { from: first, until: last }
    } else {
        ScanWindow { from: first.add_millis(-HOUR_MS), until: last.add_millis(HOUR_MS) }
    };
    // Attributions depend on whether a job's connects failed, not on how many copies of one
    // were delivered: the attempts are read without dropping copies.
    let session = RepeatsHarmless(vec![EventType::ConnectAttempt.table()]).scope(&window.scope(&ctx));
    run(&counts.scope(&session), "job_minutes", JOB_MINUTES_SQL, &params).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spans cover the window end to end, none longer than `JOB_SPAN_HOURS` hours; the last
    /// one holds at most two hours and the ones before it grow back from there.
    #[test]
    fn spans_cover_the_window_and_the_last_ones_are_short() {
        let minute = 60_000;
        for (since, until) in [
            (0, 48 * HOUR_MS + minute),
            (17 * minute, 61 * HOUR_MS),
            (5 * HOUR_MS + 3 * minute, 5 * HOUR_MS + 40 * minute),
            (HOUR_MS - minute, 2 * HOUR_MS + minute),
            (HOUR_MS - minute, 9 * HOUR_MS),
        ] {
            let mut spans = vec![];
            let mut from = since;
            while from < until {
                let end = span_end(from, until);
                assert!(end > from && end - from <= JOB_SPAN_HOURS * HOUR_MS, "{from}..{end} in {since}..{until}");
                spans.push(end - from);
                from = end;
            }
            assert_eq!(from, until);
            assert!(spans[spans.len() - 1] <= 2 * HOUR_MS, "{spans:?}");
            // From the end back, each span as long as the one after it or longer, but the
            // first, which starts where the window does.
            for (i, pair) in spans.windows(2).enumerate().skip(1) {
                assert!(pair[0] >= pair[1], "span {i} of {spans:?}");
            }
            for (back, hours) in TAIL_SPAN_HOURS.iter().enumerate() {
                if let Some(span) = spans.len().checked_sub(back + 2).filter(|&i| i > 0).map(|i| spans[i]) {
                    assert_eq!(span, hours * HOUR_MS, "{spans:?}");
                }
            }
        }
    }
}
