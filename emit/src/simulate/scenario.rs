//! The scenarios as data: when they run, which incidents happen where, and where jobs are
//! routed. `april-2022` replays the timeline of the incident behind failscope.

use failscope_schemas::{ConnectOutcome, Timestamp};

use super::fleet::JobKind;

/// What an incident breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncidentKind {
    /// TCP connects hang until the client gives up.
    ConnectTimeout,
    /// The service is down: connects are refused.
    ServiceDown,
    /// The region's resolver fails.
    DnsFailure,
    /// A few machines have broken networking.
    BadHost,
    /// A broken commit in one project fails its builds (not infrastructure).
    UserErrorStorm,
}

impl IncidentKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IncidentKind::ConnectTimeout => "connect_timeout",
            IncidentKind::ServiceDown => "service_down",
            IncidentKind::DnsFailure => "dns_failure",
            IncidentKind::BadHost => "bad_host",
            IncidentKind::UserErrorStorm => "user_error_storm",
        }
    }

    /// The outcome a connect hit by this incident has.
    pub(crate) fn outcome(self) -> ConnectOutcome {
        match self {
            IncidentKind::ServiceDown => ConnectOutcome::Refused,
            IncidentKind::DnsFailure => ConnectOutcome::DnsError,
            _ => ConnectOutcome::Timeout,
        }
    }
}

/// Which connections an incident affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetSel {
    /// Every backend service in GCP.
    Backend,
    /// One backend service by name.
    Service(&'static str),
    /// The cache shards of one data center (region name).
    Cache(&'static str),
    /// Everything.
    Any,
}

impl TargetSel {
    pub(crate) fn label(self) -> String {
        match self {
            TargetSel::Backend => "backend".into(),
            TargetSel::Service(name) => name.into(),
            TargetSel::Cache(region) => format!("sstate-cache@{region}"),
            TargetSel::Any => "any".into(),
        }
    }
}

/// One incident: a failure probability that follows a piecewise-linear curve over time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Incident {
    pub(crate) kind: IncidentKind,
    /// The region of the affected workers; `None` for every region.
    pub(crate) region: Option<&'static str>,
    pub(crate) target: TargetSel,
    /// Affected worker ids (bad hosts); empty for all workers of the region.
    pub(crate) workers: &'static [&'static str],
    /// Affected project (user error storms).
    pub(crate) project: Option<&'static str>,
    /// `(time, probability)` points; zero before the first and after the last.
    pub(crate) curve: &'static [(&'static str, f64)],
    pub(crate) description: &'static str,
    /// `curve` with parsed times, in milliseconds since the epoch.
    pub(super) points: Vec<(i64, f64)>,
}

impl Incident {
    pub(crate) fn new(
        kind: IncidentKind,
        region: Option<&'static str>,
        target: TargetSel,
        curve: &'static [(&'static str, f64)],
        description: &'static str,
    ) -> Incident {
        let points = curve.iter().map(|(at, p)| (parse(at).as_millis(), *p)).collect();
        Incident { kind, region, target, workers: &[], project: None, curve, description, points }
    }

    pub(crate) fn starts_at(&self) -> Timestamp {
        parse(self.curve.first().map_or("1970-01-01T00:00:00Z", |p| p.0))
    }

    pub(crate) fn ends_at(&self) -> Timestamp {
        parse(self.curve.last().map_or("1970-01-01T00:00:00Z", |p| p.0))
    }

    /// The failure probability at `t`.
    pub(crate) fn intensity(&self, t: Timestamp) -> f64 {
        let t = t.as_millis();
        for pair in self.points.windows(2) {
            let ((t0, p0), (t1, p1)) = (pair[0], pair[1]);
            if t >= t0 && t <= t1 {
                let span = (t1 - t0).max(1) as f64;
                return p0 + (p1 - p0) * (t - t0) as f64 / span;
            }
        }
        0.0
    }
}

/// From `at` on, jobs of `kind` run in these regions, with these weights.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Routing {
    pub(crate) at: &'static str,
    pub(crate) kind: JobKind,
    pub(crate) regions: &'static [(&'static str, f64)],
}

/// A named, replayable situation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) starts_at: &'static str,
    pub(crate) days: f64,
    pub(crate) incidents: Vec<Incident>,
    pub(crate) routing: Vec<Routing>,
}

impl Scenario {
    pub(crate) fn starts_at(&self) -> Timestamp {
        parse(self.starts_at)
    }

    pub(crate) fn ends_at(&self) -> Timestamp {
        self.starts_at().add_millis((self.days * 86_400_000.0) as i64)
    }

    /// Where jobs of `kind` starting at `t` run: the latest routing entry in force.
    pub(crate) fn routing_at(&self, kind: JobKind, t: Timestamp) -> &'static [(&'static str, f64)] {
        self.routing.iter().rev().find(|r| r.kind == kind && parse(r.at) <= t).map_or(&[], |r| r.regions)
    }
}

/// Scenario timestamps are literals of this file; a bad one is a bug caught by the tests.
pub(crate) fn parse(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("scenario timestamps are valid RFC 3339 literals")
}
