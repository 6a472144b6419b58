//! A region's health as a state machine with hysteresis, a minimum dwell, back-off for regions
//! that flap, and the flags of targets, workers and projects.
//!
//! `healthy` → `degraded` on a strong signal; → `unhealthy` once it has lasted
//! `escalate_minutes` (at once on a burst) and the capacity cap allows; an unhealthy region
//! stays so while even a weak signal remains, and starts `recovering` after
//! `recover_minutes` of quiet; it is `healthy` again `recovering_minutes` later if quiet then,
//! doubled for each time it fell back to `unhealthy` while recovering (reset once it stayed
//! healthy for the flap window). No state changes twice within
//! `min_dwell_minutes`.

use super::config::DetectorConfig;
use super::feed::Status;
use super::observations::Minute;

/// How strongly a window says something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Nothing beyond the baseline.
    Quiet,
    /// Enough to keep an open alarm open, not to raise one.
    Weak,
    Strong,
    /// Nearly every attempt of the last minutes failed.
    Burst,
}

/// One region's state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RegionState {
    pub status: Status,
    pub since: Minute,
    /// Start of the current run of strong signal.
    signal_since: Option<Minute>,
    /// Start of the current run of quiet.
    quiet_since: Option<Minute>,
    /// Times it fell back to unhealthy while recovering, lately.
    pub flaps: u32,
    /// When it last started recovering.
    recovering_at: Option<Minute>,
}

impl RegionState {
    pub(super) fn new(at: Minute) -> RegionState {
        RegionState {
            status: Status::Healthy,
            since: at,
            signal_since: None,
            quiet_since: Some(at),
            flaps: 0,
            recovering_at: None,
        }
    }

    /// When the current signal began, for the evidence.
    pub(super) fn signal_since(&self) -> Option<Minute> {
        self.signal_since
    }

    /// Feeds the level of minute `t`; returns the new status when it changed. `may_escalate`
    /// is false when making this region unhealthy would pass the capacity cap.
    pub(super) fn step(
        &mut self,
        t: Minute,
        level: Level,
        may_escalate: bool,
        config: &DetectorConfig,
    ) -> Option<Status> {
        if level >= Level::Strong {
            self.signal_since.get_or_insert(t);
        } else {
            self.signal_since = None;
        }
        if level == Level::Quiet {
            self.quiet_since.get_or_insert(t);
        } else {
            self.quiet_since = None;
        }
        let quiet_for = self.quiet_since.map_or(0, |q| t - q + 1);
        let signal_for = self.signal_since.map_or(0, |s| t - s + 1);
        let dwelt = t - self.since >= config.min_dwell_minutes;
        let next = match self.status {
            Status::Healthy if level >= Level::Strong => {
                if self.recovering_at.is_some_and(|r| t - r > config.flap_window_minutes) {
                    self.flaps = 0;
                }
                Some(if level == Level::Burst && may_escalate { Status::Unhealthy } else { Status::Degraded })
            }
            Status::Degraded
                if dwelt && may_escalate && (level == Level::Burst || signal_for > config.escalate_minutes) =>
            {
                Some(Status::Unhealthy)
            }
            Status::Degraded if dwelt && quiet_for >= config.clear_minutes => Some(Status::Healthy),
            Status::Unhealthy if dwelt && quiet_for >= config.recover_minutes => {
                self.recovering_at = Some(t);
                Some(Status::Recovering)
            }
            Status::Recovering if level >= Level::Strong && may_escalate => {
                self.flaps += 1;
                Some(Status::Unhealthy)
            }
            Status::Recovering if level == Level::Quiet && t - self.since >= self.recovering_minutes(config) => {
                Some(Status::Healthy)
            }
            _ => None,
        };
        if let Some(status) = next {
            self.status = status;
            self.since = t;
        }
        next
    }

    /// Quiet needed to leave `recovering`: doubled per recent flap, up to the back-off cap.
    pub(super) fn recovering_minutes(&self, config: &DetectorConfig) -> i64 {
        let factor = 1i64.checked_shl(self.flaps).unwrap_or(i64::MAX).min(config.max_backoff_factor.max(1));
        config.recovering_minutes * factor
    }

    /// How far through its recovery a `recovering` region is, 0 to 1.
    pub(super) fn recovery_progress(&self, t: Minute, config: &DetectorConfig) -> f64 {
        ((t - self.since) as f64 / self.recovering_minutes(config).max(1) as f64).clamp(0.0, 1.0)
    }
}

