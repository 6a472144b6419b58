//! `failscope run --capture-connects` end to end with both backends, on loopback only: a
//! static binary (seen by strace, not by the preload library), curl and Python connecting to
//! a listener that accepts (ok), a closed port (refused) and a listener whose accept backlog is
//! full (timeout, and abandoned when the job is killed mid-connect), and a name looked up in a
//! network namespace the job creates, with no route to any name server (no real DNS server is
//! ever asked). The events go through the real broker and ingest into
//! the lake, where `job_classifications` must attribute the hung connect to the network. A
//! step run with `FAILSCOPE_PHASE` and a run with `--phase` carry their phase into the lake.
//! The job's exit status and output must be byte for byte those of an uncaptured run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use failscope_test_support::kafka::{brokers, unique};

use crate::support::lake::{IngestSetup, wait_for_rows};
use crate::support::{failscope, sql};

/// A Python process holding the three listeners; killed when dropped.
struct Listeners {
    child: Child,
    ok: u16,
    closed: u16,
    full: u16,
}

impl Listeners {
    fn start() -> Listeners {
        let script = r#"
import socket, sys, threading, time
def bound(backlog):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(backlog); return s
ok, full, closed = bound(64), bound(0), socket.socket()
closed.bind(("127.0.0.1", 0))
filler = socket.create_connection(full.getsockname())
def serve():
    while True:
        ok.accept()[0].close()
threading.Thread(target=serve, daemon=True).start()
print(ok.getsockname()[1], closed.getsockname()[1], full.getsockname()[1], flush=True)
sys.stdin.read()
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("ports line");
        let ports: Vec<u16> = line.split_whitespace().map(|p| p.parse().expect("port")).collect();
        Listeners { child, ok: ports[0], closed: ports[1], full: ports[2] }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The preload library as shipped, built with the `capture` profile (target/capture/, beside
/// the binary's target/debug/; scripts/test.sh builds it).
fn preload_library() -> PathBuf {
    let target_dir = Path::new(env!("CARGO_BIN_EXE_failscope")).ancestors().nth(2).expect("target/<profile>/failscope");
    let library = target_dir.join("capture").join("libfailscope_capture.so");
    assert!(
        library.is_file(),
        "{} missing: build it with `cargo build --profile capture -p failscope-capture`",
        library.display()
    );
    library
}

/// `failscope run` with `backend`, and the shipped preload library for the preload backend.
fn capturing_run(backend: &str) -> Command {
    let mut command = failscope();
    command
        .args(["run", &format!("--capture-connects={backend}")])
        .env_remove("FAILSCOPE_NO_CAPTURE_CONNECTS")
        .env_remove("FAILSCOPE_PHASE");
    if backend == "preload" {
        command.env("FAILSCOPE_CAPTURE_LIBRARY", preload_library());
    }
    command
}

/// `failscope run` flags for `job_id` with telemetry to `setup`'s topics.
fn run_command(backend: &str, setup: &IngestSetup, spool: &Path, job_id: &str, services: &Path) -> Command {
    let mut command = capturing_run(backend);
    command
        .args(["--brokers", &brokers()])
        .args(["--connect-attempts-topic", &setup.connect_topic, "--job-outcomes-topic", &setup.job_topic])
        .arg("--spool-dir")
        .arg(spool)
        .arg("--capture-services")
        .arg(services)
        .args(["--worker-id", "w-capture", "--region", "us-east-2", "--provider", "aws"])
        .args(["--job-id", job_id, "--telemetry-timeout", "20s"]);
    command
}

fn python_connect(port: u16, timeout: &str) -> String {
    format!(
        "python3 -c 'import socket\ns = socket.socket(); s.settimeout({timeout})\ntry: s.connect((\"127.0.0.1\", {port}))\nexcept OSError: pass'"
    )
}

/// The attempts of the mixed job, then of the hung one: outcome, port, errno, service, owner,
/// phase.
type WantRows = Vec<[String; 6]>;

#[test]
fn preload_captured_connects_reach_the_lake_and_explain_the_failure() {
    // The preload library does not see the static binary; it sees the name that did not
    // resolve, once, and the phase of the step that set its own.
    connects_reach_the_lake("preload", |ok, closed, full| {
        rows(&[
            ["ok", ok, "", "local", "job", ""],
            ["refused", closed, "111", "local", "job", "checkout"],
            ["timeout", full, "", "registry", "platform", ""],
            ["dns_error", "443", "", "dns", "platform", ""],
            ["abandoned", full, "", "registry", "platform", "test"],
        ])
    });
}

#[test]
fn strace_captured_connects_reach_the_lake_and_explain_the_failure() {
    // strace sees the static binary's connect, and the resolver fail to reach its server, for
    // each of its two tries; it sees the run's phase, not a step's own.
    connects_reach_the_lake("strace", |ok, closed, full| {
        rows(&[
            ["ok", ok, "", "local", "job", ""],
            ["ok", ok, "", "local", "job", ""],
            ["refused", closed, "111", "local", "job", ""],
            ["timeout", full, "", "registry", "platform", ""],
            ["dns_error", "53", "101", "dns", "platform", ""],
            ["dns_error", "53", "101", "dns", "platform", ""],
            ["abandoned", full, "", "registry", "platform", "test"],
        ])
    });
}

fn rows(rows: &[[&str; 6]]) -> WantRows {
    rows.iter().map(|row| row.map(str::to_string)).collect()
}

fn connects_reach_the_lake(backend: &str, want: impl Fn(&str, &str, &str) -> WantRows) {
    let listeners = Listeners::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let setup = IngestSetup::new(&format!("capture-{backend}"), &lake, 1);
    let services = dir.path().join("services.toml");
    let registry = format!("[[service]]\nname = \"registry\"\nhosts = [\"127.0.0.1\"]\nports = [{}]\n", listeners.full);
    std::fs::write(&services, registry).expect("write services");

    // Job 1: a static binary, then every kind of ending (one step in a phase of its own), then
    // a failure of its own. No phase for the run.
    let (mixed, hung) = (unique("job-mixed"), unique("job-hung"));
    let static_connect = static_connect_binary(dir.path());
    let script = format!(
        "{static_connect} {ok}; curl -s -o /dev/null http://127.0.0.1:{ok}/; \
         FAILSCOPE_PHASE=checkout curl -s http://127.0.0.1:{closed}/; \
         {timeout}; unshare -rn {dns}; exit 1",
        static_connect = static_connect.display(),
        ok = listeners.ok,
        closed = listeners.closed,
        timeout = python_connect(listeners.full, "1.0"),
        dns = "python3 -c 'import socket\ntry: socket.getaddrinfo(\"nothing.invalid\", 443)\nexcept OSError: pass'",
    );
    let status = run_command(backend, &setup, &dir.path().join("spool-1"), &mixed, &services)
        .args(["--", "sh", "-c", &script])
        .status()
        .expect("run job 1");
    assert_eq!(status.code(), Some(1));

    // Job 2, in phase `test`: hangs in a connect to the platform's registry and is cancelled
    // mid-connect.
    let mut job = run_command(backend, &setup, &dir.path().join("spool-2"), &hung, &services)
        .args(["--phase", "test", "--", "sh", "-c", &python_connect(listeners.full, "None")])
        .spawn()
        .expect("run job 2");
    wait_for_syn_sent(listeners.full, Duration::from_secs(20));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(job.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .expect("signal the wrapper");
    let status = job.wait().expect("job 2 ends");
    assert_eq!(status.code(), Some(128 + 15), "the wrapper exits like the job killed by SIGTERM");

    let (full, ok, closed) = (listeners.full.to_string(), listeners.ok.to_string(), listeners.closed.to_string());
    let want = want(&ok, &closed, &full);
    let log = dir.path().join("ingest.log");
    let mut ingest = setup.spawn(&[], &log);
    wait_for_rows(&lake, want.len() + 2, Duration::from_secs(60), &[&log]);
    let _ = ingest.0.kill();

    let attempts = sql(
        &lake,
        &format!(
            "SELECT outcome, target_port, COALESCE(CAST(errno AS VARCHAR), ''), target_service, target_owner, \
             COALESCE(phase, '') FROM connect_attempts ORDER BY job_id = '{mixed}' DESC, started_at"
        ),
    );
    let want: Vec<Vec<String>> = want.into_iter().map(|row| row.to_vec()).collect();
    assert_eq!(attempts, want, "{backend}");

    let classified = sql(&lake, &format!("SELECT cause, rule_id FROM job_classifications WHERE job_id = '{hung}'"));
    assert_eq!(classified, [vec!["infra.network.connect_timeout".to_string(), "failed_connects".to_string()]]);
    drop(listeners);
}

/// A statically linked program (like a Go binary, it calls no libc function the preload
/// library can wrap) that connects once to the loopback port given as its argument.
fn static_connect_binary(dir: &Path) -> PathBuf {
    let source = dir.join("static_connect.c");
    let binary = dir.join("static_connect");
    std::fs::write(
        &source,
        "#include <arpa/inet.h>\n#include <stdlib.h>\n#include <sys/socket.h>\n#include <unistd.h>\n\
         int main(int argc, char **argv) {\n\
           struct sockaddr_in a = {0};\n\
           a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[1]));\n\
           inet_pton(AF_INET, \"127.0.0.1\", &a.sin_addr);\n\
           int s = socket(AF_INET, SOCK_STREAM, 0);\n\
           int r = connect(s, (struct sockaddr *)&a, sizeof a);\n\
           close(s);\n\
           return r == 0 ? 0 : 1;\n\
         }\n",
    )
    .expect("write source");
    let out = Command::new("cc").arg("-static").arg("-o").arg(&binary).arg(&source).output().expect("run cc");
    assert!(out.status.success(), "cc -static: {}", String::from_utf8_lossy(&out.stderr));
    binary
}

/// Polls `/proc/net/tcp` until a connect to `port` on loopback is in `SYN_SENT`.
fn wait_for_syn_sent(port: u16, deadline: Duration) {
    let started = Instant::now();
    let remote = format!("0100007F:{port:04X} 02");
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("read /proc/net/tcp");
        if table.lines().any(|line| line.contains(&remote)) {
            return;
        }
        assert!(started.elapsed() < deadline, "no connect to port {port} in flight after {deadline:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn capture_changes_neither_the_exit_status_nor_the_output() {
    let listeners = Listeners::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // No broker: the events go to the spool, and the job must not notice.
    let closed_broker = format!("127.0.0.1:{}", listeners.closed);
    let script = format!(
        "printf 'out \\000 binary\\n'; echo err >&2; curl -s http://127.0.0.1:{}/; \
         python3 -c 'import sys; sys.stdout.write(\"é\" * 70000)'; echo late >&2; exit 3",
        listeners.closed
    );
    let run = |backend: Option<&str>| -> Output {
        let mut command = match backend {
            Some(backend) => capturing_run(backend),
            None => {
                let mut plain = failscope();
                plain.arg("run");
                plain
            }
        };
        let spool = dir.path().join(format!("spool-{}", backend.unwrap_or("plain")));
        command
            .args(["--brokers", &closed_broker, "--delivery-timeout", "200ms", "--telemetry-timeout", "2s"])
            .arg("--spool-dir")
            .arg(spool)
            .args(["--worker-id", "w-bytes", "--region", "us-east-2", "--provider", "aws"])
            .args(["--", "sh", "-c", &script])
            .env("RUST_LOG", "off")
            .output()
            .expect("run the job")
    };
    let plain = run(None);
    assert_eq!(plain.status.code(), Some(3));
    assert_eq!(spooled_events(&dir.path().join("spool-plain")), 1, "the outcome waits in the spool");
    for backend in ["preload", "strace"] {
        let captured = run(Some(backend));
        assert_eq!(captured.status.code(), plain.status.code(), "{backend}");
        assert_eq!(captured.stdout, plain.stdout, "{backend}: standard output differs");
        assert_eq!(captured.stderr, plain.stderr, "{backend}: standard error differs");
        let spooled = spooled_events(&dir.path().join(format!("spool-{backend}")));
        assert_eq!(spooled, 2, "{backend}: the captured refused connect waits in the spool with the outcome");
    }
}

/// The events waiting in a spool (one `.event` file each, in per-process directories).
fn spooled_events(spool: &Path) -> usize {
    let dirs = std::fs::read_dir(spool).expect("spool").filter_map(Result::ok).filter(|e| e.path().is_dir());
    dirs.flat_map(|d| std::fs::read_dir(d.path()).expect("spool directory").filter_map(Result::ok))
        .filter(|e| e.file_name().to_string_lossy().ends_with(".event"))
        .count()
}

/// The preload library never waits for the wrapper: with nobody reading its socket, a flood of
/// connects runs to the end, the records that found no room are counted, and the count
/// reaches the wrapper with the next record that gets through.
#[test]
fn a_slow_wrapper_costs_records_not_time() {
    let library = preload_library();
    let dir = tempfile::tempdir().expect("temp dir");
    let socket_path = dir.path().join("records.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let script = format!(
        "import socket, sys\n\
         def attempt():\n    s = socket.socket()\n    s.connect_ex(('127.0.0.1', {port}))\n    s.close()\n\
         for _ in range(3000): attempt()\n\
         print('flooded', flush=True)\nsys.stdin.readline()\nattempt()\n"
    );
    let started = Instant::now();
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .env("LD_PRELOAD", &library)
        .env("FAILSCOPE_CAPTURE_SOCKET", &socket_path)
        .env_remove("FAILSCOPE_PHASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("flood done");
    assert_eq!(line.trim(), "flooded");
    assert!(started.elapsed() < Duration::from_secs(30), "the flood waited for the wrapper: {:?}", started.elapsed());

    socket.set_nonblocking(true).expect("non-blocking");
    let mut buffer = [0u8; 4096];
    let mut n_queued = 0_u64;
    while socket.recv(&mut buffer).is_ok() {
        n_queued += 1;
    }
    // One record per connect: its end, carrying its start.
    assert!(n_queued < 3000, "the socket's queue cannot hold all 3000 records, yet held {n_queued}");
    socket.set_nonblocking(false).expect("blocking");
    socket.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    std::io::Write::write_all(child.stdin.as_mut().expect("piped"), b"go\n").expect("resume python");
    let n = socket.recv(&mut buffer).expect("the next record arrives");
    let record = String::from_utf8_lossy(&buffer[..n]).into_owned();
    let fields: Vec<&str> = record.split(' ').collect();
    // E pid fd seq time_us kind errno dropped phase start_us addr port host
    assert_eq!((fields[0], fields[8], fields[11]), ("E", "-", port.to_string().as_str()), "{record}");
    assert_eq!(fields[7].parse::<u64>().expect("dropped count"), 3000 - n_queued, "{record}");
    assert!(child.wait().expect("python ends").success());
}
