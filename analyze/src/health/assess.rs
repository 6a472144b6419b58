//! One tick's judgement: which cells fail beyond their baseline, and where the fault is.
//!
//! Order of the localization, each step removing what it explains from the next:
//! 1. bad hosts: a few workers fail most of their own attempts and hold most of their
//!    region's failures; they are quarantined and left out of everything after;
//! 2. target outages: one target fails from most regions that reach it; it is flagged and its
//!    cells no longer count against any region;
//! 3. regions: the rest of a region's cells, pooled (a sick path raises every backend
//!    service a little before any one alone is significant) and cell by cell, against the
//!    baselines and the peers that reach the same targets; `dns` when name resolution holds
//!    most of the failures, `region_path` when peers reach those targets, else
//!    `regional_dependency`;
//! 4. user storms: user-attributed job failures far above their baseline, mostly one project.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::baseline::Baselines;
use super::config::DetectorConfig;
use super::feed::{Evidence, JobEvidence, Kind, Outcomes, TargetEvidence};
use super::observations::{ConnectCounts, JobCounts, Observations};
use super::state::Level;
use super::stats::poisson_upper_tail;
use super::windows::{CellSums, ConnectSums, Windows};

type Name = Arc<str>;
/// (region, target) → counts over one window.
type Cells = BTreeMap<(Name, Name), ConnectCounts>;
/// A region's bad-host candidates: (worker, its attempts, p-value).
type Candidates = Vec<(Name, ConnectCounts, f64)>;

/// What the tick found.
#[derive(Debug, Default)]
pub(crate) struct Assessment {
    pub regions: BTreeMap<Name, RegionVerdict>,
    /// Targets out from most regions, with their evidence.
    pub outages: BTreeMap<Name, Evidence>,
    /// Quarantine candidates: worker → (region, evidence).
    pub bad_hosts: BTreeMap<Name, (Name, Evidence)>,
    /// Projects in a storm of their own failures.
    pub user_storms: BTreeMap<Name, Evidence>,
    /// Cells whose minutes must not teach their baseline.
    pub cells_in_alarm: BTreeSet<(Name, Name)>,
    /// Regions whose job failures must not teach their baseline.
    pub regions_in_alarm: BTreeSet<Name>,
}

/// A region's verdict for one tick.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegionVerdict {
    pub level: Option<Level>,
    pub kind: Option<Kind>,
    /// How sick, 0 to 1: the excess failure rate over 30 points.
    pub severity: f64,
    pub evidence: Evidence,
    /// Even a weak signal, pooled or in one cell: keep its minutes out of the baselines.
    pub suspect: bool,
}

/// What the tick knows of the current alarms, for hysteresis.
#[derive(Debug, Default)]
pub(crate) struct OpenAlarms {
    pub regions: BTreeSet<Name>,
    pub targets: BTreeSet<Name>,
    /// Workers in quarantine: left out of their region until the quarantine is lifted, so
    /// that their last failures do not fall on the region when they stop looking bad.
    pub workers: BTreeSet<Name>,
}

