//! The detector's thresholds, in one place with their defaults and the reason for each.

/// How the region-health detector decides. Times are in minutes of event time: the detector
/// steps through the lake minute by minute, live or in replay.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// The short window whose failure rate is judged: fast onsets show here first.
    pub window_minutes: i64,
    /// The long window, judged beside the short one: a sick path that fails a few percent of
    /// connects reaches the minimum sample here long before it does in the short window.
    pub long_window_minutes: i64,
    /// The burst window of the fast-onset detector.
    pub burst_minutes: i64,
    /// How fast a cell's trailing baseline forgets: a minute this old weighs half.
    pub baseline_half_life_minutes: f64,
    /// Event time read before a replay's start, so that baselines are formed when it starts.
    pub warmup_minutes: i64,
    /// The failure rate a cell is assumed to have before it has a baseline, and the least one
    /// it is ever judged against (background noise: the odd connect that times out).
    pub floor_rate: f64,
    /// Weight, in attempts, of that prior in a young baseline.
    pub prior_attempts: f64,
    /// Minimum sample in the window: fewer attempts or failures never raise an alarm.
    pub min_attempts: u64,
    pub min_failures: u64,
    /// The window's rate must be this many times the baseline...
    pub min_ratio: f64,
    /// ...and this improbable under the baseline (Poisson upper tail).
    pub alpha: f64,
    /// Weaker thresholds that keep an alarm open once raised (hysteresis).
    pub stay_ratio: f64,
    pub stay_alpha: f64,
    /// Fast onset, in the spirit of consecutive-failure ejection: this many failures in the
    /// burst window, nearly all attempts failing.
    pub burst_min_failures: u64,
    pub burst_min_share: f64,
    /// A region is the culprit for a target when its rate is this many times its peers'.
    pub peer_ratio: f64,
    /// A target is out (not a region's path) when it fails from this share of the regions
    /// that reach it, and from at least two of them...
    pub target_outage_share: f64,
    /// ...or when this share of its failures are refusals (the host answers, the service is
    /// down) and no region reaches it.
    pub refused_share: f64,
    /// Bad hosts: a worker fails most of its own attempts...
    pub worker_min_attempts: u64,
    pub worker_min_failures: u64,
    pub worker_min_rate: f64,
    /// ...this many times the rate of the rest of its region...
    pub bad_host_ratio: f64,
    /// ...its kind holds this share of the region's failures, and they are few.
    pub bad_host_failure_share: f64,
    pub max_bad_host_share: f64,
    /// Name-resolution failures make the region's kind `dns` above this share of its failures.
    pub dns_share: f64,
    /// Jobs: the window and minimum sample of the infra-attributed job failure rate.
    pub job_window_minutes: i64,
    pub min_jobs: u64,
    pub min_infra_jobs: u64,
    /// User storms: this many user-attributed failures in the job window, mostly one project,
    /// this improbable under the region's usual user failure rate (no steering hangs on it).
    pub user_storm_min_failures: u64,
    pub user_storm_project_share: f64,
    pub user_storm_alpha: f64,
    /// The state machine: minutes of signal before `degraded` becomes `unhealthy`...
    pub escalate_minutes: i64,
    /// ...of quiet before `degraded` clears, before `unhealthy` starts `recovering`...
    pub clear_minutes: i64,
    pub recover_minutes: i64,
    /// ...and the quiet a `recovering` region needs before `healthy`, doubled for each flap.
    pub recovering_minutes: i64,
    /// No state changes again sooner than this.
    pub min_dwell_minutes: i64,
    /// A region that falls back to `unhealthy` within this long of recovering flaps.
    pub flap_window_minutes: i64,
    pub max_backoff_factor: i64,
    /// At most this share of the fleet's capacity (jobs over the trailing baseline) may be
    /// `unhealthy` at once; a region beyond it stays `degraded`, as Envoy caps ejections.
    pub max_unhealthy_capacity_share: f64,
    /// The lowest weight of an unhealthy region: some jobs cannot move (regional caches).
    pub min_weight: f64,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig {
            window_minutes: 15,
            long_window_minutes: 60,
            burst_minutes: 3,
            baseline_half_life_minutes: 360.0,
            warmup_minutes: 12 * 60,
            floor_rate: 0.002,
            prior_attempts: 500.0,
            min_attempts: 20,
            min_failures: 5,
            min_ratio: 4.0,
            alpha: 1e-4,
            stay_ratio: 2.0,
            stay_alpha: 1e-2,
            burst_min_failures: 6,
            burst_min_share: 0.8,
            peer_ratio: 3.0,
            target_outage_share: 0.6,
            refused_share: 0.8,
            worker_min_attempts: 6,
            worker_min_failures: 4,
            worker_min_rate: 0.5,
            bad_host_ratio: 4.0,
            bad_host_failure_share: 0.7,
            max_bad_host_share: 0.4,
            dns_share: 0.5,
            job_window_minutes: 60,
            min_jobs: 20,
            min_infra_jobs: 6,
            user_storm_min_failures: 5,
            user_storm_project_share: 0.6,
            user_storm_alpha: 1e-3,
            escalate_minutes: 3,
            clear_minutes: 15,
            recover_minutes: 15,
            recovering_minutes: 30,
            min_dwell_minutes: 5,
            flap_window_minutes: 120,
            max_backoff_factor: 8,
            max_unhealthy_capacity_share: 0.8,
            min_weight: 0.05,
        }
    }
}

impl DetectorConfig {
    /// The longest window: how far back the detector reads at every tick.
    pub fn longest_window_minutes(&self) -> i64 {
        self.window_minutes.max(self.long_window_minutes).max(self.job_window_minutes).max(self.burst_minutes)
    }
}
