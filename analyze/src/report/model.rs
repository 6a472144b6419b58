//! The report as data: everything anomalous in a period and the series behind its charts,
//! built from the detector's replay and the statements of `queries/report/`. The Markdown,
//! HTML and JSON renderings all read this one value.

use std::collections::BTreeMap;

use failscope_schemas::Timestamp;
use serde::Serialize;

use super::incidents::{Band, Episode, bands, episodes};
use super::rows::{instant, run, text};
use crate::analyzer::Analyzer;
use crate::error::{AnalyzeError, Result};
use crate::health::{DetectorConfig, Evidence, Kind, Replay, Scope, Status, replay};

const SUMMARY_SQL: &str = include_str!("../../../queries/report/summary.sql");
const INCIDENT_JOBS_SQL: &str = include_str!("../../../queries/report/incident_jobs.sql");
const INFRA_RATE_SQL: &str = include_str!("../../../queries/report/infra_rate_by_region_hour.sql");
const CONNECT_FAILURES_SQL: &str = include_str!("../../../queries/report/connect_failures_by_target_hour.sql");
const TOP_CAUSES_SQL: &str = include_str!("../../../queries/report/top_causes.sql");
const TOP_SIGNATURES_SQL: &str = include_str!("../../../queries/report/top_signatures.sql");
const UNKNOWN_RATE_SQL: &str = include_str!("../../../queries/report/unknown_rate_by_hour.sql");

/// An anomaly report over `[since, until)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub since: Timestamp,
    pub until: Timestamp,
    /// When the report was made: the one field that differs between two reports of a lake.
    pub generated_at: Timestamp,
    pub summary: Summary,
    pub incidents: Vec<Incident>,
    /// Region episodes that stayed `degraded` (a signal that never became an alarm).
    pub n_degraded_only: usize,
    /// Each region's states over the period, in region order.
    pub timeline: Vec<RegionTimeline>,
    pub infra_rate_by_region_hour: Vec<RegionHour>,
    pub connect_failures_by_target_hour: Vec<TargetHour>,
    pub top_causes: Vec<CauseCount>,
    pub top_signatures: Vec<SignatureCount>,
    pub unknown_rate_by_hour: Vec<UnknownHour>,
}

/// The jobs of the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub n_jobs: i64,
    pub n_failed: i64,
    pub n_infra: i64,
    pub n_user: i64,
    pub n_unknown: i64,
    /// Minutes that jobs failed by infrastructure ran, rounded down.
    pub infra_job_minutes: i64,
}