/// Judges one tick.
pub(crate) fn assess(
    w: &Windows,
    observations: &Observations,
    baselines: &Baselines,
    open: &OpenAlarms,
    config: &DetectorConfig,
) -> Assessment {
    let mut out = Assessment::default();
    // Outages first, over every worker: a few bad hosts cannot make a target fail from two
    // regions, and a target that is out must not make its callers look like bad hosts.
    let everyone = BTreeSet::new();
    let judged_everyone = judge_cells(w, observations, &everyone, baselines, config);
    find_outages(&judged_everyone, open, config, &mut out);
    let mut quarantined = find_bad_hosts(w, baselines, config, &mut out);
    quarantined.extend(open.workers.iter().cloned());
    // Judged again without the quarantined workers, if there are any.
    let judged = if quarantined.is_empty() {
        judged_everyone
    } else {
        judge_cells(w, observations, &quarantined, baselines, config)
    };
    let mut concentrated = BTreeMap::new();
    // Not the burst window: over three minutes only a few workers ever act.
    for window in [&w.connects, &w.long] {
        for (region, note) in concentrated_regions(window.sums(), &quarantined, &out.outages, config) {
            concentrated.entry(region).or_insert(note);
        }
    }
    let short = cell_sums(w.connects.sums(), &quarantined);
    let long = cell_sums(w.long.sums(), &quarantined);
    let regions: BTreeSet<Name> =
        baselines.regions().cloned().chain(judged.keys().map(|(r, _)| Arc::clone(r))).collect();
    for region in regions {
        let in_alarm = open.regions.contains(&region);
        let mut verdict =
            judge_region(&region, &judged, (&short, &long), &out.outages, (in_alarm, &open.regions), config);
        if let Some(note) = concentrated.get(&region)
            && verdict.level > Some(Level::Weak)
            && !in_alarm
        {
            // A few workers carry the failures: the bad-host test decides, not the region.
            verdict.level = Some(Level::Weak);
            verdict.kind = None;
            verdict.evidence.note = Some(note.clone());
        }
        verdict.evidence.jobs = job_evidence(&region, w, baselines);
        verdict.evidence.involved =
            out.bad_hosts.iter().filter(|(_, (r, _))| *r == region).map(|(w, _)| w.to_string()).collect();
        if verdict.suspect {
            for t in &verdict.evidence.targets {
                out.cells_in_alarm.insert((Arc::clone(&region), Arc::from(t.target.as_str())));
            }
            out.regions_in_alarm.insert(Arc::clone(&region));
        }
        out.regions.insert(region, verdict);
    }
    // A cell that looks even a little sick keeps its minutes out of its baseline, so that a
    // slow-burning incident never becomes the new normal.
    for ((r, t), j) in &judged {
        if j.level >= Level::Weak || out.outages.contains_key(t) {
            out.cells_in_alarm.insert((Arc::clone(r), Arc::clone(t)));
        }
    }
    find_user_storms(w, baselines, config, &mut out);
    out
}

/// Every (region, target) cell judged over both windows, leaving `quarantined` workers out.
fn judge_cells(
    w: &Windows,
    observations: &Observations,
    quarantined: &BTreeSet<Name>,
    baselines: &Baselines,
    config: &DetectorConfig,
) -> BTreeMap<(Name, Name), Judged> {
    let short = cell_sums(w.connects.sums(), quarantined);
    let long = cell_sums(w.long.sums(), quarantined);
    let bursts = burst_cells(w, observations, quarantined);
    long.iter()
        .map(|(key, long_counts)| {
            let baseline = baselines.cell_rate(&key.0, &key.1, config);
            let burst = bursts.get(key).copied().unwrap_or_default();
            let short_counts = short.get(key).copied().unwrap_or_default();
            let fast = judge(&short_counts, &burst, baseline, config.window_minutes, config);
            let slow = judge(long_counts, &ConnectCounts::default(), baseline, config.long_window_minutes, config);
            (key.clone(), if slow.level > fast.level { slow } else { fast })
        })
        .collect()
}

/// One cell judged against its baseline, over the window that said the most.
#[derive(Debug, Clone, Copy)]
struct Judged {
    counts: ConnectCounts,
    baseline: f64,
    p_value: f64,
    level: Level,
    window_minutes: i64,
}

fn judge(
    counts: &ConnectCounts,
    burst: &ConnectCounts,
    baseline: f64,
    window_minutes: i64,
    config: &DetectorConfig,
) -> Judged {
    let (n, k) = (counts.n_judged(), counts.n_failed());
    let rate = if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let p_value = poisson_upper_tail(k, n as f64 * baseline);
    let strong = n >= config.min_attempts
        && k >= config.min_failures
        && rate >= config.min_ratio * baseline
        && p_value <= config.alpha;
    let bursting = burst.n_failed() >= config.burst_min_failures
        && burst.n_failed() as f64 >= config.burst_min_share * burst.n_judged() as f64;
    let weak = k >= 2 && rate >= config.stay_ratio * baseline && p_value <= config.stay_alpha;
    let level = match (bursting, strong, weak) {
        (true, _, _) => Level::Burst,
        (_, true, _) => Level::Strong,
        (_, _, true) => Level::Weak,
        _ => Level::Quiet,
    };
    Judged { counts: *counts, baseline, p_value, level, window_minutes }
}

