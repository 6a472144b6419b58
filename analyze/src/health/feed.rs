//! The detector's output contract: state changes (one JSON object per line from
//! `failscope health --from … --until …`) and the snapshot the scheduler reads
//! (`GET /v1/regions/health`). Field names are stable; other tools score the detector from
//! them (see README, "Region health").

use failscope_schemas::Timestamp;
use serde::Serialize;

/// What a state belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Region,
    Target,
    Worker,
    Project,
}

/// The state of a region (`healthy` → `degraded` → `unhealthy` → `recovering`), a target
/// (`unhealthy` when it is out everywhere), a worker (`quarantined`) or a project
/// (`flagged` during a storm of its own failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
    Recovering,
    Quarantined,
    Flagged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
            Status::Recovering => "recovering",
            Status::Quarantined => "quarantined",
            Status::Flagged => "flagged",
        }
    }
}

/// Where the fault is, which decides whether moving jobs helps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One region fails to targets that other regions reach: steer away.
    RegionPath,
    /// One region fails to targets only it reaches (its own caches): steer what can move.
    RegionalDependency,
    /// Name resolution fails across targets from one region: steer away.
    Dns,
    /// Every region fails to one target: do not steer, the target is flagged.
    TargetOutage,
    /// A few workers fail, their region does not: quarantine them, do not steer.
    BadHost,
    /// Many failures, classified as the users' own, mostly one project: no infra alarm.
    UserStorm,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RegionPath => "region_path",
            Kind::RegionalDependency => "regional_dependency",
            Kind::Dns => "dns",
            Kind::TargetOutage => "target_outage",
            Kind::BadHost => "bad_host",
            Kind::UserStorm => "user_storm",
        }
    }

    /// Whether a scheduler should send this region's jobs elsewhere.
    pub fn steers(self) -> bool {
        matches!(self, Kind::RegionPath | Kind::RegionalDependency | Kind::Dns)
    }
}

/// Failures by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Timeouts and connects abandoned while hanging.
    pub timeout: u64,
    pub refused: u64,
    pub dns_error: u64,
    pub other: u64,
}

/// One target's part in an alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetEvidence {
    pub target: String,
    pub n_attempts: u64,
    pub n_failed: u64,
    pub rate: f64,
    pub baseline_rate: f64,
    /// The pooled rate of the other regions reaching this target; absent without peers.
    pub peer_rate: Option<f64>,
    pub peer_attempts: u64,
    pub p_value: f64,
}

/// The job side of a region's window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct JobEvidence {
    pub n_jobs: u64,
    pub n_failed: u64,
    pub n_infra: u64,
    pub n_user: u64,
    pub infra_rate: f64,
    pub baseline_infra_rate: f64,
}

/// Why a state is what it is: the numbers of the window that decided it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Evidence {
    /// When the signal behind this state began.
    pub since: Option<Timestamp>,
    /// The window judged, in minutes, ending at the change.
    pub window_minutes: i64,
    pub n_attempts: u64,
    pub n_failed: u64,
    pub rate: f64,
    pub baseline_rate: f64,
    pub peer_rate: Option<f64>,
    pub p_value: f64,
    pub outcomes: Outcomes,
    pub targets: Vec<TargetEvidence>,
    /// Regions (for a target), workers (for a region's bad hosts) or the project's region.
    pub involved: Vec<String>,
    pub jobs: JobEvidence,
    pub note: Option<String>,
}

/// One state change: the timeline as data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthChange {
    pub scope: Scope,
    pub name: String,
    pub status: Status,
    pub previous: Status,
    pub at: Timestamp,
    pub kind: Option<Kind>,
    /// Regions only: the share of traffic the region should get, 0 to 1.
    pub weight: Option<f64>,
    pub evidence: Evidence,
}

/// A region's current state in the feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionHealth {
    pub region: String,
    pub status: Status,
    pub weight: f64,
    pub since: Timestamp,
    pub kind: Option<Kind>,
    pub steer_away: bool,
    pub evidence: Evidence,
}

/// A flagged target, quarantined worker or storming project in the feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flag {
    pub name: String,
    pub status: Status,
    pub since: Timestamp,
    pub kind: Kind,
    pub evidence: Evidence,
}

/// What a scheduler should do with a failed job, by its cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryAdvice {
    /// A cause prefix of the classification (`infra.network.*`).
    pub cause: &'static str,
    /// `retry_elsewhere` (another region, by weight), `retry` (anywhere, after a back-off),
    /// `retry_once`, or `do_not_retry`.
    pub advice: &'static str,
    pub reason: &'static str,
}

/// The retry advice of the feed; the same for every snapshot.
pub(super) const RETRY_ADVICE: [RetryAdvice; 6] = [
    RetryAdvice {
        cause: "infra.network.*",
        advice: "retry_elsewhere",
        reason: "the job's own connects failed; another region's path may work",
    },
    RetryAdvice {
        cause: "infra.worker.*",
        advice: "retry",
        reason: "the worker failed the job; another worker will do",
    },
    RetryAdvice { cause: "infra.setup", advice: "retry", reason: "a platform step failed; retry after a back-off" },
    RetryAdvice {
        cause: "infra.platform",
        advice: "retry",
        reason: "the platform failed the job; retry after a back-off",
    },
    RetryAdvice { cause: "user.*", advice: "do_not_retry", reason: "the job's own code or configuration failed it" },
    RetryAdvice { cause: "unknown.*", advice: "retry_once", reason: "no evidence either way" },
];

/// The state of everything at one instant: what `GET /v1/regions/health` returns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthSnapshot {
    pub at: Timestamp,
    pub regions: Vec<RegionHealth>,
    pub flagged_targets: Vec<Flag>,
    pub quarantined_workers: Vec<Flag>,
    pub user_storms: Vec<Flag>,
    pub retry_advice: &'static [RetryAdvice],
}
