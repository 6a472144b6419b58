//! The simulation engine: draws job arrivals and periodic probes over the scenario's time
//! span from one seeded RNG, in a fixed order, so a seed always gives the same events.

use std::borrow::Cow;

use failscope_schemas::{CURRENT_SCHEMA_VERSION, ConnectAttempt, ConnectOutcome, EventType, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::fleet::{self, JobKind, PROJECTS, Target, Worker};
use super::network::{self, Failure};
use super::scenario::Scenario;
use super::truth::GroundTruth;

/// Time between two probes of one worker, in milliseconds.
const PROBE_INTERVAL_MS: i64 = 15 * 60 * 1000;

/// One produced event, ready to be written.
#[derive(Debug, Clone)]
pub struct SimEvent {
    pub(crate) at: Timestamp,
    pub(crate) event_id: String,
    pub json: Vec<u8>,
}

/// The simulation's state while it runs.
#[derive(Debug)]
pub(super) struct World {
    pub(super) rng: ChaCha8Rng,
    pub(super) scenario: Scenario,
    pub(super) workers: Vec<Worker>,
    pub(super) events: Vec<SimEvent>,
    pub(super) truth: GroundTruth,
}

impl World {
    pub(super) fn new(scenario: Scenario, seed: u64) -> World {
        let truth = GroundTruth::new(&scenario, seed);
        World { rng: ChaCha8Rng::seed_from_u64(seed), scenario, workers: fleet::workers(), events: Vec::new(), truth }
    }

    /// Runs the whole scenario: the events in time order and the ground truth.
    pub(super) fn run(mut self) -> (Vec<SimEvent>, GroundTruth) {
        let (start, end) = (self.scenario.starts_at(), self.scenario.ends_at());
        let mut arrivals = Vec::new();
        for kind in JobKind::ALL {
            let mean_gap_ms = 3_600_000.0 / kind.jobs_per_hour();
            let mut t = start.as_millis() as f64;
            loop {
                let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
                t += -u.ln() * mean_gap_ms;
                if t >= end.as_millis() as f64 {
                    break;
                }
                arrivals.push((Timestamp::from_millis(t as i64), kind));
            }
        }
        arrivals.sort_by_key(|(t, kind)| (*t, kind.as_str()));
        for (seq, (t, kind)) in arrivals.into_iter().enumerate() {
            self.simulate_job(seq, kind, t);
        }
        self.simulate_probes(start, end);
        self.events.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
        self.truth.jobs.sort_by(|a, b| (a.started_at, &a.job_id).cmp(&(b.started_at, &b.job_id)));
        (self.events, self.truth)
    }

    /// Picks a worker for a job of `kind` at `t`: Yocto builds run in their project's data
    /// center, the rest where the scenario routes them.
    pub(super) fn pick_worker(&mut self, kind: JobKind, yocto_region: &str, t: Timestamp) -> usize {
        let region = match kind {
            JobKind::YoctoBuild => yocto_region,
            _ => {
                let routes = self.scenario.routing_at(kind, t);
                pick_weighted(&mut self.rng, routes, |r| r.1).map_or("us-east-2", |r| r.0)
            }
        };
        let candidates: Vec<usize> =
            self.workers.iter().enumerate().filter(|(_, w)| w.region.name == region).map(|(i, _)| i).collect();
        candidates[self.rng.random_range(0..candidates.len())]
    }

    pub(super) fn pick_project(&mut self) -> &'static fleet::Project {
        pick_weighted(&mut self.rng, &PROJECTS, |p| p.weight).unwrap_or(&PROJECTS[0])
    }

    /// A UUID v7 carrying `at` and random bits from the seeded RNG.
    pub(super) fn event_id(&mut self, at: Timestamp) -> String {
        let random: [u8; 10] = self.rng.random();
        uuid::Builder::from_unix_timestamp_millis(at.as_millis().max(0) as u64, &random).into_uuid().to_string()
    }

    pub(super) fn push<E: Serialize>(&mut self, at: Timestamp, event_id: String, event: &E) {
        let json = serde_json::to_vec(event).expect("contract events always serialize");
        self.events.push(SimEvent { at, event_id, json });
    }

    /// Records one connect attempt of `worker` and returns how it failed, if it did.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn connect(
        &mut self,
        worker: usize,
        target: &Target,
        at: Timestamp,
        job_id: Option<&str>,
        phase: &'static str,
        attempt: u32,
    ) -> (Option<Failure>, f64) {
        let fate = network::connect_fate(&self.scenario, &self.workers[worker], target, at, &mut self.rng);
        let outcome = fate.map(|f| f.outcome);
        let duration_ms = network::duration_ms(&self.workers[worker], target, outcome, &mut self.rng);
        let event_id = self.event_id(at);
        let w = &self.workers[worker];
        let event = ConnectAttempt {
            event_type: EventType::ConnectAttempt,
            schema_version: CURRENT_SCHEMA_VERSION,
            event_id: Cow::Owned(event_id.clone()),
            worker_id: Cow::Owned(w.worker_id.clone()),
            region: Cow::Borrowed(w.region.name),
            provider: Cow::Borrowed(w.region.provider),
            zone: Some(Cow::Borrowed(w.zone)),
            started_at: at,
            duration_ms,
            target_service: Cow::Owned(target.service.clone()),
            target_host: Cow::Owned(target.host.clone()),
            target_port: target.port,
            target_addr: None,
            target_region: Some(Cow::Borrowed(target.region)),
            target_owner: None,
            job_id: job_id.map(|j| Cow::Owned(j.to_string())),
            phase: Some(Cow::Borrowed(phase)),
            outcome: outcome.unwrap_or(ConnectOutcome::Ok),
            errno: outcome.and_then(network::errno_of),
            attempt,
            error: outcome.map(|o| Cow::Borrowed(error_text(o))),
        };
        self.push(at, event_id, &event);
        (fate, duration_ms)
    }

    fn simulate_probes(&mut self, start: Timestamp, end: Timestamp) {
        for worker in 0..self.workers.len() {
            let offset_ms = (worker as i64 * 17_000) % PROBE_INTERVAL_MS;
            let region = self.workers[worker].region;
            let cache = region.has_cache.then(|| fleet::cache(region, worker % fleet::N_CACHE_SHARDS + 1));
            let api = fleet::backend("api");
            let mut t = start.add_millis(offset_ms);
            while t < end {
                self.connect(worker, &api, t, None, "probe", 1);
                if let Some(cache) = &cache {
                    self.connect(worker, cache, t.add_millis(250), None, "probe", 1);
                }
                t = t.add_millis(PROBE_INTERVAL_MS);
            }
        }
    }
}

fn error_text(outcome: ConnectOutcome) -> &'static str {
    match outcome {
        ConnectOutcome::Timeout => "connection timed out",
        ConnectOutcome::Refused => "connection refused",
        ConnectOutcome::DnsError => "temporary failure in name resolution",
        _ => "connection failed",
    }
}

fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> f64) -> Option<&'a T> {
    let total: f64 = items.iter().map(&weight).sum();
    let mut u = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
    for item in items {
        u -= weight(item);
        if u < 0.0 {
            return Some(item);
        }
    }
    items.last()
}