fn rate(k: u64, n: u64) -> f64 {
    if n == 0 { 0.0 } else { k as f64 / n as f64 }
}

/// A window's (region, target) sums, leaving quarantined workers out. A quarantined worker
/// without failures in the window counts again: it no longer drags its cells down.
fn cell_sums(window: &ConnectSums, quarantined: &BTreeSet<Name>) -> Cells {
    let mut cells = cells_of(window.cells());
    for worker in quarantined {
        for cell in window.failing_worker(worker).map_or(&[][..], |w| w.cells.as_slice()) {
            leave_out(&mut cells, (&cell.region, &cell.target), &cell.counts);
        }
    }
    cells
}

/// The burst window's cells, leaving quarantined workers out as [`cell_sums`] does (those that
/// failed in the window). That window keeps no sums by worker: over its few minutes only the
/// quarantined workers' rows matter, and they are rarely any, so they are read again.
fn burst_cells(w: &Windows, observations: &Observations, quarantined: &BTreeSet<Name>) -> Cells {
    let mut cells = cells_of(w.burst.sums());
    if quarantined.is_empty() {
        return cells;
    }
    // Per quarantined worker: its failures in the window, and its attempts by cell.
    let mut theirs: BTreeMap<&Name, (u64, Cells)> = BTreeMap::new();
    for minute in w.burst.minutes_held() {
        for row in observations.connects_at(minute).iter().filter(|r| quarantined.contains(&r.worker)) {
            let (n_failed, cells) = theirs.entry(&row.worker).or_default();
            *n_failed += row.counts.n_failed();
            cells.entry((Arc::clone(&row.region), Arc::clone(&row.target))).or_default().add(&row.counts);
        }
    }
    for (_, their_cells) in theirs.into_values().filter(|(n_failed, _)| *n_failed > 0) {
        for ((region, target), counts) in &their_cells {
            leave_out(&mut cells, (region, target), counts);
        }
    }
    cells
}

fn cells_of(window: &CellSums) -> Cells {
    window.iter().map(|((r, t), counts)| ((Arc::clone(r), Arc::clone(t)), *counts)).collect()
}

/// Takes a worker's attempts in a cell out of the cell's sums.
fn leave_out(cells: &mut Cells, (region, target): (&Name, &Name), theirs: &ConnectCounts) {
    let key = (Arc::clone(region), Arc::clone(target));
    if let Some(counts) = cells.get_mut(&key) {
        counts.sub(theirs);
        if counts.n_attempts == 0 {
            cells.remove(&key);
        }
    }
}

/// The connects that succeeded from `region` in the window to targets that are not out,
/// quarantined workers left out: what a few workers' share is measured against.
fn region_successes(
    window: &ConnectSums,
    region: &str,
    quarantined: &BTreeSet<Name>,
    outages: &BTreeMap<Name, Evidence>,
) -> u64 {
    let reached = |target: &Name| !outages.contains_key(target);
    let all: u64 =
        window.cells().iter().filter(|((r, t), _)| &***r == region && reached(t)).map(|(_, c)| c.n_succeeded()).sum();
    let left_out: u64 = quarantined
        .iter()
        .filter_map(|q| window.failing_worker(q))
        .flat_map(|w| w.cells.iter())
        .filter(|c| &*c.region == region && reached(&c.target))
        .map(|c| c.counts.n_succeeded())
        .sum();
    all - left_out.min(all)
}

/// At most one worker, or workers that made at most `share` of the region's successful
/// connects: few enough to be bad hosts rather than the region. Measured in the work they
/// still got done, not in workers (the workers without failures are never read) and not in
/// attempts (a bad host retries its failures, and its attempts grow as it fails): a fault of
/// the region's path leaves each worker most of its successes, bad hosts lose theirs.
fn few(n_workers: usize, their_successes: u64, region_successes: u64, share: f64) -> bool {
    n_workers <= 1 || their_successes as f64 <= share * region_successes as f64
}

