//! The real `failscope` binary as a user runs it, without a broker: from any directory, with
//! the built-in statements or a directory overriding them, stopped by a signal, and the
//! commands of docker-compose.yml (the module `compose`).

use crate::support::failscope;

/// `failscope sql` from a directory that holds no `queries/`: the statements are built in.
#[test]
fn sql_works_from_any_directory() {
    let (lake, cwd) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let out = failscope()
        .current_dir(cwd.path())
        .env_remove("FAILSCOPE_QUERIES")
        .args(["sql", "--format", "csv", "--lake"])
        .arg(lake.path())
        .args(["-c", "SELECT count(*) AS n FROM job_classifications"])
        .output()
        .expect("failscope runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n0\n");
    assert!(stderr.contains("built-in ("), "the log names the query set: {stderr}");
}

/// The query filter has its own variable: a worker's `FAILSCOPE_REGION` does not filter.
#[test]
fn query_ignores_the_workers_region() {
    let (lake, queries) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let echo = "-- name: echo-region\n-- description: the region filter\n-- params: region\nSELECT coalesce(CAST($region AS VARCHAR), 'all') AS region\n";
    std::fs::write(queries.path().join("echo-region.sql"), echo).expect("write query");
    let run = |env: &[(&str, &str)]| {
        let mut command = failscope();
        command.env_remove("FAILSCOPE_QUERY_REGION").args(["query", "echo-region", "--format", "csv", "--lake"]);
        command.arg(lake.path()).arg("--queries").arg(queries.path()).envs(env.iter().copied());
        let out = command.output().expect("failscope runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    assert_eq!(run(&[("FAILSCOPE_REGION", "us-west-1")]), "region\nall\n");
    assert_eq!(run(&[("FAILSCOPE_REGION", "us-west-1"), ("FAILSCOPE_QUERY_REGION", "fr-par")]), "region\nfr-par\n");
}

/// Listing the named queries needs no lake; a relative lake is resolved and logged.
#[test]
fn query_list_needs_no_lake_and_the_lake_path_is_logged_absolute() {
    let cwd = tempfile::tempdir().expect("temp dir");
    let out = failscope()
        .current_dir(cwd.path())
        .args(["query", "--list", "--lake", "no-such-lake"])
        .output()
        .expect("failscope runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("top-causes "));

    std::fs::create_dir(cwd.path().join("lake")).expect("lake dir");
    let out = failscope()
        .current_dir(cwd.path())
        .env_remove("FAILSCOPE_LAKE")
        .args(["sql", "-c", "SELECT 1"])
        .output()
        .expect("failscope runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let absolute = std::path::absolute(cwd.path().join("lake")).expect("absolute");
    assert!(stderr.contains(&format!("lake={}", absolute.display())), "{stderr}");
}

/// `--queries DIR` adds a named query to the built-in ones, and `--version` names the set.
#[test]
fn a_queries_directory_extends_the_built_in_set() {
    let (lake, queries) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let mine = "-- name: mine\n-- description: one row\n-- params:\nSELECT 1 AS one\n";
    std::fs::write(queries.path().join("mine.sql"), mine).expect("write query");
    let out = failscope()
        .current_dir(queries.path())
        .args(["query", "--list", "--lake"])
        .arg(lake.path())
        .arg("--queries")
        .arg(queries.path())
        .output()
        .expect("failscope runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("mine ") && stdout.contains("top-causes "), "{stdout}");

    let version = failscope().arg("--version").output().expect("failscope runs");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(version.contains("queries: built-in (") && version.contains("fingerprint"), "{version}");
}

/// A running `failscope` whose standard error is collected as it comes.
struct Running {
    child: std::process::Child,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    fn start(command: &mut std::process::Command) -> Running {
        let mut child = command
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("failscope starts");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().expect("piped"), std::sync::Arc::clone(&stderr));
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut text = sink.lock().expect("not poisoned");
                text.push_str(&line);
                text.push('\n');
            }
        });
        Running { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("not poisoned").clone()
    }

    /// Waits until `ready` holds (a real condition, polled), then sends `signal` and returns
    /// the exit status and how long the process took to exit after it.
    fn signal_when(
        mut self,
        ready: impl Fn(&Running) -> bool,
        signal: nix::sys::signal::Signal,
    ) -> (std::process::ExitStatus, std::time::Duration, String) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !(ready(&self) && catches(self.child.id(), signal)) {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("failscope exited before it was ready ({status}): {}", self.stderr());
            }
            assert!(std::time::Instant::now() < deadline, "not ready within 60 s: {}", self.stderr());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"));
        nix::sys::signal::kill(pid, signal).expect("signal sent");
        let sent = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if sent.elapsed() > std::time::Duration::from_secs(10) {
                let _ = self.child.kill();
                panic!("failscope still running 10 s after {signal}: {}", self.stderr());
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let elapsed = sent.elapsed();
        // The reader thread sees the end of the pipe right after the exit.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !self.stderr().contains("error:") && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        (status, elapsed, self.stderr())
    }
}

/// Whether the process has a handler installed for `signal` (`SigCgt` in /proc).
fn catches(pid: u32, signal: nix::sys::signal::Signal) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mask = status.lines().find_map(|l| l.strip_prefix("SigCgt:")).map(str::trim).unwrap_or("0");
    u64::from_str_radix(mask, 16).is_ok_and(|mask| mask & (1 << (signal as i32 - 1)) != 0)
}

/// Stopped by a handled signal: a failure status and a message, within a second.
fn assert_interrupted(what: &str, (status, elapsed, stderr): (std::process::ExitStatus, std::time::Duration, String)) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), None, "{what}: killed by the default action, not the handler: {stderr}");
    assert!(!status.success(), "{what}: an interrupted command must fail: {stderr}");
    assert!(stderr.contains("interrupted by a signal"), "{what}: {stderr}");
    assert!(elapsed < std::time::Duration::from_secs(1), "{what}: took {elapsed:?} to stop: {stderr}");
}

