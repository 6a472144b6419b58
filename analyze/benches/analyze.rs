//! Benchmark: failscope (DataFusion) against DuckDB on the same generated lake, interleaved,
//! median of N runs: (a) the classification summary, (b) a region × hour aggregation and
//! (c) a one-hour, one-region window.
//!
//! `cargo bench -p failscope-analyze --bench analyze` runs a small lake. Sizes come from the
//! environment: FAILSCOPE_BENCH_JOBS (default 200000), FAILSCOPE_BENCH_CONNECTS_PER_JOB (10),
//! FAILSCOPE_BENCH_HOURS (24), FAILSCOPE_BENCH_RUNS (5), FAILSCOPE_BENCH_LAKE (where the lake
//! is generated and reused), FAILSCOPE_BENCH_EXPLAIN (print failscope's plans with their
//! metrics first), FAILSCOPE_BENCH_ONLY (run only the queries named, e.g. `a` or `bc`).
//! `-- --full` is the issue's size: 5 M jobs, 50 M connect attempts.
//! DuckDB runs in one `python3 -c` process (`pip install duckdb`), fed one query at a time.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use failscope_analyze::{Analyzer, CatalogConfig};
use failscope_test_support::bench::{env_or, median};
use failscope_test_support::fixtures::queries_dir;
use failscope_test_support::generator::{LakeSize, generated};

const QUERIES: [(&str, &str, bool); 3] = [
    ("a", "a_classification_summary.sql", false),
    ("b", "b_region_hour_aggregation.sql", true),
    ("c", "c_one_hour_one_region.sql", true),
];

const DUCKDB_DRIVER: &str = r#"
import sys, time, duckdb
lake = sys.argv[1]
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")  # it would write into the protocol on stdout
for views in sys.argv[2:]:
    con.execute(open(views).read().replace('{lake}', lake))
for line in sys.stdin:
    sql = open(line.strip()).read()
    t = time.perf_counter()
    rows = con.execute(sql).fetchall()
    print(f"{time.perf_counter() - t:.6f} {len(rows)}", flush=True)
"#;

/// The generated lake's catalog, on two partitions as in the tests.
async fn open(lake: &Path) -> Analyzer {
    let config =
        CatalogConfig { lake: lake.into(), queries_dir: None, memory_limit_bytes: None, target_partitions: Some(2) };
    Analyzer::open(&config).await.expect("the generated lake opens")
}

struct DuckDb {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl DuckDb {
    fn start(lake: &Path, views: &[PathBuf]) -> Option<DuckDb> {
        let mut child = Command::new("python3")
            .args(["-c", DUCKDB_DRIVER])
            .arg(lake)
            .args(views)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let stdout = BufReader::new(child.stdout.take()?);
        Some(DuckDb { _child: child, stdin, stdout })
    }

    fn run(&mut self, file: &Path) -> Option<(f64, usize)> {
        writeln!(self.stdin, "{}", file.display()).ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        let (secs, rows) = line.trim().split_once(' ')?;
        Some((secs.parse().ok()?, rows.parse().ok()?))
    }
}

async fn run_failscope(analyzer: &Analyzer, sql: &str) -> (f64, usize) {
    let started = Instant::now();
    let df = analyzer.context().sql(sql).await.expect("benchmark query plans");
    let n_rows = df.collect().await.expect("benchmark query runs").iter().map(|b| b.num_rows()).sum();
    (started.elapsed().as_secs_f64(), n_rows)
}

fn main() {
    let full = std::env::args().any(|a| a == "--full");
    let size = LakeSize::analysis_benchmark(full);
    let runs: usize = env_or("FAILSCOPE_BENCH_RUNS", 5);
    let only = std::env::var("FAILSCOPE_BENCH_ONLY").unwrap_or_else(|_| "abc".into());
    let queries: Vec<_> = QUERIES.into_iter().filter(|(name, _, _)| only.contains(name)).collect();
    let lake = generated(size, std::env::var_os("FAILSCOPE_BENCH_LAKE").map(PathBuf::from));
    println!("lake {}: {size:?}", lake.display());

    let queries_dir = queries_dir();
    let bench_dir = queries_dir.join("bench");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let analyzer = runtime.block_on(open(&lake));
    if std::env::var_os("FAILSCOPE_BENCH_EXPLAIN").is_some() {
        for &(name, file, _) in &queries {
            let sql = std::fs::read_to_string(bench_dir.join(file)).expect("benchmark query file");
            let explain = runtime.block_on(async {
                let df = analyzer.context().sql(&format!("EXPLAIN ANALYZE {sql}")).await.expect("plans");
                df.collect().await.expect("runs")
            });
            println!("({name})\n{}", arrow::util::pretty::pretty_format_batches(&explain).expect("formats"));
        }
    }
    // DuckDB gets the same tables, each event id once, over the same files.
    let views = [bench_dir.join("duckdb_views.sql")];
    let mut duckdb = DuckDb::start(&lake, &views);

    let mut times: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); queries.len()];
    for run in 0..runs {
        for (i, (name, file, portable)) in queries.iter().enumerate() {
            let path = bench_dir.join(file);
            let sql = std::fs::read_to_string(&path).expect("benchmark query file");
            let (secs, rows) = runtime.block_on(run_failscope(&analyzer, &sql));
            times[i].0.push(secs);
            let duck = if *portable { duckdb.as_mut().and_then(|d| d.run(&path)) } else { None };
            if let Some((dsecs, drows)) = duck {
                times[i].1.push(dsecs);
                if rows != drows {
                    println!("warning: ({name}) failscope returned {rows} rows, DuckDB {drows}");
                }
            }
            println!("run {run} ({name}): failscope {secs:.3}s ({rows} rows), duckdb {duck:?}");
        }
    }
    println!("\nmedian of {runs} runs, seconds:");
    println!("{:<4} {:>10} {:>10} {:>8}", "", "failscope", "duckdb", "ratio");
    for ((name, _, _), (fs, dk)) in queries.iter().zip(times) {
        let f = median(fs);
        match (!dk.is_empty()).then(|| median(dk)) {
            Some(d) => println!("({name}) {f:>10.3} {d:>10.3} {:>8.2}", f / d),
            None => println!("({name}) {f:>10.3} {:>10} {:>8}", "-", "-"),
        }
    }
}
