//! The detector: steps through event time one minute at a time, judging the windows that end
//! at each minute and moving the state machines. Replay and live use the same steps; they
//! differ only in how the observations arrive (all at once, or the last minutes re-read on
//! every tick).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::assess::{Assessment, OpenAlarms, RegionVerdict, assess};
use super::baseline::Baselines;
use super::config::DetectorConfig;
use super::feed::{Evidence, Flag, HealthChange, HealthSnapshot, Kind, RETRY_ADVICE, RegionHealth, Scope, Status};
use super::observations::{ConnectCounts, Minute, Observations, timestamp_of};
use super::state::{FlagState, Level, RegionState};
use super::windows::Windows;

type Name = Arc<str>;

/// The region-health detector over a stream of per-minute observations.
#[derive(Debug)]
pub struct Detector {
    config: DetectorConfig,
    observations: Observations,
    /// The sums of the windows ending at the last judged minute.
    windows: Windows,
    baselines: Baselines,
    regions: BTreeMap<Name, RegionEntry>,
    targets: BTreeMap<Name, FlagEntry>,
    workers: BTreeMap<Name, FlagEntry>,
    projects: BTreeMap<Name, FlagEntry>,
    /// The next minute to judge.
    next: Minute,
    last: Option<Assessment>,
}

#[derive(Debug)]
struct RegionEntry {
    state: RegionState,
    kind: Option<Kind>,
    verdict: RegionVerdict,
}

#[derive(Debug)]
struct FlagEntry {
    state: FlagState,
    evidence: Evidence,
}