/// A flag on a target, worker or project: raised by a signal, lowered after quiet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FlagState {
    pub raised: bool,
    pub since: Minute,
    quiet_since: Option<Minute>,
}

impl FlagState {
    pub(super) fn new(at: Minute) -> FlagState {
        FlagState { raised: false, since: at, quiet_since: Some(at) }
    }

    /// Feeds whether minute `t` shows the condition; returns the new state when it changed.
    /// The flag falls after `clear_minutes` without the condition.
    pub(super) fn step(
        &mut self,
        t: Minute,
        signal: bool,
        clear_minutes: i64,
        config: &DetectorConfig,
    ) -> Option<bool> {
        if signal {
            self.quiet_since = None;
        } else {
            self.quiet_since.get_or_insert(t);
        }
        let quiet_for = self.quiet_since.map_or(0, |q| t - q + 1);
        let dwelt = t - self.since >= config.min_dwell_minutes;
        let next = if !self.raised && signal {
            Some(true)
        } else if self.raised && dwelt && quiet_for >= clear_minutes {
            Some(false)
        } else {
            None
        };
        if let Some(raised) = next {
            self.raised = raised;
            self.since = t;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::{Burst, Quiet, Strong, Weak};

    /// Runs levels from minute 0, one a minute; returns (minute, new status) of each change.
    fn run(levels: &[(i64, Level)], may_escalate: bool) -> Vec<(Minute, Status)> {
        let config = DetectorConfig::default();
        let mut state = RegionState::new(-60);
        let mut changes = Vec::new();
        let mut t = 0;
        for &(n, level) in levels {
            for _ in 0..n {
                if let Some(status) = state.step(t, level, may_escalate, &config) {
                    changes.push((t, status));
                }
                t += 1;
            }
        }
        changes
    }

    #[test]
    fn transitions_follow_the_signal_with_hysteresis_and_dwell() {
        use Status::*;
        type Case = (&'static str, Vec<(i64, Level)>, Vec<(Minute, Status)>);
        let cases: Vec<Case> = vec![
            ("quiet stays healthy", vec![(200, Quiet)], vec![]),
            ("weak alone never alarms", vec![(200, Weak)], vec![]),
            (
                "short strong blip clears after quiet",
                vec![(3, Strong), (40, Quiet)],
                vec![(0, Degraded), (17, Healthy)],
            ),
            (
                "sustained strong escalates after 5 minutes, weak keeps it unhealthy",
                vec![(10, Strong), (30, Weak), (60, Quiet)],
                vec![(0, Degraded), (5, Unhealthy), (54, Recovering), (84, Healthy)],
            ),
            ("a burst escalates at once", vec![(1, Burst), (2, Strong)], vec![(0, Unhealthy)]),
            (
                "strong while recovering flaps back, recovery then takes twice as long",
                vec![(10, Strong), (15, Quiet), (5, Strong), (100, Quiet)],
                vec![
                    (0, Degraded),
                    (5, Unhealthy),
                    (24, Recovering),
                    (25, Unhealthy),
                    (44, Recovering),
                    (104, Healthy),
                ],
            ),
        ];
        for (name, levels, want) in cases {
            assert_eq!(run(&levels, true), want, "{name}");
        }
    }

    #[test]
    fn the_capacity_cap_holds_a_region_at_degraded() {
        let changes = run(&[(30, Strong), (1, Burst)], false);
        assert_eq!(changes, vec![(0, Status::Degraded)]);
    }

    #[test]
    fn back_off_doubles_per_flap_up_to_the_cap() {
        let config = DetectorConfig::default();
        let mut state = RegionState::new(0);
        let want = [30, 60, 120, 240, 240, 240];
        for (flaps, want) in want.into_iter().enumerate() {
            state.flaps = flaps as u32;
            assert_eq!(state.recovering_minutes(&config), want, "{flaps} flaps");
        }
    }

    #[test]
    fn flags_rise_at_once_and_fall_after_quiet_and_dwell() {
        let config = DetectorConfig::default();
        let mut flag = FlagState::new(-100);
        let signals = [true, false, true, true].into_iter().chain(std::iter::repeat_n(false, 30));
        let changes: Vec<(Minute, bool)> = signals
            .enumerate()
            .filter_map(|(t, s)| flag.step(t as Minute, s, config.clear_minutes, &config).map(|c| (t as Minute, c)))
            .collect();
        assert_eq!(changes, vec![(0, true), (18, false)]);
    }
}
