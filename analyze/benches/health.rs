//! Benchmark of the region-health detector on the analysis benchmark's generated lakes:
//! (a) a replay of the whole lake at 1-minute steps against one full scan of its connect
//! attempts, in the same run (target: at most 1.5 ×); (b) a live tick on a 12-hour lake and
//! on a 48-hour lake with the same events per hour (target: ratio at most 1.3, a tick costs
//! what the new minutes cost, not the size of the lake).
//!
//! `cargo bench -p failscope-analyze --bench health` runs small lakes; sizes come from
//! FAILSCOPE_BENCH_JOBS_PER_HOUR (default 4,000), FAILSCOPE_BENCH_CONNECTS_PER_JOB (10) and
//! FAILSCOPE_BENCH_RUNS (5); `-- --full` uses the analysis benchmark's full size (5 M jobs and
//! 50 M connect attempts over 48 hours, about 104,000 jobs an hour), and `-- --replay-only`
//! stops after (a). Lakes are generated under the temp directory once and reused.

use std::path::Path;
use std::time::Instant;

use failscope_analyze::health::{DetectorConfig, LiveDetector, replay};
use failscope_analyze::{Analyzer, CatalogConfig};
use failscope_schemas::Timestamp;
use failscope_test_support::bench::{cpu_seconds, env_or, median};
use failscope_test_support::fixtures::{T0, queries_dir};
use failscope_test_support::generator::{LakeSize, generated};

/// The generated lake's catalog, on two partitions as in the tests.
async fn open(lake: &Path) -> Analyzer {
    let config =
        CatalogConfig { lake: lake.into(), queries_dir: None, memory_limit_bytes: None, target_partitions: Some(2) };
    Analyzer::open(&config).await.expect("the generated lake opens")
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    }
    let full = std::env::args().any(|a| a == "--full");
    let per_hour = env_or::<u64>("FAILSCOPE_BENCH_JOBS_PER_HOUR", if full { 5_000_000 / 48 } else { 4_000 });
    let connects_per_job: u32 = env_or("FAILSCOPE_BENCH_CONNECTS_PER_JOB", 10);
    let runs: usize = env_or("FAILSCOPE_BENCH_RUNS", 5);
    let sized = |hours: u32| LakeSize { n_jobs: per_hour * u64::from(hours), connects_per_job, hours };
    let (big, small) = (sized(48), sized(12));
    let (big_lake, small_lake) = (generated(big, None), generated(small, None));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let start = Timestamp::from_millis(T0);

    // (a) Replay of the 48-hour lake against one full scan of its connect attempts.
    let analyzer = runtime.block_on(open(&big_lake));
    let scan_sql = std::fs::read_to_string(queries_dir().join("bench/connect_scan.sql")).expect("scan query");
    let end = start.add_millis(i64::from(big.hours) * 3_600_000);
    let (mut scans, mut replays) = (Vec::new(), Vec::new());
    let (mut scans_cpu, mut replays_cpu) = (Vec::new(), Vec::new());
    let mut n_changes = 0;
    for _ in 0..runs {
        let (t, cpu) = (Instant::now(), cpu_seconds());
        runtime.block_on(async { analyzer.context().sql(&scan_sql).await?.collect().await }).expect("scan runs");
        scans.push(t.elapsed().as_secs_f64());
        scans_cpu.push(cpu_seconds().zip(cpu).map_or(f64::NAN, |(b, a)| b - a));
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let replayed = runtime.block_on(replay(&analyzer, start, end, DetectorConfig::default())).expect("replay runs");
        replays.push(t.elapsed().as_secs_f64());
        replays_cpu.push(cpu_seconds().zip(cpu).map_or(f64::NAN, |(b, a)| b - a));
        n_changes = replayed.changes.len();
    }
    let (scan, replayed) = (median(scans), median(replays));
    let (scan_cpu, replayed_cpu) = (median(scans_cpu), median(replays_cpu));
    println!(
        "(a) {big:?}: full scan of the connect attempts {scan:.3} s, replay of {} hours at 1-minute steps {replayed:.3} s \
         ({n_changes} state changes): ratio {:.2} (target <= 1.5); CPU time {scan_cpu:.1} s and {replayed_cpu:.1} s, \
         ratio {:.2}",
        big.hours,
        replayed / scan,
        replayed_cpu / scan_cpu
    );

    if std::env::args().any(|a| a == "--replay-only") {
        return;
    }

    // (b) A live tick at the end of a 12-hour and of a 48-hour lake.
    let mut ticks = Vec::new();
    for (size, lake) in [(small, &small_lake), (big, &big_lake)] {
        let analyzer = runtime.block_on(open(lake));
        let now = start.add_millis(i64::from(size.hours) * 3_600_000);
        let (mut live, _) =
            runtime.block_on(LiveDetector::start(&analyzer, now, DetectorConfig::default())).expect("warm-up");
        let mut times = Vec::new();
        for minute in 1..=runs as i64 {
            let t = Instant::now();
            runtime.block_on(live.tick(&analyzer, now.add_millis(minute * 60_000))).expect("tick");
            times.push(t.elapsed().as_secs_f64());
        }
        let tick = median(times);
        println!("(b) {}-hour lake {size:?}: a live tick {:.1} ms", size.hours, tick * 1000.0);
        ticks.push(tick);
    }
    println!(
        "(b) ratio of a tick on the 48-hour lake to one on the 12-hour lake: {:.2} (target <= 1.3)",
        ticks[1] / ticks[0]
    );
}
