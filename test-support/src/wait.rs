//! Waiting on a real condition, polled, with a deadline, and showing the end of a log when
//! it does not come.

use std::path::Path;
use std::time::{Duration, Instant};

/// Polls `check` every 200 ms until it holds, panicking with `what` and the end of `log` at
/// `deadline`.
pub fn wait_until(what: &str, deadline: Duration, log: &Path, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < deadline,
            "not within {deadline:?}: {what}\n--- end of the log:\n{}",
            tail(log, 30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The last `n` lines of a log file, or why it could not be read.
pub fn tail(log: &Path, n: usize) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(unreadable: {e})"),
    }
}
