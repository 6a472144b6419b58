//! Trailing baselines: for each (region, target) cell its failure rate, for each region its
//! infra- and user-attributed job failure rates and its capacity (jobs), as sums that decay
//! by half every `baseline_half_life_minutes`.
//!
//! A minute enters the baseline when it leaves the judged window, so the window is never
//! compared with itself. A cell in alarm does not feed its failures into its baseline: a long
//! incident must not become the new normal.

use std::sync::Arc;

use foldhash::fast::RandomState;

use super::config::DetectorConfig;
use super::observations::{ConnectCounts, JobCounts};

/// Looked up for every cell and worker at every step: a fast hash.
type HashMap<K, V> = std::collections::HashMap<K, V, RandomState>;

/// A decaying pair of sums: events and trials.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Decayed {
    hits: f64,
    trials: f64,
}

impl Decayed {
    /// The smoothed rate: the sums plus a prior of `prior_trials` at `prior_rate`.
    fn rate(&self, prior_rate: f64, prior_trials: f64) -> f64 {
        (self.hits + prior_rate * prior_trials) / (self.trials + prior_trials)
    }
}

/// Every baseline the detector keeps.
#[derive(Debug, Clone, Default)]
pub(crate) struct Baselines {
    cells: HashMap<(Arc<str>, Arc<str>), Decayed>,
    infra_jobs: HashMap<Arc<str>, Decayed>,
    user_jobs: HashMap<Arc<str>, Decayed>,
}

/// The prior of the job rates: a tenth of jobs fail by their users' doing, few by ours.
const JOB_PRIOR_INFRA_RATE: f64 = 0.01;
const JOB_PRIOR_USER_RATE: f64 = 0.1;
const JOB_PRIOR_JOBS: f64 = 50.0;

impl Baselines {
    /// Ages every sum by one minute.
    pub(super) fn decay(&mut self, config: &DetectorConfig) {
        let factor = 0.5f64.powf(1.0 / config.baseline_half_life_minutes.max(1.0));
        for d in self.cells.values_mut().chain(self.infra_jobs.values_mut()).chain(self.user_jobs.values_mut()) {
            d.hits *= factor;
            d.trials *= factor;
        }
    }

    /// Adds one minute of a cell; `in_alarm` keeps its failures (and attempts) out.
    pub(super) fn absorb_connects(
        &mut self,
        region: &Arc<str>,
        target: &Arc<str>,
        counts: &ConnectCounts,
        in_alarm: bool,
    ) {
        if in_alarm {
            return;
        }
        let d = self.cells.entry((Arc::clone(region), Arc::clone(target))).or_default();
        d.hits += counts.n_failed() as f64;
        d.trials += counts.n_judged() as f64;
    }

    pub(super) fn absorb_jobs(&mut self, region: &Arc<str>, counts: &JobCounts, in_alarm: bool) {
        let infra = self.infra_jobs.entry(Arc::clone(region)).or_default();
        if !in_alarm {
            infra.hits += counts.n_infra as f64;
        }
        // Capacity counts every job, alarm or not.
        infra.trials += counts.n_jobs as f64;
        let user = self.user_jobs.entry(Arc::clone(region)).or_default();
        user.hits += counts.n_user as f64;
        user.trials += counts.n_jobs as f64;
    }

    /// A cell's expected failure rate, never below the noise floor.
    pub(super) fn cell_rate(&self, region: &Arc<str>, target: &Arc<str>, config: &DetectorConfig) -> f64 {
        let key = (Arc::clone(region), Arc::clone(target));
        let rate = self.cells.get(&key).map_or(config.floor_rate, |d| d.rate(config.floor_rate, config.prior_attempts));
        rate.max(config.floor_rate)
    }

    pub(super) fn infra_job_rate(&self, region: &Arc<str>) -> f64 {
        self.infra_jobs.get(region).map_or(JOB_PRIOR_INFRA_RATE, |d| d.rate(JOB_PRIOR_INFRA_RATE, JOB_PRIOR_JOBS))
    }

    pub(super) fn user_job_rate(&self, region: &Arc<str>) -> f64 {
        self.user_jobs.get(region).map_or(JOB_PRIOR_USER_RATE, |d| d.rate(JOB_PRIOR_USER_RATE, JOB_PRIOR_JOBS))
    }

    /// A region's capacity: its jobs over the trailing baseline.
    pub(super) fn capacity(&self, region: &Arc<str>) -> f64 {
        self.infra_jobs.get(region).map_or(0.0, |d| d.trials)
    }

    pub(super) fn total_capacity(&self) -> f64 {
        self.infra_jobs.values().map(|d| d.trials).sum()
    }

    /// Every region the baselines know.
    pub(super) fn regions(&self) -> impl Iterator<Item = &Arc<str>> {
        self.cells.keys().map(|(r, _)| r).chain(self.infra_jobs.keys())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(n_attempts: u64, n_timeouts: u64) -> ConnectCounts {
        ConnectCounts { n_attempts, n_timeouts, ..ConnectCounts::default() }
    }

    #[test]
    fn a_cell_learns_its_rate_and_an_alarm_does_not_teach_it() {
        let config = DetectorConfig::default();
        let (region, target): (Arc<str>, Arc<str>) = ("r".into(), "t".into());
        let mut b = Baselines::default();
        assert_eq!(b.cell_rate(&region, &target, &config), config.floor_rate, "no history: the floor");
        for _ in 0..600 {
            b.decay(&config);
            b.absorb_connects(&region, &target, &counts(100, 5), false);
        }
        let learned = b.cell_rate(&region, &target, &config);
        assert!((learned - 0.05).abs() < 0.002, "{learned}");
        for _ in 0..60 {
            b.decay(&config);
            b.absorb_connects(&region, &target, &counts(100, 90), true);
        }
        assert!((b.cell_rate(&region, &target, &config) - 0.05).abs() < 0.002, "alarm minutes stay out");
    }

    #[test]
    fn sums_halve_each_half_life() {
        let config = DetectorConfig { baseline_half_life_minutes: 10.0, ..DetectorConfig::default() };
        let region: Arc<str> = "r".into();
        let mut b = Baselines::default();
        b.absorb_jobs(&region, &JobCounts { n_jobs: 64, ..JobCounts::default() }, false);
        for _ in 0..10 {
            b.decay(&config);
        }
        assert!((b.capacity(&region) - 32.0).abs() < 1e-9);
    }
}