/// Workers that fail most of their own attempts while the rest of their region, reaching the
/// same targets, does not. Judged over the long window: a job's retries fail together on its
/// one worker, so over a few minutes any region-wide fault looks concentrated on a few hosts.
fn find_bad_hosts(w: &Windows, baselines: &Baselines, config: &DetectorConfig, out: &mut Assessment) -> BTreeSet<Name> {
    let long = w.long.sums();
    // Candidates fail most of their own attempts (targets out everywhere left out), improbably
    // so: only a worker with failures can be one.
    let mut per_region: BTreeMap<Name, Candidates> = BTreeMap::new();
    let mut served = Vec::new();
    // Leaving targets that are out aside only lowers a worker's failures: those with fewer
    // than the minimum over all its targets cannot be candidates.
    for (worker, sums) in long.failing_workers_with(config.worker_min_failures) {
        // Per region the worker served (one, as a rule): its attempts and the failures the
        // cells' baselines expect of them.
        served.clear();
        for cell in sums.cells.iter().filter(|c| !out.outages.contains_key(&c.target)) {
            let expected = cell.counts.n_judged() as f64 * baselines.cell_rate(&cell.region, &cell.target, config);
            add_served(&mut served, &cell.region, &cell.counts, expected);
        }
        for &(region, counts, expected) in &served {
            let (n, k) = (counts.n_judged(), counts.n_failed());
            let p_value = poisson_upper_tail(k, expected);
            if n >= config.worker_min_attempts
                && k >= config.worker_min_failures
                && rate(k, n) >= config.worker_min_rate
                && p_value <= config.alpha
            {
                per_region.entry(Arc::clone(region)).or_default().push((Arc::clone(worker), counts, p_value));
            }
        }
    }
    let per_region = per_region.into_iter().map(|(region, mut candidates)| {
        candidates.sort_by(|a, b| a.0.cmp(&b.0));
        let mut total = ConnectCounts::default();
        for ((r, target), counts) in long.cells().iter() {
            if *r == region && !out.outages.contains_key(target) {
                total.add(counts);
            }
        }
        (region, (total, candidates))
    });
    let mut quarantined = BTreeSet::new();
    for (region, (total, candidates)) in per_region {
        // The rest of the region, all candidates left out, must be healthy next to them: a
        // region-wide fault also makes some workers fail half their attempts.
        let (bad_k, bad_n) = candidates.iter().fold((0, 0), |(k, n), (_, c, _)| (k + c.n_failed(), n + c.n_judged()));
        let rest_rate = rate(total.n_failed() - bad_k, total.n_judged() - bad_n).max(config.floor_rate);
        let bad: Vec<_> = candidates
            .into_iter()
            .filter(|(_, c, _)| rate(c.n_failed(), c.n_judged()) >= config.bad_host_ratio * rest_rate)
            .collect();
        let bad_failures: u64 = bad.iter().map(|(_, c, _)| c.n_failed()).sum();
        let bad_successes: u64 = bad.iter().map(|(_, c, _)| c.n_succeeded()).sum();
        let few = few(bad.len(), bad_successes, total.n_succeeded(), config.max_bad_host_share);
        if bad.is_empty() || !few || (bad_failures as f64) < config.bad_host_failure_share * total.n_failed() as f64 {
            continue;
        }
        for (worker, counts, p_value) in bad {
            let evidence = Evidence {
                n_attempts: counts.n_judged(),
                n_failed: counts.n_failed(),
                rate: rate(counts.n_failed(), counts.n_judged()),
                baseline_rate: rest_rate,
                p_value,
                outcomes: outcomes(&counts),
                involved: vec![region.to_string()],
                window_minutes: config.long_window_minutes,
                note: Some(format!(
                    "{bad_failures} of the region's {} failed connects came from its bad hosts; the rest of the region fails {:.1} %",
                    total.n_failed(),
                    rest_rate * 100.0
                )),
                ..Evidence::default()
            };
            quarantined.insert(Arc::clone(&worker));
            out.bad_hosts.insert(worker, (Arc::clone(&region), evidence));
        }
    }
    quarantined
}