/// One incident: an episode out of `healthy` that reached an actionable state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    pub scope: Scope,
    pub name: String,
    pub status: Status,
    pub kind: Option<Kind>,
    pub start: Timestamp,
    /// `None` while still open at the end of the period.
    pub end: Option<Timestamp>,
    /// Failed jobs of its scope, attributed to infrastructure (to users for a project's
    /// storm), that finished while it was open.
    pub affected_jobs: i64,
    /// Minutes those jobs ran, rounded down.
    pub wasted_job_minutes: i64,
    pub evidence: Evidence,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionTimeline {
    pub region: String,
    pub bands: Vec<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionHour {
    pub region: String,
    pub hour: Timestamp,
    pub jobs: i64,
    pub infra: i64,
    /// Share of the hour's jobs that failed because of infrastructure.
    pub infra_failure_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetHour {
    pub target: String,
    pub hour: Timestamp,
    pub attempts: i64,
    pub failures: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CauseCount {
    pub cause: String,
    pub attribution: String,
    pub jobs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignatureCount {
    pub signature: String,
    pub cause: String,
    pub jobs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownHour {
    pub hour: Timestamp,
    pub failed: i64,
    pub unknown: i64,
    pub unknown_rate: f64,
}

/// Builds the report of `[since, until)`: replays the detector over the period, then runs the
/// report's statements.
pub async fn build(analyzer: &Analyzer, since: Timestamp, until: Timestamp, generated_at: Timestamp) -> Result<Report> {
    if since >= until {
        return Err(AnalyzeError::Report(format!("the period is empty: {since} is not before {until}")));
    }
    // The replay judges the minute holding `until` too; its changes there are outside.
    let replayed = replay(analyzer, since, until.add_millis(-1), DetectorConfig::default()).await?;
    build_from_replay(analyzer, &replayed, since, until, generated_at).await
}

/// [`build`] from a replay of the period the caller already has (the demo's).
pub async fn build_from_replay(
    analyzer: &Analyzer,
    replayed: &Replay,
    since: Timestamp,
    until: Timestamp,
    generated_at: Timestamp,
) -> Result<Report> {
    let changes: Vec<_> = replayed.changes.iter().filter(|c| c.at >= since && c.at < until).cloned().collect();
    let (episodes, n_degraded_only) = episodes(&changes, since);
    let mut incidents = Vec::with_capacity(episodes.len());
    for episode in episodes {
        incidents.push(costed(analyzer, episode, until).await?);
    }
    let regions_at_end: Vec<(String, Status)> =
        replayed.snapshot.regions.iter().map(|r| (r.region.clone(), r.status)).collect();
    let period = || vec![("since", instant(since)), ("until", instant(until))];

    let rows = run(analyzer, SUMMARY_SQL, period()).await?;
    let first = |v: Vec<i64>| v.first().copied().unwrap_or(0);
    let summary = Summary {
        n_jobs: first(rows.ints("jobs")?),
        n_failed: first(rows.ints("failed")?),
        n_infra: first(rows.ints("infra")?),
        n_user: first(rows.ints("user")?),
        n_unknown: first(rows.ints("unknown")?),
        infra_job_minutes: first(rows.ints("infra_seconds")?) / 60,
    };

    let rows = run(analyzer, INFRA_RATE_SQL, period()).await?;
    let infra_rate_by_region_hour = zip5(
        rows.strings("region")?,
        rows.instants("hour_start")?,
        rows.ints("jobs")?,
        rows.ints("infra")?,
        rows.floats("infra_failure_rate")?,
    )
    .map(|(region, hour, jobs, infra, infra_failure_rate)| RegionHour { region, hour, jobs, infra, infra_failure_rate })
    .collect::<Vec<_>>();

    let rows = run(analyzer, CONNECT_FAILURES_SQL, period()).await?;
    let connect_failures_by_target_hour = rows
        .strings("target_service")?
        .into_iter()
        .zip(rows.instants("hour_start")?)
        .zip(rows.ints("attempts")?.into_iter().zip(rows.ints("failures")?))
        .map(|((target, hour), (attempts, failures))| TargetHour { target, hour, attempts, failures })
        .collect();

    let rows = run(analyzer, TOP_CAUSES_SQL, period()).await?;
    let top_causes = rows
        .strings("cause")?
        .into_iter()
        .zip(rows.strings("attribution")?)
        .zip(rows.ints("jobs")?)
        .map(|((cause, attribution), jobs)| CauseCount { cause, attribution, jobs })
        .collect();

    let rows = run(analyzer, TOP_SIGNATURES_SQL, period()).await?;
    let top_signatures = rows
        .strings("signature")?
        .into_iter()
        .zip(rows.strings("cause")?)
        .zip(rows.ints("jobs")?)
        .map(|((signature, cause), jobs)| SignatureCount { signature, cause, jobs })
        .collect();

    let rows = run(analyzer, UNKNOWN_RATE_SQL, period()).await?;
    let unknown_rate_by_hour = rows
        .instants("hour_start")?
        .into_iter()
        .zip(rows.ints("failed")?)
        .zip(rows.ints("unknown")?.into_iter().zip(rows.floats("unknown_rate")?))
        .map(|((hour, failed), (unknown, unknown_rate))| UnknownHour { hour, failed, unknown, unknown_rate })
        .collect();

    // Every region the lake shows, banded, even one the detector never judged.
    let mut timeline: BTreeMap<String, Vec<Band>> = bands(&changes, &regions_at_end, since, until);
    for row in &infra_rate_by_region_hour {
        timeline
            .entry(row.region.clone())
            .or_insert_with(|| vec![Band { status: Status::Healthy, from: since, until }]);
    }
    let timeline = timeline.into_iter().map(|(region, bands)| RegionTimeline { region, bands }).collect();

    Ok(Report {
        since,
        until,
        generated_at,
        summary,
        incidents,
        n_degraded_only,
        timeline,
        infra_rate_by_region_hour,
        connect_failures_by_target_hour,
        top_causes,
        top_signatures,
        unknown_rate_by_hour,
    })
}

/// An episode with the jobs it cost.
async fn costed(analyzer: &Analyzer, episode: Episode, until: Timestamp) -> Result<Incident> {
    let scope = format!("{:?}", episode.scope).to_lowercase();
    let params = vec![
        ("since", instant(episode.start)),
        ("until", instant(episode.end.unwrap_or(until))),
        ("scope", text(&scope)),
        ("name", text(&episode.name)),
    ];
    let rows = run(analyzer, INCIDENT_JOBS_SQL, params).await?;
    Ok(Incident {
        scope: episode.scope,
        name: episode.name,
        status: episode.status,
        kind: episode.kind,
        start: episode.start,
        end: episode.end,
        affected_jobs: rows.ints("jobs")?.first().copied().unwrap_or(0),
        wasted_job_minutes: rows.ints("seconds")?.first().copied().unwrap_or(0) / 60,
        evidence: episode.evidence,
    })
}

fn zip5<A, B, C, D, E>(a: Vec<A>, b: Vec<B>, c: Vec<C>, d: Vec<D>, e: Vec<E>) -> impl Iterator<Item = (A, B, C, D, E)> {
    a.into_iter().zip(b).zip(c).zip(d).zip(e).map(|((((a, b), c), d), e)| (a, b, c, d, e))
}
