//! The simulated fleet as data: regions and their workers, the backend services in GCP, the
//! sharded Yocto cache servers per data center, and the projects with their job mix.

/// A region workers or services live in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Region {
    pub(crate) name: &'static str,
    pub(crate) provider: &'static str,
    /// Short code used in worker and host names.
    pub(crate) code: &'static str,
    pub(crate) zones: &'static [&'static str],
    pub(crate) n_workers: usize,
    /// Whether the region hosts a sharded Yocto shared-state cache.
    pub(crate) has_cache: bool,
}

/// Where the backend lives: every job talks to these services.
pub(super) const BACKEND_REGION: &str = "us-central1";

pub(super) const REGIONS: [Region; 5] = [
    Region {
        name: "us-east-2",
        provider: "aws",
        code: "use2",
        zones: &["us-east-2a", "us-east-2b", "us-east-2c"],
        n_workers: 24,
        has_cache: true,
    },
    Region {
        name: "us-east-1",
        provider: "aws",
        code: "use1",
        zones: &["us-east-1a", "us-east-1d"],
        n_workers: 8,
        has_cache: true,
    },
    Region {
        name: "us-west-1",
        provider: "aws",
        code: "usw1",
        zones: &["us-west-1b", "us-west-1c"],
        n_workers: 8,
        has_cache: false,
    },
    Region {
        name: "fr-par",
        provider: "online.net",
        code: "par",
        zones: &["dc3", "dc5"],
        n_workers: 10,
        has_cache: true,
    },
    Region {
        name: BACKEND_REGION,
        provider: "gcp",
        code: "usc1",
        zones: &["us-central1-b"],
        n_workers: 4,
        has_cache: false,
    },
];

/// A service workers connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(crate) service: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) region: &'static str,
    /// A backend service in GCP (as opposed to a data center's cache).
    pub(crate) is_backend: bool,
}

/// The backend services, by the phase that uses them.
pub(super) fn backend(service: &str) -> Target {
    let host = match service {
        "api" => "api.foundries.example",
        "source" => "source.foundries.example",
        "registry" => "hub.foundries.example",
        _ => "artifacts.foundries.example",
    };
    Target { service: service.into(), host: host.into(), port: 443, region: BACKEND_REGION, is_backend: true }
}

pub(super) const N_CACHE_SHARDS: usize = 3;

/// Shard `shard` (1-based) of the shared-state cache in `region`.
pub(super) fn cache(region: &Region, shard: usize) -> Target {
    Target {
        service: format!("sstate-cache-{}-{shard}", region.code),
        host: format!("sstate-{shard}.{}.cache.foundries.example", region.code),
        port: 2049,
        region: region.name,
        is_backend: false,
    }
}

/// A kind of CI job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobKind {
    ContainerBuild,
    Test,
    YoctoBuild,
}

impl JobKind {
    pub(crate) const ALL: [JobKind; 3] = [JobKind::ContainerBuild, JobKind::Test, JobKind::YoctoBuild];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobKind::ContainerBuild => "container_build",
            JobKind::Test => "test",
            JobKind::YoctoBuild => "yocto_build",
        }
    }

    /// Jobs started per simulated hour over the whole fleet.
    pub(crate) fn jobs_per_hour(self) -> f64 {
        match self {
            JobKind::ContainerBuild => 24.0,
            JobKind::Test => 12.0,
            JobKind::YoctoBuild => 3.0,
        }
    }

    /// The range of the build or test step's length, in minutes.
    pub(crate) fn work_minutes(self) -> (f64, f64) {
        match self {
            JobKind::ContainerBuild => (3.0, 12.0),
            JobKind::Test => (2.0, 8.0),
            JobKind::YoctoBuild => (60.0, 240.0),
        }
    }
}

/// A customer project.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Project {
    pub(crate) name: &'static str,
    /// Where its Yocto builds run (they depend on that data center's cache).
    pub(crate) yocto_region: &'static str,
    /// Share of its jobs that fail by the user's own doing.
    pub(crate) user_failure_rate: f64,
    /// Relative share of the fleet's jobs.
    pub(crate) weight: f64,
}

pub(super) const PROJECTS: [Project; 10] = [
    Project { name: "acme-gateway", yocto_region: "us-east-2", user_failure_rate: 0.08, weight: 3.0 },
    Project { name: "lmp-core", yocto_region: "fr-par", user_failure_rate: 0.05, weight: 2.0 },
    Project { name: "beacon-iot", yocto_region: "us-east-2", user_failure_rate: 0.12, weight: 1.5 },
    Project { name: "orchard", yocto_region: "us-east-1", user_failure_rate: 0.06, weight: 1.0 },
    Project { name: "nimbus-edge", yocto_region: "us-east-2", user_failure_rate: 0.10, weight: 1.5 },
    Project { name: "tiller", yocto_region: "fr-par", user_failure_rate: 0.04, weight: 1.0 },
    Project { name: "kestrel", yocto_region: "us-east-2", user_failure_rate: 0.15, weight: 1.0 },
    Project { name: "quartz-hmi", yocto_region: "us-east-1", user_failure_rate: 0.07, weight: 0.8 },
    Project { name: "ferry", yocto_region: "us-east-2", user_failure_rate: 0.09, weight: 0.7 },
    Project { name: "delta-sense", yocto_region: "fr-par", user_failure_rate: 0.05, weight: 0.5 },
];

/// A simulated worker machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Worker {
    pub(crate) worker_id: String,
    pub(crate) region: &'static Region,
    pub(crate) zone: &'static str,
}

/// Every worker of the fleet, in a fixed order.
pub(super) fn workers() -> Vec<Worker> {
    REGIONS
        .iter()
        .flat_map(|region| {
            (1..=region.n_workers).map(move |i| Worker {
                worker_id: format!("{}-{}-{i:03}", region.provider.replace('.', ""), region.code),
                region,
                zone: region.zones[(i - 1) % region.zones.len()],
            })
        })
        .collect()
}