/// A worker's attempts by the region it served them from, and the failures their cells'
/// baselines expect: a list, since a worker serves one region as a rule (it is called for
/// every failing worker at every step, so it allocates nothing once `served` has grown).
fn add_served<'a>(
    served: &mut Vec<(&'a Name, ConnectCounts, f64)>,
    region: &'a Name,
    counts: &ConnectCounts,
    expected: f64,
) {
    match served.iter_mut().find(|(r, _, _)| *r == region) {
        Some(entry) => {
            entry.1.add(counts);
            entry.2 += expected;
        }
        None => served.push((region, *counts, expected)),
    }
}

/// Per region: the failed connects of its failing workers, how many they are, and the
/// connects they still got through; quarantined workers and targets that are out left out.
fn failing_by_region(
    window: &ConnectSums,
    quarantined: &BTreeSet<Name>,
    outages: &BTreeMap<Name, Evidence>,
) -> BTreeMap<Name, (u64, usize, u64)> {
    let mut failing: BTreeMap<Name, (u64, usize, u64)> = BTreeMap::new();
    if quarantined.is_empty() && outages.is_empty() {
        // Nothing to leave out: the sums the window keeps as rows enter and leave.
        for (region, f) in window.failing_regions() {
            failing.insert(Arc::clone(region), (f.n_failed, f.n_workers, f.n_succeeded));
        }
        return failing;
    }
    let mut served = Vec::new();
    for (worker, sums) in window.failing_workers() {
        if quarantined.contains(worker) {
            continue;
        }
        served.clear();
        for cell in sums.cells.iter().filter(|c| !outages.contains_key(&c.target)) {
            add_served(&mut served, &cell.region, &cell.counts, 0.0);
        }
        for (region, counts, _) in served.iter().filter(|(_, c, _)| c.n_failed() > 0) {
            let entry = failing.entry(Arc::clone(region)).or_default();
            entry.0 += counts.n_failed();
            entry.1 += 1;
            entry.2 += counts.n_succeeded();
        }
    }
    failing
}

/// Regions whose failures (over one window, outages and quarantined workers left out) sit on
/// a few workers, at least two each, that made a small share of the region's successful
/// connects: likely bad hosts that the bad-host test, which needs more attempts per worker,
/// has not confirmed yet. A fault of the region's path spreads its failures over about as many
/// workers as there are failures, and those still make most of the region's connects. (With a handful of failures
/// the two can look alike; see the README on what this costs.)
fn concentrated_regions(
    window: &ConnectSums,
    quarantined: &BTreeSet<Name>,
    outages: &BTreeMap<Name, Evidence>,
    config: &DetectorConfig,
) -> BTreeMap<Name, String> {
    failing_by_region(window, quarantined, outages)
        .into_iter()
        .filter_map(|(region, (failed, n_failing, their_successes))| {
            let total = region_successes(window, &region, quarantined, outages);
            let concentrated = failed >= 2 * n_failing as u64
                && few(n_failing, their_successes, total, config.max_bad_host_share);
            concentrated.then(|| {
                let note = format!(
                    "{failed} failed connects on {n_failing} workers with {:.0} % of the region's successful connects: bad hosts are suspected, the region is not blamed",
                    100.0 * rate(their_successes, total)
                );
                (region, note)
            })
        })
        .collect()
}

