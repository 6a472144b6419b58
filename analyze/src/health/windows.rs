//! The sums of the detector's sliding windows, kept up to date as minutes enter and leave: a
//! step costs what its minute brings and what is failing, not what the windows hold. (A window
//! of an hour over a large fleet holds tens of thousands of (region, target, worker) cells;
//! summing them again at every minute made a 48-hour replay cost hundreds of lake scans.)
//!
//! Workers: the observations hold the rows of the workers that failed within an hour of them,
//! around each minute of what was read, and a replay reads more around its minutes than a
//! live tick does. So that both decide alike, nothing here looks at a worker without failures
//! in the window: only [`ConnectSums::failing_worker`], [`ConnectSums::failing_workers`],
//! [`ConnectSums::failing_workers_with`] and [`ConnectSums::failing_regions`] (sums over
//! failing workers) are offered.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use foldhash::fast::RandomState;
use smallvec::SmallVec;

use super::config::DetectorConfig;
use super::observations::{CellRow, ConnectCounts, ConnectRow, JobCounts, JobRow, Minute, Observations};

type Name = Arc<str>;
/// The windows' maps are looked up for every row of every minute: a fast hash (the keys are
/// addresses, not an attacker's input).
type HashMap<K, V> = std::collections::HashMap<K, V, RandomState>;
type HashSet<K> = std::collections::HashSet<K, RandomState>;

/// The address of a name the observations interned. They keep one allocation per distinct
/// name ([`Observations::intern`]), so the address stands for the name and the windows neither
/// hash nor compare text. Every map keyed by addresses also holds the names themselves, so
/// that an allocation, and with it its address, stays taken while it is a key.
type Addr = usize;

fn addr(name: &Name) -> Addr {
    Arc::as_ptr(name).cast::<u8>() as usize
}

/// The windows that end at the minute being judged (exclusive).
#[derive(Debug)]
pub(crate) struct Windows {
    /// Connect attempts over the short window.
    pub connects: Sliding<ConnectSums>,
    /// Connect attempts over the long window.
    pub long: Sliding<ConnectSums>,
    /// Connect attempts over the burst window, by cell only: its few minutes are read again
    /// for the workers in quarantine when there are any (`assess::burst_cells`).
    pub burst: Sliding<CellSums>,
    /// Finished jobs over the job window.
    pub jobs: Sliding<JobSums>,
}

impl Windows {
    pub(super) fn new(config: &DetectorConfig) -> Windows {
        Windows {
            connects: Sliding::new(config.window_minutes),
            long: Sliding::new(config.long_window_minutes),
            burst: Sliding::new(config.burst_minutes),
            jobs: Sliding::new(config.job_window_minutes),
        }
    }

    /// Moves every window to end at `t` (exclusive).
    pub(super) fn slide_to(&mut self, t: Minute, observations: &Observations) {
        self.connects.slide_to(t, observations);
        self.long.slide_to(t, observations);
        self.burst.slide_to(t, observations);
        self.jobs.slide_to(t, observations);
    }

    /// Takes the minutes from `from` on out of the windows, before `observations` replaces
    /// them; [`Windows::restore_from`] puts the new ones in after.
    pub(super) fn retract_from(&mut self, from: Minute, observations: &Observations) {
        self.connects.retract_from(from, observations);
        self.long.retract_from(from, observations);
        self.burst.retract_from(from, observations);
        self.jobs.retract_from(from, observations);
    }

    pub(super) fn restore_from(&mut self, from: Minute, observations: &Observations) {
        self.connects.restore_from(from, observations);
        self.long.restore_from(from, observations);
        self.burst.restore_from(from, observations);
        self.jobs.restore_from(from, observations);
    }
}

/// Sums that the rows of one minute enter and leave.
pub(crate) trait Sums: Default {
    fn add_minute(&mut self, observations: &Observations, minute: Minute);
    fn remove_minute(&mut self, observations: &Observations, minute: Minute);
}

/// A window of `minutes` minutes ending at `end` (exclusive), and its sums.
#[derive(Debug)]
pub(crate) struct Sliding<S> {
    minutes: i64,
    end: Option<Minute>,
    sums: S,
}

impl<S: Sums> Sliding<S> {
    fn new(minutes: i64) -> Sliding<S> {
        Sliding { minutes, end: None, sums: S::default() }
    }

    pub(super) fn sums(&self) -> &S {
        &self.sums
    }

    /// The minutes the window holds.
    pub(super) fn minutes_held(&self) -> Range<Minute> {
        self.end.map_or(0..0, |end| (end - self.minutes)..end)
    }