impl Detector {
    /// A detector whose first judged minute is `start`.
    pub fn new(config: DetectorConfig, start: Minute) -> Detector {
        Detector {
            windows: Windows::new(&config),
            config,
            observations: Observations::default(),
            baselines: Baselines::default(),
            regions: BTreeMap::new(),
            targets: BTreeMap::new(),
            workers: BTreeMap::new(),
            projects: BTreeMap::new(),
            next: start,
            last: None,
        }
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The next minute the detector will judge.
    pub fn next_minute(&self) -> Minute {
        self.next
    }

    /// The observations, for rows of minutes not judged yet to be added (a replay reads on
    /// while it judges): the windows hold only minutes already judged, so they are not
    /// touched. Rows of minutes the windows hold must come through [`Detector::observe`].
    pub(crate) fn unjudged_observations(&mut self) -> &mut Observations {
        &mut self.observations
    }

    /// Takes the observations of every minute from `from` on, replacing what it held for them.
    pub fn observe(&mut self, from: Minute, fresh: Observations) {
        self.windows.retract_from(from, &self.observations);
        self.observations.replace_from(from, fresh);
        self.windows.restore_from(from, &self.observations);
    }

    /// Judges every minute up to and including `until`; returns the state changes in order.
    pub fn advance_to(&mut self, until: Minute) -> Vec<HealthChange> {
        let mut changes = Vec::new();
        while self.next <= until {
            let t = self.next;
            self.step(t, &mut changes);
            self.next += 1;
        }
        changes
    }

    /// Judges minute `t` again with what is known now, without moving on: a live tick within
    /// the minute already judged.
    pub fn rejudge(&mut self, t: Minute) -> Vec<HealthChange> {
        let mut changes = Vec::new();
        if t < self.next {
            self.judge(t, &mut changes);
        }
        changes
    }

    /// Everything's state as of the last judged minute.
    pub fn snapshot(&self) -> HealthSnapshot {
        let t = self.next - 1;
        let regions = self
            .regions
            .iter()
            .map(|(name, e)| RegionHealth {
                region: name.to_string(),
                status: e.state.status,
                weight: round4(weight_of(e, t, &self.config)),
                since: timestamp_of(e.state.since),
                kind: e.kind,
                steer_away: e.state.status == Status::Unhealthy && e.kind.is_some_and(Kind::steers),
                evidence: e.verdict.evidence.clone(),
            })
            .collect();
        let flags = |entries: &BTreeMap<Name, FlagEntry>, status: Status, kind: Kind| {
            entries
                .iter()
                .filter(|(_, e)| e.state.raised)
                .map(|(name, e)| Flag {
                    name: name.to_string(),
                    status,
                    since: timestamp_of(e.state.since),
                    kind,
                    evidence: e.evidence.clone(),
                })
                .collect()
        };
        HealthSnapshot {
            at: timestamp_of(self.next),
            regions,
            flagged_targets: flags(&self.targets, Status::Unhealthy, Kind::TargetOutage),
            quarantined_workers: flags(&self.workers, Status::Quarantined, Kind::BadHost),
            user_storms: flags(&self.projects, Status::Flagged, Kind::UserStorm),
            retry_advice: &RETRY_ADVICE,
        }
    }

    fn step(&mut self, t: Minute, changes: &mut Vec<HealthChange>) {
        self.absorb(t);
        let keep_from = t - self.config.longest_window_minutes() - 1;
        self.observations.forget_before(keep_from);
        self.judge(t, changes);
    }

    /// The minutes that just left the windows teach the baselines, except the cells and
    /// workers in alarm at the last tick.
    fn absorb(&mut self, t: Minute) {
        self.baselines.decay(&self.config);
        let last = self.last.as_ref();
        let leaving = t - self.config.long_window_minutes - 1;
        // The bad hosts' attempts in each cell of the leaving minute, to take out.
        let mut bad_hosts: HashMap<(&Name, &Name), ConnectCounts> = HashMap::new();
        for row in self.observations.connects_at(leaving) {
            if last.is_some_and(|a| a.bad_hosts.contains_key(&row.worker)) {
                bad_hosts.entry((&row.region, &row.target)).or_default().add(&row.counts);
            }
        }
        for row in self.observations.cells_at(leaving) {
            let mut counts = row.counts;
            if let Some(bad) = bad_hosts.get(&(&row.region, &row.target)) {
                counts.sub(bad);
            }
            let key = (Arc::clone(&row.region), Arc::clone(&row.target));
            let in_alarm = last.is_some_and(|a| a.cells_in_alarm.contains(&key));
            self.baselines.absorb_connects(&row.region, &row.target, &counts, in_alarm);
        }
        for row in self.observations.jobs_at(t - self.config.job_window_minutes - 1) {
            let in_alarm = last.is_some_and(|a| a.regions_in_alarm.contains(&row.region));
            self.baselines.absorb_jobs(&row.region, &row.counts, in_alarm);
        }
    }

    fn judge(&mut self, t: Minute, changes: &mut Vec<HealthChange>) {
        self.windows.slide_to(t, &self.observations);
        let open = OpenAlarms {
            regions: self
                .regions
                .iter()
                .filter(|(_, e)| e.state.status != Status::Healthy)
                .map(|(n, _)| n.clone())
                .collect(),
            targets: self.targets.iter().filter(|(_, e)| e.state.raised).map(|(n, _)| n.clone()).collect(),
            workers: self.workers.iter().filter(|(_, e)| e.state.raised).map(|(n, _)| n.clone()).collect(),
        };
        let assessment = assess(&self.windows, &self.observations, &self.baselines, &open, &self.config);
        self.move_regions(t, &assessment, changes);
        let config = &self.config;
        let outages = assessment.outages.iter();
        move_flags(
            &mut self.targets,
            t,
            outages,
            (Scope::Target, Status::Unhealthy, Kind::TargetOutage),
            config,
            changes,
        );
        let bad_hosts = assessment.bad_hosts.iter().map(|(n, (_, e))| (n, e));
        move_flags(
            &mut self.workers,
            t,
            bad_hosts,
            (Scope::Worker, Status::Quarantined, Kind::BadHost),
            config,
            changes,
        );
        let storms = assessment.user_storms.iter();
        move_flags(&mut self.projects, t, storms, (Scope::Project, Status::Flagged, Kind::UserStorm), config, changes);
        self.last = Some(assessment);
    }

    /// The region state machines, the sickest first, within the capacity cap.
    fn move_regions(&mut self, t: Minute, assessment: &Assessment, changes: &mut Vec<HealthChange>) {
        let total_capacity = self.baselines.total_capacity();
        let mut unhealthy_capacity: f64 = self
            .regions
            .iter()
            .filter(|(_, e)| e.state.status == Status::Unhealthy)
            .map(|(n, _)| self.baselines.capacity(n))
            .sum();
        let mut order: Vec<(&Name, &RegionVerdict)> = assessment.regions.iter().collect();
        order.sort_by(|a, b| b.1.severity.total_cmp(&a.1.severity).then_with(|| a.0.cmp(b.0)));
        for (name, verdict) in order {
            let entry = self.regions.entry(Arc::clone(name)).or_insert_with(|| RegionEntry {
                state: RegionState::new(t),
                kind: None,
                verdict: RegionVerdict::default(),
            });
            let capacity = self.baselines.capacity(name);
            let already = entry.state.status == Status::Unhealthy;
            let may_escalate = already
                || total_capacity <= 0.0
                || (unhealthy_capacity + capacity) / total_capacity <= self.config.max_unhealthy_capacity_share;
            let level = verdict.level.unwrap_or(Level::Quiet);
            let previous = entry.state.status;
            let mut verdict = verdict.clone();
            if !may_escalate && level >= Level::Strong && previous == Status::Degraded {
                verdict.evidence.note =
                    Some("held at degraded: the capacity cap of unhealthy regions is reached".into());
            }
            let changed = entry.state.step(t, level, may_escalate, &self.config);
            if verdict.kind.is_some() {
                entry.kind = verdict.kind;
            }
            if entry.state.status == Status::Healthy {
                entry.kind = None;
            }
            verdict.evidence.since = entry.state.signal_since().map(timestamp_of);
            entry.verdict = verdict;
            if entry.state.status == Status::Unhealthy && !already {
                unhealthy_capacity += capacity;
            }
            if let Some(status) = changed {
                let weight = Some(round4(weight_of(entry, t, &self.config)));
                changes.push(HealthChange {
                    scope: Scope::Region,
                    name: name.to_string(),
                    status,
                    previous,
                    at: timestamp_of(t),
                    kind: entry.kind,
                    weight,
                    evidence: entry.verdict.evidence.clone(),
                });
            }
        }
    }
}

/// How much traffic a region should get: 1 when healthy, less the sicker it is, never below
/// the floor (some jobs cannot move), and back up gradually while it recovers.
fn weight_of(entry: &RegionEntry, t: Minute, config: &DetectorConfig) -> f64 {
    let severity = entry.verdict.severity;
    match entry.state.status {
        Status::Degraded => 1.0 - 0.5 * severity,
        Status::Unhealthy => (0.5 * (1.0 - severity)).max(config.min_weight),
        Status::Recovering => 0.5 + 0.5 * entry.state.recovery_progress(t, config),
        _ => 1.0,
    }
}

/// Moves the flags of one scope: raised for the names in `signals`, lowered after quiet. A
/// flag that is down is forgotten (one raised again starts afresh, as a new one would), so a
/// live detector keeps only the flags that are up, however many workers come and go.
fn move_flags<'a>(
    entries: &mut BTreeMap<Name, FlagEntry>,
    t: Minute,
    signals: impl Iterator<Item = (&'a Name, &'a Evidence)>,
    (scope, raised_status, kind): (Scope, Status, Kind),
    config: &DetectorConfig,
    changes: &mut Vec<HealthChange>,
) {
    let signals: BTreeMap<&Name, &Evidence> = signals.collect();
    for name in signals.keys() {
        entries
            .entry(Arc::clone(name))
            .or_insert_with(|| FlagEntry { state: FlagState::new(t), evidence: Evidence::default() });
    }
    for (name, entry) in entries.iter_mut() {
        let signal = signals.get(name);
        if let Some(evidence) = signal {
            entry.evidence = (*evidence).clone();
        }
        // A quarantined worker stays out of its region until its failures have left the long
        // window; other flags fall after the usual quiet.
        let clear_minutes = if scope == Scope::Worker { config.long_window_minutes } else { config.clear_minutes };
        if let Some(raised) = entry.state.step(t, signal.is_some(), clear_minutes, config) {
            let (status, previous) =
                if raised { (raised_status, Status::Healthy) } else { (Status::Healthy, raised_status) };
            changes.push(HealthChange {
                scope,
                name: name.to_string(),
                status,
                previous,
                at: timestamp_of(t),
                kind: Some(kind),
                weight: None,
                evidence: entry.evidence.clone(),
            });
        }
    }
    entries.retain(|_, entry| entry.state.raised);
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::observations::{ConnectCounts, JobCounts};

    const REGIONS: [&str; 4] = ["r-east", "r-west", "r-north", "r-south"];
    const TARGETS: [&str; 3] = ["api", "source", "registry"];
    const WORKERS_PER_REGION: usize = 8;
    /// The minute the trouble starts, after a warm-up of six quiet hours.
    const ONSET: Minute = 6 * 60;
    const END: Minute = ONSET + 4 * 60;

    /// How a (region, target, worker) cell fails at a minute: the share of attempts failed
    /// and the outcome; `None` when healthy.
    type Fault = fn(&str, &str, usize, Minute) -> Option<(f64, &'static str)>;

    /// A fleet where every worker makes 2 attempts per target per minute, deterministically:
    /// a failing share `p` fails `round(2 * p * minutes)` attempts spread over the minutes.
    fn fleet(fault: Fault) -> Observations {
        let mut o = Observations::default();
        for minute in 0..END {
            for region in REGIONS {
                for target in TARGETS {
                    for w in 0..WORKERS_PER_REGION {
                        let worker = format!("{region}-{w}");
                        let mut counts = ConnectCounts { n_attempts: 2, ..ConnectCounts::default() };
                        if let Some((share, outcome)) = fault(region, target, w, minute) {
                            // Failures spread evenly: as many as the share calls for so far.
                            let due = |m: Minute| ((m + w as Minute) as f64 * 2.0 * share).floor() as u64;
                            let n_failed = (due(minute + 1) - due(minute)).min(2);
                            match outcome {
                                "refused" => counts.n_refused = n_failed,
                                "dns" => counts.n_dns = n_failed,
                                _ => counts.n_timeouts = n_failed,
                            }
                        }
                        o.push_connect(minute, region, target, &worker, counts);
                    }
                }
                o.push_job(minute, region, "p", JobCounts { n_jobs: 1, ..JobCounts::default() });
            }
        }
        o
    }

    fn run(fault: Fault) -> Vec<HealthChange> {
        let mut detector = Detector::new(DetectorConfig::default(), 0);
        detector.observe(0, fleet(fault));
        detector.advance_to(END - 1)
    }

    fn changes_of(changes: &[HealthChange], scope: Scope) -> Vec<(String, Status, Option<Kind>)> {
        changes.iter().filter(|c| c.scope == scope).map(|c| (c.name.clone(), c.status, c.kind)).collect()
    }

    fn first(changes: &[HealthChange], name: &str, status: Status) -> Option<Minute> {
        changes.iter().find(|c| c.name == name && c.status == status).map(|c| c.at.as_millis() / 60_000)
    }

    #[test]
    fn a_quiet_fleet_raises_nothing() {
        assert_eq!(run(|_, _, _, _| None), vec![]);
    }

    #[test]
    fn a_sick_region_path_is_unhealthy_within_minutes_and_steered() {
        let changes = run(|r, _, _, m| (r == "r-east" && m >= ONSET).then_some((0.3, "timeout")));
        let unhealthy = first(&changes, "r-east", Status::Unhealthy).expect("r-east goes unhealthy");
        assert!(unhealthy - ONSET <= 10, "unhealthy {} minutes after the onset", unhealthy - ONSET);
        let east = changes.iter().find(|c| c.name == "r-east" && c.status == Status::Unhealthy).expect("change");
        assert_eq!(east.kind, Some(Kind::RegionPath));
        assert!(east.weight.is_some_and(|w| w < 0.5), "{:?}", east.weight);
        assert!(east.evidence.peer_rate.is_some_and(|p| p < 0.01), "{:?}", east.evidence);
        let others: Vec<_> = changes.iter().filter(|c| c.name != "r-east").collect();
        assert!(others.is_empty(), "{others:?}");
    }

    #[test]
    fn a_slow_burn_is_caught_before_it_becomes_the_baseline() {
        // 1 % at the onset, rising by one point an hour: never a burst, always "a little".
        let changes = run(|r, t, _, m| {
            (r == "r-west" && t == "api" && m >= ONSET).then(|| (0.01 + (m - ONSET) as f64 / 6000.0, "timeout"))
        });
        let unhealthy = first(&changes, "r-west", Status::Unhealthy).expect("r-west goes unhealthy");
        assert!(unhealthy - ONSET <= 120, "unhealthy {} minutes after the onset", unhealthy - ONSET);
    }

    #[test]
    fn a_target_out_everywhere_is_flagged_and_no_region_steered() {
        let changes = run(|_, t, _, m| (t == "registry" && m >= ONSET).then_some((1.0, "refused")));
        assert_eq!(changes_of(&changes, Scope::Region), vec![]);
        let targets = changes_of(&changes, Scope::Target);
        assert_eq!(targets, vec![("registry".to_string(), Status::Unhealthy, Some(Kind::TargetOutage))]);
        assert!(first(&changes, "registry", Status::Unhealthy).is_some_and(|m| m - ONSET <= 5));
    }

    #[test]
    fn bad_hosts_are_quarantined_and_their_region_not_steered() {
        let changes = run(|r, _, w, m| (r == "r-north" && w < 2 && m >= ONSET).then_some((0.9, "timeout")));
        assert_eq!(changes_of(&changes, Scope::Region), vec![]);
        let mut workers: Vec<String> = changes_of(&changes, Scope::Worker).into_iter().map(|c| c.0).collect();
        workers.sort();
        assert_eq!(workers, ["r-north-0", "r-north-1"]);
    }

    #[test]
    fn flags_that_are_down_are_forgotten() {
        // Two bad hosts for an hour, then healthy again: quarantined, released, forgotten.
        let fault: Fault =
            |r, _, w, m| (r == "r-north" && w < 2 && (ONSET..ONSET + 60).contains(&m)).then_some((0.9, "timeout"));
        let mut detector = Detector::new(DetectorConfig::default(), 0);
        detector.observe(0, fleet(fault));
        let changes = detector.advance_to(END - 1);
        let workers: Vec<_> = changes.iter().filter(|c| c.scope == Scope::Worker).map(|c| c.status).collect();
        assert_eq!(workers, [Status::Quarantined, Status::Quarantined, Status::Healthy, Status::Healthy]);
        assert!(detector.workers.is_empty(), "{:?}", detector.workers.keys().collect::<Vec<_>>());
        assert!(detector.targets.is_empty() && detector.projects.is_empty());
    }

    #[test]
    fn a_failing_resolver_is_kind_dns() {
        let changes = run(|r, _, _, m| (r == "r-south" && m >= ONSET).then_some((0.8, "dns")));
        let south = changes.iter().find(|c| c.name == "r-south" && c.status == Status::Unhealthy).expect("alarm");
        assert_eq!(south.kind, Some(Kind::Dns));
    }

    #[test]
    fn a_handful_of_failures_never_alarms() {
        // Three failed attempts in one minute, then nothing: below every minimum sample.
        let changes =
            run(|r, t, w, m| (r == "r-east" && t == "api" && w < 3 && m == ONSET).then_some((1.0, "timeout")));
        assert_eq!(changes, vec![]);
    }

    #[test]
    fn the_capacity_cap_keeps_a_second_sick_region_degraded() {
        let config = DetectorConfig { max_unhealthy_capacity_share: 0.3, ..DetectorConfig::default() };
        let mut detector = Detector::new(config, 0);
        detector.observe(
            0,
            fleet(|r, _, _, m| (r != "r-north" && r != "r-south" && m >= ONSET).then_some((0.4, "timeout"))),
        );
        let changes = detector.advance_to(END - 1);
        let unhealthy: Vec<_> =
            changes.iter().filter(|c| c.status == Status::Unhealthy).map(|c| c.name.as_str()).collect();
        assert_eq!(unhealthy.len(), 1, "each region is a quarter of capacity, the cap 30 %: {unhealthy:?}");
        let snapshot = detector.snapshot();
        let held: Vec<_> = snapshot.regions.iter().filter(|r| r.status == Status::Degraded).collect();
        assert_eq!(held.len(), 1, "{:?}", snapshot.regions);
        assert!(
            held[0].evidence.note.as_deref().is_some_and(|n| n.contains("capacity cap")),
            "{:?}",
            held[0].evidence.note
        );
    }

    #[test]
    fn replay_in_one_read_and_live_ticks_agree() {
        let fault: Fault = |r, _, _, m| (r == "r-east" && m >= ONSET).then_some((0.3, "timeout"));
        let all = fleet(fault);
        let replayed = run(fault);
        // A replay reads the workers that failed anywhere in its period, as the query does.
        let mut detector = Detector::new(DetectorConfig::default(), 0);
        detector.observe(0, all.clone().only_failing_workers());
        assert_eq!(detector.advance_to(END - 1), replayed, "the workers that never fail change nothing");
        // Live: the detector sees each minute's data only once that minute is reached, and
        // only the workers that failed in what it reads again.
        let mut live = Detector::new(DetectorConfig::default(), 0);
        let mut changes = Vec::new();
        for t in 0..END {
            let mut fresh = Observations::default();
            for (minute, rows) in all.cells.range(t - 80..=t) {
                fresh.cells.insert(*minute, rows.clone());
            }
            for (minute, rows) in all.connects.range(t - 80..=t) {
                fresh.connects.insert(*minute, rows.clone());
            }
            for (minute, rows) in all.jobs.range(t - 80..=t) {
                fresh.jobs.insert(*minute, rows.clone());
            }
            live.observe(t - 80, fresh.only_failing_workers());
            changes.extend(live.advance_to(t));
        }
        assert_eq!(changes, replayed);
    }
}