/// Targets that are out rather than unreachable from one region: they fail from most of the
/// regions that reach them (at least two, one of them significantly), or they refuse
/// connections (the host answers, the service is down) and no region reaches them.
fn find_outages(
    judged: &BTreeMap<(Name, Name), Judged>,
    open: &OpenAlarms,
    config: &DetectorConfig,
    out: &mut Assessment,
) {
    let mut targets: BTreeMap<&Name, Vec<(&Name, &Judged)>> = BTreeMap::new();
    for ((region, target), j) in judged {
        targets.entry(target).or_default().push((region, j));
    }
    for (target, cells) in targets {
        let needed = if open.targets.contains(target) { Level::Weak } else { Level::Strong };
        let clearly_failing = |j: &Judged| {
            j.level >= needed || (j.counts.n_failed() >= 2 && rate(j.counts.n_failed(), j.counts.n_judged()) >= 0.5)
        };
        let failing: Vec<&(&Name, &Judged)> = cells.iter().filter(|(_, j)| clearly_failing(j)).collect();
        let healthy = cells
            .iter()
            .filter(|(_, j)| {
                !clearly_failing(j) && j.counts.n_judged() >= config.min_failures && j.level == Level::Quiet
            })
            .count();
        if !failing.iter().any(|(_, j)| j.level >= needed) {
            continue;
        }
        let mut total = ConnectCounts::default();
        for (_, j) in &failing {
            total.add(&j.counts);
        }
        let refused = total.n_refused as f64 >= config.refused_share * total.n_failed() as f64;
        let widespread =
            failing.len() >= 2 && failing.len() as f64 >= config.target_outage_share * (failing.len() + healthy) as f64;
        if !(widespread || (refused && healthy == 0)) {
            continue;
        }
        let evidence = Evidence {
            n_attempts: total.n_judged(),
            n_failed: total.n_failed(),
            rate: rate(total.n_failed(), total.n_judged()),
            baseline_rate: failing.iter().map(|(_, j)| j.baseline).fold(0.0, f64::max),
            p_value: failing.iter().map(|(_, j)| j.p_value).fold(1.0, f64::min),
            outcomes: outcomes(&total),
            involved: failing.iter().map(|(r, _)| r.to_string()).collect(),
            window_minutes: failing.iter().map(|(_, j)| j.window_minutes).max().unwrap_or(config.window_minutes),
            note: Some(format!(
                "fails from {} of the {} regions reaching it{}",
                failing.len(),
                failing.len() + healthy,
                if refused { "; connections are refused: the service is down, not the path" } else { "" }
            )),
            ..Evidence::default()
        };
        out.outages.insert(Arc::clone(target), evidence);
    }
}