    /// Ends the window at `t`: one minute in and one out per minute moved, or summed afresh
    /// when the window jumps (the first step, or a clock that went back).
    fn slide_to(&mut self, t: Minute, observations: &Observations) {
        match self.end {
            Some(end) if end <= t && t - end < self.minutes => {
                for m in end..t {
                    self.sums.add_minute(observations, m);
                    self.sums.remove_minute(observations, m - self.minutes);
                }
            }
            _ => {
                self.sums = S::default();
                for m in (t - self.minutes)..t {
                    self.sums.add_minute(observations, m);
                }
            }
        }
        self.end = Some(t);
    }

    /// The minutes of the window from `from` on: the ones a replacement of the observations
    /// from `from` changes.
    fn affected(&self, from: Minute) -> Range<Minute> {
        self.end.map_or(0..0, |end| from.max(end - self.minutes)..end)
    }

    fn retract_from(&mut self, from: Minute, observations: &Observations) {
        for m in self.affected(from) {
            self.sums.remove_minute(observations, m);
        }
    }

    fn restore_from(&mut self, from: Minute, observations: &Observations) {
        for m in self.affected(from) {
            self.sums.add_minute(observations, m);
        }
    }
}

/// Connect attempts in a window by (region, target) cell, of every worker.
#[derive(Debug, Default)]
pub(crate) struct CellSums {
    cells: HashMap<(Addr, Addr), Cell>,
}

#[derive(Debug)]
struct Cell {
    region: Name,
    target: Name,
    counts: ConnectCounts,
}

impl CellSums {
    /// (region, target) → the attempts of every worker.
    pub(super) fn iter(&self) -> impl Iterator<Item = ((&Name, &Name), &ConnectCounts)> {
        self.cells.values().map(|c| ((&c.region, &c.target), &c.counts))
    }

    fn add(&mut self, row: &CellRow) {
        self.cells
            .entry((addr(&row.region), addr(&row.target)))
            .or_insert_with(|| Cell {
                region: Arc::clone(&row.region),
                target: Arc::clone(&row.target),
                counts: ConnectCounts::default(),
            })
            .counts
            .add(&row.counts);
    }

    fn remove(&mut self, row: &CellRow) {
        let key = (addr(&row.region), addr(&row.target));
        if let Some(cell) = self.cells.get_mut(&key) {
            cell.counts.sub(&row.counts);
            if cell.counts.n_attempts == 0 {
                self.cells.remove(&key);
            }
        }
    }
}

impl Sums for CellSums {
    fn add_minute(&mut self, observations: &Observations, minute: Minute) {
        for row in observations.cells_at(minute) {
            self.add(row);
        }
    }

    fn remove_minute(&mut self, observations: &Observations, minute: Minute) {
        for row in observations.cells_at(minute) {
            self.remove(row);
        }
    }
}

/// Connect attempts in a window: by cell, and by worker for the workers that failed.
#[derive(Debug, Default)]
pub(crate) struct ConnectSums {
    cells: CellSums,
    /// The workers the observations hold rows of (see the module's note).
    workers: HashMap<Addr, WorkerSums>,
    /// The workers with failed attempts in the window, by how many: the bad-host test looks
    /// only at those with enough of them, a few even in a sick region.
    by_failures: BTreeMap<u64, HashSet<Addr>>,
    /// Per region, over the workers with failures there: what the concentration test sums at
    /// every step, kept as rows enter and leave rather than summed over every failing worker.
    failing_regions: HashMap<Addr, (Name, FailingRegion)>,
}

/// The failing workers of a region, summed: their failed connects in it, how many they are,
/// and the connects they still got through.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FailingRegion {
    pub n_failed: u64,
    pub n_workers: usize,
    pub n_succeeded: u64,
}

impl FailingRegion {
    /// One worker's attempts in the region, if it failed any there.
    fn of(counts: &ConnectCounts) -> FailingRegion {
        if counts.n_failed() == 0 {
            return FailingRegion::default();
        }
        FailingRegion { n_failed: counts.n_failed(), n_workers: 1, n_succeeded: counts.n_succeeded() }
    }

    fn add(&mut self, other: FailingRegion) {
        self.n_failed += other.n_failed;
        self.n_workers += other.n_workers;
        self.n_succeeded += other.n_succeeded;
    }

    fn sub(&mut self, other: FailingRegion) {
        self.n_failed -= other.n_failed.min(self.n_failed);
        self.n_workers -= other.n_workers.min(self.n_workers);
        self.n_succeeded -= other.n_succeeded.min(self.n_succeeded);
    }
}

