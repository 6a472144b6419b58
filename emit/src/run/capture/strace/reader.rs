//! Starting strace around the job and reading its output while the job runs.
//!
//! The output goes to a FIFO in a private directory. A reader thread opens it (which waits for
//! strace to open the other end), parses each line and feeds the tracker, whose completed
//! connects go to the wrapper over a channel. When the job has ended the wrapper waits a
//! little for strace to finish (it does once every traced process has exited), then takes the
//! tracker and ends it: what is still in flight is `abandoned` as of the job's end.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::parse::parse_line;
use super::track::ConnectTracker;
use crate::run::capture::record::CapturedConnect;

/// How long to wait for strace's last lines after the job exited. strace exits with the last
/// traced process, so this is only spent when a process outlived the job.
const TRACE_GRACE: Duration = Duration::from_secs(1);

/// What the reader and the wrapper share: the tracker, and the start of a line strace has not
/// finished, which is how a call still blocked (a hanging `connect`) appears.
#[derive(Debug, Default)]
struct TraceState {
    tracker: ConnectTracker,
    partial: Vec<u8>,
}

/// A running capture: the FIFO, the reader thread and the tracker they share.
#[derive(Debug)]
pub(crate) struct StraceSession {
    dir: tempfile::TempDir,
    program: PathBuf,
    shared: Arc<Mutex<Option<TraceState>>>,
    /// Fires when the reader saw the end of the trace (strace exited).
    trace_ended: tokio::sync::oneshot::Receiver<()>,
}

impl StraceSession {
    /// Checks that `strace` can trace a child here, creates the FIFO and starts the reader.
    /// `None` (with a warning) when strace is missing or cannot trace: the job then runs
    /// uncaptured.
    pub(crate) fn start(records: UnboundedSender<CapturedConnect>) -> Option<StraceSession> {
        let Some(program) = find_program("strace") else {
            tracing::warn!("strace not found on PATH; the job runs without capture (install the strace package)");
            return None;
        };
        let probe = std::process::Command::new(&program)
            .args(super::strace_args(Path::new("/dev/null")))
            .arg("true")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output();
        match probe {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                tracing::warn!(stderr = %stderr.trim(), "strace cannot trace here; the job runs without capture");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot run strace; the job runs without capture");
                return None;
            }
        }
        let dir = match tempfile::Builder::new().prefix("failscope-capture-").tempdir() {
            Ok(dir) => dir,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create the capture directory; the job runs without capture");
                return None;
            }
        };
        let fifo = dir.path().join("trace");
        if let Err(e) = nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR) {
            tracing::warn!(error = %e, "cannot create the trace FIFO; the job runs without capture");
            return None;
        }
        let shared = Arc::new(Mutex::new(Some(TraceState::default())));
        let (ended, trace_ended) = tokio::sync::oneshot::channel();
        let (fifo, reader_shared) = (fifo.clone(), shared.clone());
        // A thread of its own, not the blocking pool: it may outlive the job (a daemon the job
        // left behind keeps strace running), and the runtime must not wait for it on exit.
        let spawned = std::thread::Builder::new().name("failscope-strace".into()).spawn(move || {
            read_trace(&fifo, &reader_shared, &records);
            let _ = ended.send(());
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the trace reader; the job runs without capture");
            return None;
        }
        Some(StraceSession { dir, program, shared, trace_ended })
    }

    /// The job's command, run under strace; unchanged when its program cannot be found, so that
    /// the job fails to start exactly as it would uncaptured.
    pub(crate) fn wrap(&self, command: &[String]) -> Vec<String> {
        let Some(program) = command.first() else { return command.to_vec() };
        let runnable =
            if program.contains('/') { is_executable(Path::new(program)) } else { find_program(program).is_some() };
        if !runnable {
            return command.to_vec();
        }
        let mut wrapped = vec![self.program.display().to_string()];
        wrapped.extend(super::strace_args(&self.dir.path().join("trace")));
        wrapped.extend(command.iter().cloned());
        wrapped
    }

    /// Waits for the rest of the trace, then ends it at `job_end_us`: connects still in flight
    /// are `abandoned`. Returns them (the others went out over the channel).
    pub(crate) async fn finish(self, job_end_us: i64) -> Vec<CapturedConnect> {
        if tokio::time::timeout(TRACE_GRACE, self.trace_ended).await.is_err() {
            tracing::debug!("strace still running after the job (a process outlived it); the trace ends here");
            // Unblocks a reader still waiting for strace to open the FIFO.
            let _ =
                std::fs::OpenOptions::new().write(true).custom_flags_nonblocking().open(self.dir.path().join("trace"));
        }
        let state = self.shared.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut out = Vec::new();
        if let Some(TraceState { mut tracker, partial }) = state {
            // A call strace is still waiting on: its line stops after the arguments.
            let partial = format!("{} <unfinished ...>", String::from_utf8_lossy(&partial).trim_end());
            if let Some(line) = parse_line(&partial) {
                tracker.feed(&line, &mut out);
            }
            tracker.finish(job_end_us, &mut out);
        }
        out
    }
}

/// Non-blocking open, so that opening a FIFO nobody reads fails instead of hanging.
trait NonBlockingOpen {
    fn custom_flags_nonblocking(&mut self) -> &mut Self;
}

impl NonBlockingOpen for std::fs::OpenOptions {
    fn custom_flags_nonblocking(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
    }
}

fn read_trace(fifo: &Path, shared: &Mutex<Option<TraceState>>, records: &UnboundedSender<CapturedConnect>) {
    let mut file = match std::fs::File::open(fifo) {
        Ok(file) => file,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the trace FIFO");
            return;
        }
    };
    let mut buffer = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        let n = match file.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        {
            let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
            // The wrapper took the state: the trace was ended without us.
            let Some(state) = state.as_mut() else { return };
            state.partial.extend_from_slice(&buffer[..n]);
            let complete = state.partial.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let lines: Vec<u8> = state.partial.drain(..complete).collect();
            for line in lines.split(|&b| b == b'\n') {
                if let Some(parsed) = std::str::from_utf8(line).ok().and_then(parse_line) {
                    state.tracker.feed(&parsed, &mut out);
                }
            }
        }
        for record in out.drain(..) {
            let _ = records.send(record);
        }
    }
}

/// The first executable `name` on `PATH`.
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