/// A region's level, kind and evidence from its cells, pooled and one by one.
fn judge_region(
    region: &Name,
    judged: &BTreeMap<(Name, Name), Judged>,
    windows: (&Cells, &Cells),
    outages: &BTreeMap<Name, Evidence>,
    (in_alarm, alarmed): (bool, &BTreeSet<Name>),
    config: &DetectorConfig,
) -> RegionVerdict {
    let own: Vec<(&Name, &Judged)> =
        judged.iter().filter(|((r, t), _)| r == region && !outages.contains_key(t)).map(|((_, t), j)| (t, j)).collect();
    // Pooled over the region's targets, in both windows: a sick path raises every backend
    // service a little before any one of them alone is significant.
    let pool = |cells: &Cells, window_minutes: i64| {
        let (mut counts, mut expected) = (ConnectCounts::default(), 0.0);
        for (target, j) in &own {
            if let Some(c) = cells.get(&(Arc::clone(region), Arc::clone(target))) {
                counts.add(c);
                expected += c.n_judged() as f64 * j.baseline;
            }
        }
        let baseline = if counts.n_judged() == 0 { config.floor_rate } else { expected / counts.n_judged() as f64 };
        judge(&counts, &ConnectCounts::default(), baseline, window_minutes, config)
    };
    let (short, long) = (pool(windows.0, config.window_minutes), pool(windows.1, config.long_window_minutes));
    let pooled = if long.level > short.level { long } else { short };
    // The cells that fail above their baseline at all: the evidence.
    let failing: Vec<(&Name, &Judged)> = own
        .iter()
        .filter(|(_, j)| j.counts.n_failed() > 0 && rate(j.counts.n_failed(), j.counts.n_judged()) > j.baseline)
        .copied()
        .collect();
    let cell_level = failing.iter().map(|(_, j)| j.level).max().unwrap_or(Level::Quiet);
    let suspect = pooled.level.max(cell_level) >= Level::Weak;
    let mut level = pooled.level.max(cell_level);
    if level == Level::Weak && !in_alarm {
        level = Level::Quiet;
    }
    // Peers: the other regions' attempts to the failing targets, over the same window; a peer
    // in alarm itself is no measure of what the target should answer.
    let peer_window = if pooled.window_minutes == config.long_window_minutes { windows.1 } else { windows.0 };
    let (mut peer_n, mut peer_k) = (0, 0);
    let mut targets = Vec::new();
    for (target, j) in &failing {
        let (mut n, mut k) = (0, 0);
        for ((r, t), other) in peer_window {
            if t == *target && r != region && !alarmed.contains(r) {
                n += other.n_judged();
                k += other.n_failed();
            }
        }
        peer_n += n;
        peer_k += k;
        targets.push(TargetEvidence {
            target: target.to_string(),
            n_attempts: j.counts.n_judged(),
            n_failed: j.counts.n_failed(),
            rate: rate(j.counts.n_failed(), j.counts.n_judged()),
            baseline_rate: j.baseline,
            peer_rate: (n > 0).then(|| rate(k, n)),
            peer_attempts: n,
            p_value: j.p_value,
        });
    }
    targets.sort_by(|a, b| b.n_failed.cmp(&a.n_failed).then_with(|| a.target.cmp(&b.target)));
    let mut failed = ConnectCounts::default();
    for (_, j) in &failing {
        failed.add(&j.counts);
    }
    let has_peers = peer_n >= config.min_attempts;
    let peer_rate = has_peers.then(|| rate(peer_k, peer_n));
    let mut note = None;
    // The peers only clear the region when they clearly fail too, not on a stray failure.
    if let Some(peer_rate) = peer_rate
        && peer_k >= config.min_failures
        && rate(failed.n_failed(), failed.n_judged()) < config.peer_ratio * peer_rate
        && level >= Level::Strong
    {
        note = Some(format!("peers fail at {:.1} % as well: not a fault of this region", peer_rate * 100.0));
        level = Level::Quiet;
    }
    let kind = if failed.n_dns > 0 && failed.n_dns as f64 >= config.dns_share * failed.n_failed() as f64 {
        Kind::Dns
    } else if has_peers {
        Kind::RegionPath
    } else {
        Kind::RegionalDependency
    };
    let counts = pooled.counts;
    let evidence = Evidence {
        window_minutes: pooled.window_minutes,
        n_attempts: counts.n_judged(),
        n_failed: counts.n_failed(),
        rate: rate(counts.n_failed(), counts.n_judged()),
        baseline_rate: pooled.baseline,
        peer_rate,
        p_value: pooled.p_value,
        outcomes: outcomes(&counts),
        targets,
        note,
        ..Evidence::default()
    };
    RegionVerdict {
        level: Some(level),
        kind: (level > Level::Quiet).then_some(kind),
        severity: ((evidence.rate - evidence.baseline_rate) / 0.3).clamp(0.0, 1.0),
        evidence,
        suspect,
    }
}

fn job_evidence(region: &Name, w: &Windows, baselines: &Baselines) -> JobEvidence {
    let jobs = w.jobs.sums().region(region);
    JobEvidence {
        n_jobs: jobs.n_jobs,
        n_failed: jobs.n_failed,
        n_infra: jobs.n_infra,
        n_user: jobs.n_user,
        infra_rate: rate(jobs.n_infra, jobs.n_jobs),
        baseline_infra_rate: baselines.infra_job_rate(region),
    }
}

