//! Driving the detector over the lake: a replay of any past period, read once and stepped
//! through minute by minute, and the live detector, which re-reads the last minutes on each
//! tick. Both run the same `Detector` steps.

use std::time::Instant;

use datafusion::prelude::SessionContext;
use failscope_schemas::Timestamp;
use tracing::debug;

use super::config::DetectorConfig;
use super::detector::Detector;
use super::feed::{HealthChange, HealthSnapshot};
use super::observations::{Minute, Observations, minute_of, timestamp_of};
use super::reading::Reading;
use crate::analyzer::Analyzer;
use crate::error::Result;

/// What a replay found: the state changes of the period and the state at its end.
#[derive(Debug, Clone)]
pub struct Replay {
    pub changes: Vec<HealthChange>,
    pub snapshot: HealthSnapshot,
}

/// Replays `[from, until]` as if live: the detector starts `warmup_minutes` earlier so that its
/// baselines are formed at `from`, reads the lake once, and judges every minute, each as soon
/// as the minutes before it are read. Changes before `from` (during the warm-up) are left out.
pub async fn replay(analyzer: &Analyzer, from: Timestamp, until: Timestamp, config: DetectorConfig) -> Result<Replay> {
    replay_in(analyzer.context(), from, until, config).await
}

/// [`replay`] in a session with the lake's tables and views registered.
pub(crate) async fn replay_in(
    ctx: &SessionContext,
    from: Timestamp,
    until: Timestamp,
    config: DetectorConfig,
) -> Result<Replay> {
    let start = minute_of(from) - config.warmup_minutes;
    let read_from = start - config.longest_window_minutes() - 1;
    let end = minute_of(until);
    let reach = config.longest_window_minutes();
    let mut reading = Reading::start(ctx, timestamp_of(read_from), timestamp_of(end + 1), reach).await?;
    let mut detector = Detector::new(config, start);
    let mut changes = Vec::new();
    // Judging minute t takes the minutes before it: each is judged as soon as those are in,
    // an hour of minutes at a time, so that the read goes on in between.
    let started = Instant::now();
    while let Some(complete_until) = reading.next(detector.unjudged_observations()).await? {
        let (target, judging) = (complete_until.min(end), Instant::now());
        let first = detector.next_minute();
        while detector.next_minute() <= target {
            let step_to = (detector.next_minute() + 59).min(target);
            changes.extend(detector.advance_to(step_to).into_iter().filter(|c| c.at >= from));
            reading.keep_going(detector.unjudged_observations()).await?;
        }
        debug!(
            minutes = detector.next_minute() - first,
            at_ms = judging.duration_since(started).as_millis() as u64,
            judging_ms = judging.elapsed().as_millis() as u64,
            "health replay judged"
        );
    }
    changes.extend(detector.advance_to(end).into_iter().filter(|c| c.at >= from));
    Ok(Replay { changes, snapshot: detector.snapshot() })
}

/// The detector of a running service: warmed up over the recent past at start, then advanced
/// on every tick with the minutes the lake gained.
#[derive(Debug)]
pub struct LiveDetector {
    detector: Detector,
}

impl LiveDetector {
    /// Warms up over the `warmup_minutes` before `now`.
    pub async fn start(
        analyzer: &Analyzer,
        now: Timestamp,
        config: DetectorConfig,
    ) -> Result<(LiveDetector, Vec<HealthChange>)> {
        let start = minute_of(now) - config.warmup_minutes;
        let mut live = LiveDetector { detector: Detector::new(config, start) };
        let changes = live.tick(analyzer, now).await?;
        Ok((live, changes))
    }

    /// Re-reads the minutes the windows still need (late files may have completed them) and
    /// judges up to the minute holding `now`, whose partial data counts already: an incident
    /// visible in the lake changes the state within one tick.
    pub async fn tick(&mut self, analyzer: &Analyzer, now: Timestamp) -> Result<Vec<HealthChange>> {
        let config = self.detector.config();
        let reread_from: Minute = self.detector.next_minute() - config.longest_window_minutes() - 1;
        let target = minute_of(now) + 1;
        let (since, until) = (timestamp_of(reread_from), timestamp_of(target));
        let fresh = Observations::load(analyzer.context(), since, until, config.longest_window_minutes()).await?;
        self.detector.observe(reread_from, fresh);
        if self.detector.next_minute() <= target {
            Ok(self.detector.advance_to(target))
        } else {
            Ok(self.detector.rejudge(target))
        }
    }

    pub fn snapshot(&self) -> HealthSnapshot {
        self.detector.snapshot()
    }
}
