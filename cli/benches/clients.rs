//! Benchmark: many clients at once against `failscope serve` on the analysis benchmark's lake,
//! half over HTTP (`POST /v1/queries/{name}`) and half over the Postgres protocol (the same
//! named query's SQL, its parameters bound through the extended protocol), each running the
//! named queries one after another over windows of the lake. Reports the latency (p50, p99,
//! max) per front end, every error, and the server's resident memory (sampled, and its peak
//! `VmHWM`) against the `--memory-limit-mib` it was given. Exits non-zero on any error.
//!
//! `cargo bench -p failscope --bench clients` (`scripts/bench.sh clients`); the lake is the
//! analysis benchmark's, generated on first use and reused: FAILSCOPE_BENCH_JOBS (default
//! 200000), FAILSCOPE_BENCH_CONNECTS_PER_JOB (10), FAILSCOPE_BENCH_HOURS (24), or `-- --full`
//! for 5 M jobs and 50 M connect attempts over 48 h; FAILSCOPE_BENCH_LAKE. The load:
//! FAILSCOPE_BENCH_CLIENTS (50), FAILSCOPE_BENCH_QUERIES (named queries per client, 10). The
//! server: FAILSCOPE_BENCH_MEMORY_MIB (1024), FAILSCOPE_BENCH_SLOTS (4, its
//! `--max-concurrent-statements`, shared by both front ends).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use failscope_test_support::bench::env_or;
use failscope_test_support::fixtures::{T0, queries_dir};
use failscope_test_support::generator::{LakeSize, generated};
use failscope_test_support::http::free_port;
use tokio_postgres::types::{ToSql, Type};

const TOKEN: &str = "bench-token";
const HOUR_MS: i64 = 3_600_000;

/// The named queries the clients run, each over a window of this many hours.
const QUERIES: [(&str, i64); 5] = [
    ("classifications", 1),
    ("connect-health", 1),
    ("failures-by-region-hour", 6),
    ("top-causes", 6),
    ("unknown-rate", 6),
];

/// One query a client ran: which front end, how long from sending it to its last row, and
/// its rows or its error.
struct Sample {
    postgres: bool,
    secs: f64,
    outcome: Result<u64, String>,
}

/// `failscope serve`, killed when dropped.
struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(lake: &Path, http: u16, pg: u16, memory_mib: u64, slots: u32) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_failscope"))
            .args(["serve", "--lake"])
            .arg(lake)
            .args(["--listen", &format!("127.0.0.1:{http}"), "--pg-listen", &format!("127.0.0.1:{pg}")])
            .args(["--token", TOKEN, "--memory-limit-mib", &memory_mib.to_string()])
            .args(["--max-concurrent-statements", &slots.to_string()])
            // Fifty clients share a few slots: a statement may wait for most of a round.
            .args(["--queue-timeout", "10m", "--statement-timeout", "10m"])
            // The detector's ticks are not what is measured here.
            .args(["--health-interval", "0s"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("failscope serve starts");
        Server { child }
    }

    /// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// The named query's text for a Postgres client: `$since`, `$until`, `$region` become `$1`,
/// `$2`, `$3`, bound by the client as typed parameters.
fn postgres_text(name: &str) -> String {
    let sql = std::fs::read_to_string(queries_dir().join(format!("{name}.sql"))).expect("the named query's file");
    sql.replace("$since", "$1").replace("$until", "$2").replace("$region", "$3")
}

/// The window of a client's `round`-th query: spread over the lake, the same for every run.
fn window(client: usize, round: usize, hours: u32, len_hours: i64) -> (i64, i64) {
    let start_hour = ((client * 7 + round * 13) as i64) % (i64::from(hours) - len_hours + 1).max(1);
    let since = T0 + start_hour * HOUR_MS;
    (since, since + len_hours * HOUR_MS)
}

fn rfc3339(ms: i64) -> String {
    failscope_schemas::Timestamp::from_millis(ms).to_string()
}

fn system_time(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms as u64)
}

async fn http_client(port: u16, client: usize, rounds: usize, hours: u32) -> Vec<Sample> {
    let http = reqwest::Client::new();
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (name, len) = QUERIES[(client + round) % QUERIES.len()];
        let (since, until) = window(client, round, hours, len);
        let body = serde_json::json!({ "since": rfc3339(since), "until": rfc3339(until) });
        let started = Instant::now();
        let outcome = async {
            let response = http
                .post(format!("http://127.0.0.1:{port}/v1/queries/{name}"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let text = response.text().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("{name}: HTTP {status}: {text}"));
            }
            let answer: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            answer["row_count"].as_u64().ok_or_else(|| format!("{name}: no row_count in {text}"))
        }
        .await;
        samples.push(Sample { postgres: false, secs: started.elapsed().as_secs_f64(), outcome });
    }
    samples
}

async fn postgres_client(port: u16, client: usize, rounds: usize, hours: u32) -> Vec<Sample> {
    let config = format!("host=127.0.0.1 port={port} user=bench dbname=failscope password={TOKEN}");
    let connected = tokio_postgres::connect(&config, tokio_postgres::NoTls).await;
    let (pg, connection) = match connected {
        Ok(connected) => connected,
        Err(error) => {
            return vec![Sample { postgres: true, secs: 0.0, outcome: Err(format!("connect: {error}")) }];
        }
    };
    tokio::spawn(connection);
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (name, len) = QUERIES[(client + round) % QUERIES.len()];
        let (since, until) = window(client, round, hours, len);
        let sql = postgres_text(name);
        let (since, until, region) = (system_time(since), system_time(until), None::<String>);
        let params: [(&(dyn ToSql + Sync), Type); 3] =
            [(&since, Type::TIMESTAMPTZ), (&until, Type::TIMESTAMPTZ), (&region, Type::TEXT)];
        let started = Instant::now();
        let outcome =
            pg.query_typed(&sql, &params).await.map(|rows| rows.len() as u64).map_err(|e| format!("{name}: {e:?}"));
        samples.push(Sample { postgres: true, secs: started.elapsed().as_secs_f64(), outcome });
    }
    samples
}

