//! The preload backend: the job runs with `LD_PRELOAD` set to the workspace's preload library
//! (`capture/`, `libfailscope_capture.so`), which keeps each connect's start in a slot of a
//! file in the capture directory (`slots.rs`) and sends a record per connect end (with its
//! start) and per failed name lookup to a Unix datagram socket the wrapper reads while the job
//! runs. Slots still in use when the job is over are the connects it left in flight.
//!
//! The library is found next to the `failscope` executable (where `cargo build` puts both), or
//! in `../lib/failscope/` relative to it, or at `FAILSCOPE_CAPTURE_LIBRARY`. It is shipped
//! beside the binary rather than embedded in it: an embedded copy would have to be written to a
//! file at each run and built before the binary, which cargo cannot order without a nested
//! build; a missing library only turns capture off, with a warning.

mod records;
mod slots;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixDatagram;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::record::CapturedConnect;
use records::RecordMatcher;

/// The library's file name.
const LIBRARY_NAME: &str = "libfailscope_capture.so";
/// How long to keep reading records after the job ended, for processes that outlived it.
const RECORD_GRACE: Duration = Duration::from_millis(200);

/// A running capture: the socket's directory and the task reading it.
#[derive(Debug)]
pub(crate) struct PreloadSession {
    dir: tempfile::TempDir,
    library: PathBuf,
    stop: oneshot::Sender<i64>,
    reader: tokio::task::JoinHandle<(Vec<CapturedConnect>, u64)>,
}

impl PreloadSession {
    /// Finds the library and binds the socket; `None` (with a warning) if either fails.
    pub(crate) fn start(records: UnboundedSender<CapturedConnect>) -> Option<PreloadSession> {
        let Some(library) = find_library() else {
            tracing::warn!(
                library = LIBRARY_NAME,
                "preload library not found next to the failscope executable (or at FAILSCOPE_CAPTURE_LIBRARY); \
                 the job runs without capture"
            );
            return None;
        };
        let bound = tempfile::Builder::new()
            .prefix("failscope-capture-")
            .tempdir()
            .and_then(|dir| UnixDatagram::bind(dir.path().join("records.sock")).map(|socket| (dir, socket)));
        let (dir, socket) = match bound {
            Ok(bound) => bound,
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the capture socket; the job runs without capture");
                return None;
            }
        };
        let (stop, stopped) = oneshot::channel();
        let reader = tokio::spawn(read_records(socket, dir.path().to_path_buf(), records, stopped));
        Some(PreloadSession { dir, library, stop, reader })
    }

    /// Environment variables that inject the library into the job.
    pub(crate) fn env(&self) -> Vec<(String, OsString)> {
        let mut preload = self.library.clone().into_os_string();
        if let Some(existing) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
            preload.push(" ");
            preload.push(existing);
        }
        vec![
            ("LD_PRELOAD".into(), preload),
            ("FAILSCOPE_CAPTURE_SOCKET".into(), self.dir.path().join("records.sock").into_os_string()),
        ]
    }

    /// Reads what is left, then ends matching at `job_end_us`. Returns the connects still in
    /// flight (`abandoned`) and how many records the job's processes dropped.
    pub(crate) async fn finish(self, job_end_us: i64) -> (Vec<CapturedConnect>, u64) {
        let _ = self.stop.send(job_end_us);
        match self.reader.await {
            Ok(result) => result,
            Err(e) => {
                tracing::warn!(error = %e, "the capture reader failed");
                (Vec::new(), 0)
            }
        }
    }
}

async fn read_records(
    socket: UnixDatagram,
    dir: PathBuf,
    records: UnboundedSender<CapturedConnect>,
    mut stop: oneshot::Receiver<i64>,
) -> (Vec<CapturedConnect>, u64) {
    let mut matcher = RecordMatcher::default();
    let mut buffer = vec![0u8; 4096];
    let mut out = Vec::new();
    let mut n_malformed = 0_u64;
    let take = |record: &[u8], matcher: &mut RecordMatcher, out: &mut Vec<CapturedConnect>| {
        let accepted = std::str::from_utf8(record).is_ok_and(|text| matcher.feed(text, out));
        u64::from(!accepted)
    };
    let job_end_us = loop {
        tokio::select! {
            received = socket.recv(&mut buffer) => match received {
                Ok(n) => n_malformed += take(&buffer[..n], &mut matcher, &mut out),
                Err(e) => {
                    tracing::warn!(error = %e, "capture socket failed; later connects are not captured");
                    break (&mut stop).await.unwrap_or_default();
                }
            },
            end = &mut stop => break end.unwrap_or_default(),
        }
        for record in out.drain(..) {
            let _ = records.send(record);
        }
    };
    let deadline = tokio::time::Instant::now() + RECORD_GRACE;
    while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await {
        n_malformed += take(&buffer[..n], &mut matcher, &mut out);
    }
    if n_malformed > 0 {
        tracing::warn!(n_malformed, "malformed capture records ignored");
    }
    let n_dropped = matcher.n_dropped();
    let in_flight = tokio::task::spawn_blocking(move || slots::in_flight(&dir)).await.unwrap_or_default();
    matcher.finish(job_end_us, in_flight, &mut out);
    (out, n_dropped)
}

fn find_library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("FAILSCOPE_CAPTURE_LIBRARY") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let candidates = [dir.join(LIBRARY_NAME), dir.join("../lib/failscope").join(LIBRARY_NAME)];
    // Test binaries live in target/<profile>/deps/, the library in target/<profile>/.
    let for_tests = dir.parent().map(|p| p.join(LIBRARY_NAME));
    candidates.into_iter().chain(for_tests).find(|p: &PathBuf| Path::is_file(p))
}