/// A statement that runs for minutes unless cancelled.
const LONG_SQL: &str = "SELECT count(*) AS n FROM generate_series(1, 100000000000) AS t(v) WHERE v % 7 = 3";

#[test]
fn sigint_cancels_a_long_sql_statement() {
    let lake = tempfile::tempdir().expect("temp dir");
    let running = Running::start(
        failscope()
            .env("RUST_LOG", "info,failscope_analyze=debug")
            .args(["sql", "--lake"])
            .arg(lake.path())
            .args(["-c", LONG_SQL]),
    );
    let outcome = running.signal_when(|r| r.stderr().contains("running statement"), nix::sys::signal::Signal::SIGINT);
    assert_interrupted("sql -c", outcome);
}

#[test]
fn sigterm_cancels_a_long_named_query() {
    let (lake, queries) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let slow = format!("-- name: slow\n-- description: runs for minutes\n-- params:\n{LONG_SQL}\n");
    std::fs::write(queries.path().join("slow.sql"), slow).expect("write query");
    let running = Running::start(
        failscope()
            .env("RUST_LOG", "info,failscope_analyze=debug")
            .args(["query", "slow", "--lake"])
            .arg(lake.path())
            .arg("--queries")
            .arg(queries.path()),
    );
    let outcome = running.signal_when(|r| r.stderr().contains("running query"), nix::sys::signal::Signal::SIGTERM);
    assert_interrupted("query", outcome);
}

/// `emit` reading an input that never ends (standard input left open).
#[test]
fn sigint_stops_emit_while_it_reads() {
    let running = Running::start(failscope().env("RUST_LOG", "info,failscope_emit=debug").args([
        "emit",
        "--dry-run",
        "--brokers",
        "127.0.0.1:9",
    ]));
    let outcome = running.signal_when(|r| r.stderr().contains("reading events"), nix::sys::signal::Signal::SIGINT);
    assert_interrupted("emit", outcome);
}

/// A paced `simulate` (one simulated second per second) writing a week of events.
#[test]
fn sigint_stops_a_paced_simulation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let truth = dir.path().join("truth.json");
    let running = Running::start(
        failscope()
            .args(["simulate", "--scenario", "quiet-week", "--speed", "1", "--out"])
            .arg(dir.path().join("events.jsonl"))
            .arg("--truth")
            .arg(&truth),
    );
    // The ground truth is written first; the paced events come after it.
    let outcome = running.signal_when(|_| truth.exists(), nix::sys::signal::Signal::SIGINT);
    assert_interrupted("simulate", outcome);
}