/// One worker's attempts in a window, by (region, target): a worker serves one region and
/// reaches a few targets, so a list is the right map. The list lies in the map's entry up to
/// [`WORKER_CELLS`] cells: a step's rows touch workers all over the map, and each allocation
/// apart is one more miss of the cache per row (the steps' main cost).
#[derive(Debug)]
pub(crate) struct WorkerSums {
    name: Name,
    pub cells: SmallVec<[WorkerCell; WORKER_CELLS]>,
    n_failed: u64,
}

impl WorkerSums {
    /// The worker's attempts in `region`, over its targets.
    fn in_region(&self, region: &Name) -> ConnectCounts {
        let mut counts = ConnectCounts::default();
        for cell in self.cells.iter().filter(|c| Arc::ptr_eq(&c.region, region)) {
            counts.add(&cell.counts);
        }
        counts
    }
}

/// The cells of a worker held in its entry.
const WORKER_CELLS: usize = 6;

#[derive(Debug)]
pub(crate) struct WorkerCell {
    pub region: Name,
    pub target: Name,
    pub counts: ConnectCounts,
    n_rows: u32,
}

impl ConnectSums {
    /// (region, target) → the attempts of every worker.
    pub(super) fn cells(&self) -> &CellSums {
        &self.cells
    }

    /// `worker`'s attempts, if it failed any in the window (`worker` as the observations
    /// interned it, like every name the windows hand out).
    pub(super) fn failing_worker(&self, worker: &Name) -> Option<&WorkerSums> {
        self.workers.get(&addr(worker)).filter(|w| w.n_failed > 0)
    }

    /// The workers with failed attempts, in no particular order.
    pub(super) fn failing_workers(&self) -> impl Iterator<Item = (&Name, &WorkerSums)> {
        self.failing_workers_with(1)
    }

    /// The workers with at least `n_failed` failed attempts (and at least one).
    pub(super) fn failing_workers_with(&self, n_failed: u64) -> impl Iterator<Item = (&Name, &WorkerSums)> {
        self.by_failures
            .range(n_failed.max(1)..)
            .flat_map(|(_, workers)| workers)
            .filter_map(|w| self.workers.get(w))
            .map(|w| (&w.name, w))
    }

    /// Per region, its failing workers summed (regions without any are left out).
    pub(super) fn failing_regions(&self) -> impl Iterator<Item = (&Name, &FailingRegion)> {
        self.failing_regions.values().filter(|(_, f)| f.n_workers > 0).map(|(region, f)| (region, f))
    }

    fn add_worker(&mut self, row: &ConnectRow) {
        let worker = self.workers.entry(addr(&row.worker)).or_insert_with(|| WorkerSums {
            name: Arc::clone(&row.worker),
            cells: SmallVec::new(),
            n_failed: 0,
        });
        let (before, n_failed_before) = (FailingRegion::of(&worker.in_region(&row.region)), worker.n_failed);
        let same_cell =
            |c: &&mut WorkerCell| Arc::ptr_eq(&c.region, &row.region) && Arc::ptr_eq(&c.target, &row.target);
        match worker.cells.iter_mut().find(same_cell) {
            Some(cell) => {
                cell.counts.add(&row.counts);
                cell.n_rows += 1;
            }
            None => worker.cells.push(WorkerCell {
                region: Arc::clone(&row.region),
                target: Arc::clone(&row.target),
                counts: row.counts,
                n_rows: 1,
            }),
        }
        worker.n_failed += row.counts.n_failed();
        let (after, n_failed_after) = (FailingRegion::of(&worker.in_region(&row.region)), worker.n_failed);
        self.moved(row, (before, after), (n_failed_before, n_failed_after));
    }

    fn remove_worker(&mut self, row: &ConnectRow) {
        let Some(worker) = self.workers.get_mut(&addr(&row.worker)) else { return };
        let same_cell = |c: &WorkerCell| Arc::ptr_eq(&c.region, &row.region) && Arc::ptr_eq(&c.target, &row.target);
        let Some(i) = worker.cells.iter().position(same_cell) else {
            return;
        };
        let (before, n_failed_before) = (FailingRegion::of(&worker.in_region(&row.region)), worker.n_failed);
        let cell = &mut worker.cells[i];
        cell.counts.sub(&row.counts);
        cell.n_rows -= 1;
        if cell.n_rows == 0 {
            worker.cells.swap_remove(i);
        }
        worker.n_failed -= row.counts.n_failed().min(worker.n_failed);
        let (after, n_failed_after) = (FailingRegion::of(&worker.in_region(&row.region)), worker.n_failed);
        if worker.cells.is_empty() {
            self.workers.remove(&addr(&row.worker));
        }
        self.moved(row, (before, after), (n_failed_before, n_failed_after));
    }

