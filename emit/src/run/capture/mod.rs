//! `failscope run --capture-connects`: every TCP connect of the job and its descendants,
//! recorded without changing the job, and emitted as `connect_attempt` events.
//!
//! A backend (`preload/` or `strace/`) reports `CapturedConnect`s (`record.rs`) while the job
//! runs; `emit.rs` names each target's service and owner (`services.rs`) and emits it through
//! the durable spool as soon as it is known. A connect's phase is the `FAILSCOPE_PHASE` of the
//! process that made it when the backend sees it (preload), else the run's (`--phase`). When
//! the job ends the backend ends its trace: connects still in flight become `abandoned`.
//! Capture never changes the job's result: a backend that cannot start is logged and the job
//! runs uncaptured.

mod emit;
mod phase;
mod preload;
mod record;
mod services;
mod strace;

use std::ffi::OsString;
use std::path::PathBuf;

use emit::CaptureEmitter;
pub(crate) use emit::CaptureReport;
use services::ServiceMap;

use crate::Emitter;

/// Which backend records the connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CaptureBackend {
    /// Inject the preload library (`libfailscope_capture.so`, shipped next to the binary) with
    /// `LD_PRELOAD`: cheap (a few microseconds per connect), sees the host names programs
    /// resolve and the names that do not resolve; does not see statically linked programs (Go
    /// binaries, musl builds) nor programs that make system calls without libc; connects of
    /// programs that learn a non-blocking connect's result only through `select` or `epoll`
    /// end when the descriptor is closed or the job ends.
    Preload,
    /// Trace the job with `strace -f` (the Debian package): sees every process, statically
    /// linked ones (Go) included; does not see host names (connects are named by address,
    /// unless the service map names the address), nor non-blocking connects resolved only
    /// through `select` or `epoll` without `getsockopt(SO_ERROR)` (they end when the descriptor
    /// is reused or the process exits). Slows down system-call-heavy jobs.
    Strace,
}

/// Connect capture flags of `failscope run`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CaptureArgs {
    /// Record every TCP connect of the job and its descendants as a `connect_attempt` event
    /// (off by default). Neither backend sees processes started by a container daemon (`docker
    /// run` talks to dockerd, whose containers are not the job's descendants): use
    /// `failscope probe` on the worker for those targets.
    #[arg(long, env = "FAILSCOPE_CAPTURE_CONNECTS", value_name = "BACKEND", num_args = 0..=1,
          require_equals = true, default_missing_value = "preload")]
    pub(crate) capture_connects: Option<CaptureBackend>,
    /// Turn connect capture off for this job, even when the worker's environment turns it on.
    #[arg(long, env = "FAILSCOPE_NO_CAPTURE_CONNECTS", value_parser = clap::builder::FalseyValueParser::new())]
    pub(crate) no_capture_connects: bool,
    /// TOML file naming the platform's services by host pattern, CIDR and port (`[[service]]`
    /// with `name`, `hosts`, `cidrs`, `ports`, `owner`), or the prober's file (`[[target]]`).
    /// Unnamed loopback and local targets are the job's own, anything else a third party.
    #[arg(long, env = "FAILSCOPE_CAPTURE_SERVICES", value_name = "FILE")]
    pub(crate) capture_services: Option<PathBuf>,
    /// The CI step the job's captured connects belong to (`checkout`, `build`, `test`...),
    /// recorded as their `phase`. The job's processes get it as `FAILSCOPE_PHASE`, and a step
    /// of the job can set its own (`FAILSCOPE_PHASE=test make check`): the preload backend
    /// records each process's `FAILSCOPE_PHASE` as it was when the process started; the strace
    /// backend sees only this one. Printable ASCII without spaces, at most 63 bytes (other bytes
    /// become `?`). None by default.
    #[arg(long, env = "FAILSCOPE_PHASE", value_name = "NAME")]
    pub(crate) phase: Option<String>,
}

/// What the job's event carries about it, for the captured events.
#[derive(Debug, Clone)]
pub(crate) struct JobContext {
    pub(crate) job_id: String,
    /// The run's phase (`--phase`), for the connects whose process's own the backend cannot see.
    pub(crate) phase: Option<String>,
}

/// A capture in progress.
#[derive(Debug)]
pub(crate) struct Capture {
    backend: Backend,
    emitter: CaptureEmitter,
    /// The run's phase as given, passed on to the job's processes (the library reads it in the
    /// same normalized form as the wrapper).
    phase: Option<String>,
}

#[derive(Debug)]
enum Backend {
    Preload(preload::PreloadSession),
    Strace(strace::StraceSession),
}

impl Capture {
    /// Starts capture if asked for and possible. `None` when off, when there is no emitter to
    /// send events with, or when the backend cannot start (logged): the job runs as it is.
    pub(crate) fn start(args: &CaptureArgs, emitter: Option<&Emitter>, job_id: String) -> Option<Capture> {
        let backend = args.capture_connects.filter(|_| !args.no_capture_connects)?;
        let Some(emitter) = emitter else {
            tracing::warn!("no telemetry: connects are not captured");
            return None;
        };
        let services = match &args.capture_services {
            Some(path) => match ServiceMap::load(path) {
                Ok(map) => map,
                Err(e) => {
                    tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "connects are not captured");
                    return None;
                }
            },
            None => ServiceMap::default(),
        };
        let job = JobContext { job_id, phase: args.phase.as_deref().and_then(phase::normalized) };
        let (sender, emitter) = CaptureEmitter::spawn(emitter.clone(), services, job.clone());
        let backend = match backend {
            CaptureBackend::Preload => Backend::Preload(preload::PreloadSession::start(sender)?),
            CaptureBackend::Strace => Backend::Strace(strace::StraceSession::start(sender)?),
        };
        Some(Capture { backend, emitter, phase: args.phase.clone().filter(|p| !p.is_empty()) })
    }

    /// The command to run instead of `command`.
    pub(crate) fn wrap(&self, command: &[String]) -> Vec<String> {
        match &self.backend {
            Backend::Preload(_) => command.to_vec(),
            Backend::Strace(session) => session.wrap(command),
        }
    }

    /// Environment variables to add to the job's.
    pub(crate) fn env(&self) -> Vec<(String, OsString)> {
        let mut env = match &self.backend {
            Backend::Preload(session) => session.env(),
            Backend::Strace(_) => Vec::new(),
        };
        if let Some(phase) = &self.phase {
            env.push((phase::PHASE_ENV.into(), phase.into()));
        }
        env
    }

    /// Ends the capture at `job_end_us` (microseconds since the epoch) and waits until every
    /// captured connect is delivered or spooled.
    pub(crate) async fn finish(self, job_end_us: i64) -> CaptureReport {
        let (in_flight, n_dropped) = match self.backend {
            Backend::Preload(session) => session.finish(job_end_us).await,
            Backend::Strace(session) => (session.finish(job_end_us).await, 0),
        };
        let report = self.emitter.finish(in_flight).await;
        if n_dropped > 0 {
            tracing::warn!(n_dropped, "the job's processes dropped capture records the wrapper was too slow for");
        }
        CaptureReport { n_dropped, ..report }
    }
}