/// Projects whose users' own failures storm: far above the region's usual user failure rate,
/// mostly one project. They raise no infra alarm; the feed names them so nobody chases one.
fn find_user_storms(w: &Windows, baselines: &Baselines, config: &DetectorConfig, out: &mut Assessment) {
    // Only a project with user-attributed failures can storm.
    let jobs = w.jobs.sums();
    let mut projects: BTreeMap<&Name, Vec<(&Name, JobCounts)>> = BTreeMap::new();
    for ((region, project), counts) in jobs.user_failing() {
        projects.entry(region).or_default().push((project, *counts));
    }
    for (region, projects) in projects {
        let total = jobs.region(region);
        let Some((project, top)) = projects.iter().max_by(|a, b| a.1.n_user.cmp(&b.1.n_user).then(b.0.cmp(a.0))) else {
            continue;
        };
        let baseline = baselines.user_job_rate(region);
        let p_value = poisson_upper_tail(top.n_user, top.n_jobs as f64 * baseline);
        let storm = top.n_user >= config.user_storm_min_failures
            && top.n_user as f64 >= config.user_storm_project_share * total.n_user as f64
            && p_value <= config.user_storm_alpha;
        if !storm {
            continue;
        }
        let evidence = Evidence {
            rate: rate(total.n_user, total.n_jobs),
            baseline_rate: baseline,
            p_value,
            involved: vec![region.to_string()],
            window_minutes: config.job_window_minutes,
            jobs: JobEvidence {
                n_jobs: top.n_jobs,
                n_failed: top.n_failed,
                n_infra: top.n_infra,
                n_user: top.n_user,
                infra_rate: rate(top.n_infra, top.n_jobs),
                baseline_infra_rate: baselines.infra_job_rate(region),
            },
            note: Some(format!("{} of {region}'s {} user-attributed failures", top.n_user, total.n_user)),
            ..Evidence::default()
        };
        out.user_storms.insert(Arc::clone(project), evidence);
    }
}

fn outcomes(counts: &ConnectCounts) -> Outcomes {
    Outcomes {
        timeout: counts.n_timeouts,
        refused: counts.n_refused,
        dns_error: counts.n_dns,
        other: counts.n_other_failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The burst window keeps no sums by worker: what it leaves out for the quarantined
    /// workers, read again from its minutes, is what a window keeping them leaves out.
    #[test]
    fn burst_cells_leave_out_the_quarantined_workers_that_failed_in_them() {
        let config = DetectorConfig { window_minutes: 3, burst_minutes: 3, ..DetectorConfig::default() };
        let ok = ConnectCounts { n_attempts: 4, ..ConnectCounts::default() };
        let failed = ConnectCounts { n_attempts: 2, n_timeouts: 2, ..ConnectCounts::default() };
        let mut observations = Observations::default();
        for m in 0..10 {
            observations.push_connect(m, "r1", "api", "healthy", ok);
            observations.push_connect(m, "r1", "api", "bad", if m >= 8 { failed } else { ok });
            observations.push_connect(m, "r1", "db", "bad", ok);
            // Quarantined, but without failures in the last three minutes: it counts again.
            observations.push_connect(m, "r1", "api", "mended", if m < 5 { failed } else { ok });
            observations.push_connect(m, "r2", "api", "healthy-too", ok);
        }
        let mut windows = Windows::new(&config);
        windows.slide_to(10, &observations);
        let quarantined: BTreeSet<Name> =
            ["bad", "mended", "gone"].into_iter().map(|w| observations.intern(&Name::from(w))).collect();
        let burst = burst_cells(&windows, &observations, &quarantined);
        assert_eq!(burst, cell_sums(windows.connects.sums(), &quarantined));
        let cell = |r: &str, t: &str| burst.get(&(Name::from(r), Name::from(t))).copied();
        // Minutes 7 to 9: "bad" failed in them and is out of both its cells, "mended" is not.
        assert_eq!(cell("r1", "api").map(|c| (c.n_attempts, c.n_failed())), Some((24, 0)));
        assert_eq!(cell("r1", "db"), None);
        assert_eq!(cell("r2", "api").map(|c| c.n_attempts), Some(12));
        assert_eq!(burst_cells(&windows, &observations, &BTreeSet::new()).len(), 3);
    }
}