    /// Moves a worker whose row just entered or left: in its region's sums, and between the
    /// counts of failures it is filed under.
    fn moved(&mut self, row: &ConnectRow, regions: (FailingRegion, FailingRegion), n_failed: (u64, u64)) {
        if regions.0 != regions.1 {
            let (_, region) = self
                .failing_regions
                .entry(addr(&row.region))
                .or_insert_with(|| (Arc::clone(&row.region), FailingRegion::default()));
            region.sub(regions.0);
            region.add(regions.1);
        }
        if n_failed.0 != n_failed.1 {
            let worker = addr(&row.worker);
            if n_failed.0 > 0
                && let Some(workers) = self.by_failures.get_mut(&n_failed.0)
            {
                workers.remove(&worker);
                if workers.is_empty() {
                    self.by_failures.remove(&n_failed.0);
                }
            }
            if n_failed.1 > 0 {
                self.by_failures.entry(n_failed.1).or_default().insert(worker);
            }
        }
    }
}

impl Sums for ConnectSums {
    fn add_minute(&mut self, observations: &Observations, minute: Minute) {
        self.cells.add_minute(observations, minute);
        for row in observations.connects_at(minute) {
            self.add_worker(row);
        }
    }

    fn remove_minute(&mut self, observations: &Observations, minute: Minute) {
        self.cells.remove_minute(observations, minute);
        for row in observations.connects_at(minute) {
            self.remove_worker(row);
        }
    }
}

/// Finished jobs in a window: by region, by (region, project), and the projects with
/// user-attributed failures.
#[derive(Debug, Default)]
pub(crate) struct JobSums {
    regions: HashMap<Name, JobCounts>,
    projects: HashMap<(Name, Name), JobCounts>,
    /// (region, project) with user-attributed failures.
    user_failing: HashSet<(Name, Name)>,
}

impl JobSums {
    pub(super) fn region(&self, region: &str) -> JobCounts {
        self.regions.get(region).copied().unwrap_or_default()
    }

    /// (region, project) → jobs, for the projects with user-attributed failures.
    pub(super) fn user_failing(&self) -> impl Iterator<Item = (&(Name, Name), &JobCounts)> {
        self.user_failing.iter().filter_map(|k| self.projects.get_key_value(k))
    }
}

impl Sums for JobSums {
    fn add_minute(&mut self, observations: &Observations, minute: Minute) {
        for row in observations.jobs_at(minute) {
            self.add(row);
        }
    }

    fn remove_minute(&mut self, observations: &Observations, minute: Minute) {
        for row in observations.jobs_at(minute) {
            self.remove(row);
        }
    }
}

impl JobSums {
    fn add(&mut self, row: &JobRow) {
        self.regions.entry(Arc::clone(&row.region)).or_default().add(&row.counts);
        let key = (Arc::clone(&row.region), Arc::clone(&row.project));
        let project = self.projects.entry(key.clone()).or_default();
        project.add(&row.counts);
        if project.n_user > 0 {
            self.user_failing.insert(key);
        }
    }

