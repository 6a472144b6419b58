//! Incidents and region bands from the detector's state changes: an incident is one episode of
//! a region, target, worker or project out of `healthy` that reached a state someone acts on
//! (`unhealthy`, `quarantined`, `flagged`); a band is one stretch of a region in one state.

use std::collections::BTreeMap;

use failscope_schemas::Timestamp;
use serde::Serialize;

use crate::health::{Evidence, HealthChange, Kind, Scope, Status};

/// One episode out of `healthy`, before its cost is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub scope: Scope,
    pub name: String,
    /// The worst state it reached.
    pub status: Status,
    pub kind: Option<Kind>,
    /// When it left `healthy` (the period's start when it was open already).
    pub start: Timestamp,
    /// When it was `healthy` again; `None` when still open at the period's end.
    pub end: Option<Timestamp>,
    /// The evidence of the change that reached the worst state.
    pub evidence: Evidence,
}

/// One region in one state over `[from, until)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Band {
    pub status: Status,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// The order in which a state is worth reporting: a region that was `unhealthy` and then
/// `recovering` keeps the evidence of `unhealthy`.
fn severity(status: Status) -> u8 {
    match status {
        Status::Healthy => 0,
        Status::Recovering => 1,
        Status::Degraded => 2,
        Status::Unhealthy | Status::Quarantined | Status::Flagged => 3,
    }
}

/// The episodes of `changes` (sorted by time) that reached an actionable state, in the order
/// they began; and how many region episodes stayed `degraded`.
pub(super) fn episodes(changes: &[HealthChange], since: Timestamp) -> (Vec<Episode>, usize) {
    let mut open: BTreeMap<(Scope, String), Episode> = BTreeMap::new();
    let mut done = Vec::new();
    for c in changes {
        let key = (c.scope, c.name.clone());
        if c.status == Status::Healthy {
            if let Some(mut episode) = open.remove(&key) {
                episode.end = Some(c.at);
                done.push(episode);
            }
            continue;
        }
        let episode = open.entry(key).or_insert_with(|| Episode {
            scope: c.scope,
            name: c.name.clone(),
            // Out of `healthy` before the period began: the period's start is when it is seen.
            status: c.previous,
            kind: c.kind,
            start: if c.previous == Status::Healthy { c.at } else { since },
            end: None,
            evidence: c.evidence.clone(),
        });
        if severity(c.status) > severity(episode.status) || episode.status == Status::Healthy {
            episode.status = c.status;
            episode.kind = c.kind.or(episode.kind);
            episode.evidence = c.evidence.clone();
        }
    }
    done.extend(open.into_values());
    let (mut incidents, quiet): (Vec<Episode>, Vec<Episode>) =
        done.into_iter().partition(|e| severity(e.status) >= severity(Status::Unhealthy));
    incidents.sort_by(|a, b| (a.start, a.scope, &a.name).cmp(&(b.start, b.scope, &b.name)));
    (incidents, quiet.iter().filter(|e| e.scope == Scope::Region).count())
}

/// Each region's states over `[since, until)`: its first change says what it was before
/// (`previous`), and a region without changes stayed in its state at the end.
pub(super) fn bands(
    changes: &[HealthChange],
    regions_at_end: &[(String, Status)],
    since: Timestamp,
    until: Timestamp,
) -> BTreeMap<String, Vec<Band>> {
    let mut by_region: BTreeMap<String, Vec<&HealthChange>> = BTreeMap::new();
    for (region, _) in regions_at_end {
        by_region.entry(region.clone()).or_default();
    }
    for c in changes.iter().filter(|c| c.scope == Scope::Region) {
        by_region.entry(c.name.clone()).or_default().push(c);
    }
    by_region
        .into_iter()
        .map(|(region, changes)| {
            let end_status =
                regions_at_end.iter().find(|(r, _)| *r == region).map_or(Status::Healthy, |(_, status)| *status);
            let mut status = changes.first().map_or(end_status, |c| c.previous);
            let mut from = since;
            let mut bands = Vec::new();
            for c in changes {
                if c.at > from {
                    bands.push(Band { status, from, until: c.at });
                }
                status = c.status;
                from = c.at.max(since);
            }
            if until > from {
                bands.push(Band { status, from, until });
            }
            (region, bands)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(scope: Scope, name: &str, previous: Status, status: Status, minute: i64) -> HealthChange {
        HealthChange {
            scope,
            name: name.to_string(),
            status,
            previous,
            at: Timestamp::from_millis(minute * 60_000),
            kind: (status != Status::Healthy).then_some(Kind::RegionPath),
            weight: None,
            evidence: Evidence { n_failed: minute as u64, ..Evidence::default() },
        }
    }

    #[test]
    fn an_episode_is_an_incident_once_it_is_actionable() {
        use Status::*;
        let changes = [
            change(Scope::Region, "a", Healthy, Degraded, 10),
            change(Scope::Region, "a", Degraded, Unhealthy, 13),
            change(Scope::Region, "a", Unhealthy, Recovering, 40),
            change(Scope::Region, "b", Healthy, Degraded, 20),
            change(Scope::Region, "a", Recovering, Healthy, 70),
            change(Scope::Region, "b", Degraded, Healthy, 30),
            change(Scope::Worker, "w1", Healthy, Quarantined, 50),
            change(Scope::Region, "c", Unhealthy, Recovering, 5),
        ];
        let (incidents, n_degraded_only) = episodes(&changes, Timestamp::from_millis(0));
        let summary: Vec<_> =
            incidents.iter().map(|e| (e.name.as_str(), e.status, e.start.as_millis() / 60_000, e.end)).collect();
        assert_eq!(
            summary,
            [
                ("c", Unhealthy, 0, None),
                ("a", Unhealthy, 10, Some(Timestamp::from_millis(70 * 60_000))),
                ("w1", Quarantined, 50, None)
            ]
        );
        assert_eq!(incidents[1].evidence.n_failed, 13, "the evidence of the change that made it unhealthy");
        assert_eq!(n_degraded_only, 1, "b only ever was degraded");
    }

    #[test]
    fn bands_cover_the_period_from_the_state_before_the_first_change() {
        use Status::*;
        let changes =
            [change(Scope::Region, "a", Recovering, Healthy, 10), change(Scope::Region, "a", Healthy, Degraded, 30)];
        let ends = [("a".to_string(), Degraded), ("z".to_string(), Healthy)];
        let bands = bands(&changes, &ends, Timestamp::from_millis(0), Timestamp::from_millis(60 * 60_000));
        let minutes = |r: &str| -> Vec<_> {
            bands[r].iter().map(|b| (b.status, b.from.as_millis() / 60_000, b.until.as_millis() / 60_000)).collect()
        };
        assert_eq!(minutes("a"), [(Recovering, 0, 10), (Healthy, 10, 30), (Degraded, 30, 60)]);
        assert_eq!(minutes("z"), [(Healthy, 0, 60)]);
    }
}