/// The `q`-quantile of sorted `xs`, nearest rank.
fn quantile(xs: &[f64], q: f64) -> f64 {
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

fn report(label: &str, samples: &[&Sample]) -> usize {
    let mut secs: Vec<f64> = samples.iter().filter(|s| s.outcome.is_ok()).map(|s| s.secs).collect();
    secs.sort_by(f64::total_cmp);
    let errors: Vec<&String> = samples.iter().filter_map(|s| s.outcome.as_ref().err()).collect();
    let rows: u64 = samples.iter().filter_map(|s| s.outcome.as_ref().ok()).sum();
    if secs.is_empty() {
        println!("{label:<9} no query answered");
    } else {
        println!(
            "{label:<9} {:>4} answered ({rows} rows), {:>3} errors   p50 {:>6.0} ms   p99 {:>6.0} ms   max {:>6.0} ms",
            secs.len(),
            errors.len(),
            quantile(&secs, 0.5) * 1000.0,
            quantile(&secs, 0.99) * 1000.0,
            secs[secs.len() - 1] * 1000.0,
        );
    }
    for error in errors.iter().take(5) {
        println!("          error: {error}");
    }
    errors.len()
}

/// Polls until both front ends answer, or panics after a minute.
async fn wait_ready(http: u16, pg: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = reqwest::Client::new();
    loop {
        let http_ok = client
            .get(format!("http://127.0.0.1:{http}/v1/queries"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let pg_ok = tokio::net::TcpStream::connect(("127.0.0.1", pg)).await.is_ok();
        if http_ok && pg_ok {
            return;
        }
        assert!(Instant::now() < deadline, "failscope serve did not answer within a minute");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|a| a == "--full");
    let size = LakeSize::analysis_benchmark(full);
    let n_clients: usize = env_or("FAILSCOPE_BENCH_CLIENTS", 50);
    let rounds: usize = env_or("FAILSCOPE_BENCH_QUERIES", 10);
    let memory_mib: u64 = env_or("FAILSCOPE_BENCH_MEMORY_MIB", 1024);
    let slots: u32 = env_or("FAILSCOPE_BENCH_SLOTS", 4);
    let lake = generated(size, std::env::var_os("FAILSCOPE_BENCH_LAKE").map(PathBuf::from));
    println!("lake {}: {size:?}", lake.display());

    let (http_port, pg_port) = (free_port(), free_port());
    let server = Arc::new(Server::start(&lake, http_port, pg_port, memory_mib, slots));
    wait_ready(http_port, pg_port).await;
    let idle_kib = server.status_kib("VmRSS").unwrap_or(0);

    // Memory sampled every 20 ms while the clients run (VmHWM gives the peak as well; the
    // samples say how long it stayed there).
    let (running, sampled_peak) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (server, running, sampled_peak) = (Arc::clone(&server), Arc::clone(&running), Arc::clone(&sampled_peak));
        std::thread::spawn(move || {
            while running.load(Ordering::Relaxed) {
                if let Some(kib) = server.status_kib("VmRSS") {
                    sampled_peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let started = Instant::now();
    let barrier = Arc::new(tokio::sync::Barrier::new(n_clients));
    let clients: Vec<_> = (0..n_clients)
        .map(|client| {
            let barrier = Arc::clone(&barrier);
            let hours = size.hours;
            tokio::spawn(async move {
                barrier.wait().await;
                if client % 2 == 0 {
                    http_client(http_port, client, rounds, hours).await
                } else {
                    postgres_client(pg_port, client, rounds, hours).await
                }
            })
        })
        .collect();
    let mut samples = Vec::new();
    for client in clients {
        samples.extend(client.await.expect("a client task ends"));
    }
    let wall = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    sampler.join().expect("the memory sampler ends");
    let peak_kib = server.status_kib("VmHWM").unwrap_or(0);

    println!(
        "{n_clients} clients ({} HTTP, {} Postgres), {rounds} named queries each, {} in {wall:.1} s; \
         server: --max-concurrent-statements {slots} --memory-limit-mib {memory_mib}",
        n_clients.div_ceil(2),
        n_clients / 2,
        samples.len(),
    );
    let (http, pg): (Vec<&Sample>, Vec<&Sample>) = samples.iter().partition(|s| !s.postgres);
    let errors = report("HTTP", &http) + report("Postgres", &pg);
    let all: Vec<&Sample> = samples.iter().collect();
    report("both", &all);
    println!(
        "server resident memory: {} MiB idle, {} MiB sampled peak, {} MiB VmHWM; limit {memory_mib} MiB: {}",
        idle_kib >> 10,
        sampled_peak.load(Ordering::Relaxed) >> 10,
        peak_kib >> 10,
        if peak_kib >> 10 <= memory_mib { "within" } else { "OVER" },
    );
    drop(server);
    if errors > 0 {
        std::process::exit(1);
    }
}