    fn remove(&mut self, row: &JobRow) {
        if let Some(region) = self.regions.get_mut(&row.region) {
            region.sub(&row.counts);
            if region.n_jobs == 0 {
                self.regions.remove(&row.region);
            }
        }
        let key = (Arc::clone(&row.region), Arc::clone(&row.project));
        if let Some(project) = self.projects.get_mut(&key) {
            project.sub(&row.counts);
            if project.n_user == 0 {
                self.user_failing.remove(&key);
            }
            if project.n_jobs == 0 {
                self.projects.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// A small deterministic generator (xorshift): the test needs variety, not quality.
    struct Dice(u64);

    impl Dice {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The sums of `[t - minutes, t)` from scratch: what the sliding sums must equal.
    fn summed(observations: &Observations, t: Minute, minutes: i64) -> BTreeMap<(Name, Name, Name), ConnectCounts> {
        let mut sums = BTreeMap::<(Name, Name, Name), ConnectCounts>::new();
        for m in (t - minutes)..t {
            for row in observations.connects_at(m) {
                let key = (Arc::clone(&row.region), Arc::clone(&row.target), Arc::clone(&row.worker));
                sums.entry(key).or_default().add(&row.counts);
            }
        }
        sums
    }

    fn flattened(sums: &ConnectSums) -> BTreeMap<(Name, Name, Name), ConnectCounts> {
        sums.workers
            .values()
            .flat_map(|s| {
                s.cells.iter().map(|c| ((Arc::clone(&c.region), Arc::clone(&c.target), Arc::clone(&s.name)), c.counts))
            })
            .collect()
    }

    fn check(sliding: &Sliding<ConnectSums>, observations: &Observations, t: Minute) {
        let want = summed(observations, t, sliding.minutes);
        let sums = sliding.sums();
        assert_eq!(flattened(sums), want, "by worker at {t}");
        let mut cells = BTreeMap::<(Name, Name), ConnectCounts>::new();
        for ((r, target, _), c) in &want {
            cells.entry((Arc::clone(r), Arc::clone(target))).or_default().add(c);
        }
        let got: BTreeMap<_, _> = sums.cells().iter().map(|((r, t), c)| ((Arc::clone(r), Arc::clone(t)), *c)).collect();
        assert_eq!(got, cells, "by cell at {t}");
        let failing: BTreeSet<Name> =
            want.iter().filter(|(_, c)| c.n_failed() > 0).map(|((_, _, w), _)| Arc::clone(w)).collect();
        let got: BTreeSet<Name> = sums.failing_workers().map(|(w, _)| Arc::clone(w)).collect();
        assert_eq!(got, failing, "failing workers at {t}");
        // The workers with at least three failures, and the failing workers by region.
        let mut by_worker = BTreeMap::<Name, u64>::new();
        let mut by_region_worker = BTreeMap::<(Name, Name), ConnectCounts>::new();
        for ((r, _, w), c) in &want {
            *by_worker.entry(Arc::clone(w)).or_default() += c.n_failed();
            by_region_worker.entry((Arc::clone(r), Arc::clone(w))).or_default().add(c);
        }
        let heavy: BTreeSet<Name> = by_worker.into_iter().filter(|(_, k)| *k >= 3).map(|(w, _)| w).collect();
        let got: BTreeSet<Name> = sums.failing_workers_with(3).map(|(w, _)| Arc::clone(w)).collect();
        assert_eq!(got, heavy, "workers with three failures at {t}");
        let mut regions = BTreeMap::<Name, FailingRegion>::new();
        for ((r, _), c) in by_region_worker.iter().filter(|(_, c)| c.n_failed() > 0) {
            regions.entry(Arc::clone(r)).or_default().add(FailingRegion::of(c));
        }
        let got: BTreeMap<Name, FailingRegion> = sums.failing_regions().map(|(r, f)| (Arc::clone(r), *f)).collect();
        assert_eq!(got, regions, "failing workers by region at {t}");
    }

    fn random_minute(rng: &mut Dice, observations: &mut Observations, m: Minute) {
        for _ in 0..rng.below(6) {
            let region = ["r1", "r2"][rng.below(2) as usize];
            let target = ["a", "b", "c"][rng.below(3) as usize];
            // Some workers serve both regions: the sums must keep them apart.
            let worker = format!("w{}", rng.below(5));
            let n_attempts = 1 + rng.below(3);
            let counts =
                ConnectCounts { n_attempts, n_timeouts: rng.below(n_attempts + 1), ..ConnectCounts::default() };
            // One row per (region, target, worker) and minute, as the query groups them.
            if !observations
                .connects_at(m)
                .iter()
                .any(|r| (&*r.region, &*r.target, &*r.worker) == (region, target, &*worker))
            {
                observations.push_connect(m, region, target, &worker, counts);
            }
        }
    }

    #[test]
    fn sliding_sums_equal_the_sums_from_scratch_through_steps_jumps_and_rereads() {
        let mut rng = Dice(0x9e37_79b9_7f4a_7c15);
        let mut observations = Observations::default();
        for m in 0..200 {
            random_minute(&mut rng, &mut observations, m);
        }
        let mut sliding = Sliding::<ConnectSums>::new(15);
        let mut t = 20;
        while t < 200 {
            sliding.slide_to(t, &observations);
            check(&sliding, &observations, t);
            if rng.below(4) == 0 {
                // A live tick: the last minutes are read again and come back different.
                let from = t - 1 - rng.below(19) as i64;
                let mut fresh = Observations::default();
                for m in from..200 {
                    random_minute(&mut rng, &mut fresh, m);
                }
                sliding.retract_from(from, &observations);
                observations.replace_from(from, fresh);
                sliding.restore_from(from, &observations);
                check(&sliding, &observations, t);
            }
            t += [1, 1, 1, 2, 30][rng.below(5) as usize];
        }
    }
}
