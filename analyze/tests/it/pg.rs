//! The Postgres endpoint on a loopback socket, driven by real clients: Debian's `psql` and
//! psycopg (from the interpreter in `FAILSCOPE_TEST_PYTHON`, which `scripts/test.sh` sets up).
//! Catalog browsing, the same rows as `failscope sql`, bound timestamp parameters, refusals,
//! authentication, the statement timeout, DBeaver's connection and navigator statements, and
//! the Grafana dashboard's queries with Grafana's macros expanded as Grafana expands them.

use crate::support;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use failscope_analyze::output::{Format, write_batches};
use failscope_analyze::pg::{PgConfig, PgEndpoint};
use support::MINUTE;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "s3cret";
const HOUR: i64 = 60 * MINUTE;

/// A statement that keeps a core busy for far longer than any test waits.
const HEAVY: &str = "SELECT count(*) FROM generate_series(1, 100000000000) AS a(v) WHERE v % 7 = 3";

/// Two regions over two hours; in the second hour us-east-2's jobs fail on connect timeouts.
fn fixture_lake() -> tempfile::TempDir {
    support::two_region_lake(&[(1, "api", true), (2, "sstate-cache", false)])
}

/// The endpoint of one test, on its own port; shut down when dropped.
struct Server {
    port: u16,
    shutdown: CancellationToken,
    analyzer: Arc<failscope_analyze::Analyzer>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start(lake: &Path, statement_timeout: Duration, row_cap: usize) -> Server {
    let analyzer = Arc::new(support::open(lake).await);
    let config =
        PgConfig { token: Some(TOKEN.to_string()), statement_timeout, row_cap, queue_timeout: Duration::from_secs(5) };
    let endpoint = PgEndpoint::new(&analyzer, &config, Arc::new(Semaphore::new(4))).expect("endpoint sets up");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback port");
    let port = listener.local_addr().expect("bound").port();
    let shutdown = CancellationToken::new();
    tokio::spawn(endpoint.serve(listener, shutdown.clone()));
    Server { port, shutdown, analyzer }
}

/// `psql` with `password`, unaligned, comma-separated, no start-up file, stopping at the first
/// error; `args` follow.
async fn psql(port: u16, password: &str, args: &[&str]) -> Output {
    let conninfo = format!("host=127.0.0.1 port={port} user=engineer dbname=failscope sslmode=disable");
    Command::new("psql")
        .arg(conninfo)
        .args(["-X", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .await
        .expect("psql runs (install postgresql-client, as scripts/test.sh does)")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A psycopg check of `pg_clients.py`, its JSON answer.
async fn psycopg(check: &str, port: u16, password: &str, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("FAILSCOPE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("FAILSCOPE_TEST_PYTHON is not set: run the tests with scripts/test.sh, which installs psycopg")
    });
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/pg_clients.py");
    let out = Command::new(python)
        .arg(script)
        .arg(check)
        .arg(port.to_string())
        .arg(password)
        .args(args)
        .output()
        .await
        .expect("python runs");
    assert!(out.status.success(), "{check}: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{check}: {e}: {}", text(&out.stdout)))
}

/// What `failscope sql --format csv` prints for `sql`.
async fn failscope_sql_csv(analyzer: &failscope_analyze::Analyzer, sql: &str) -> String {
    let result = analyzer.collect(analyzer.sql(sql).await.expect("plans")).await.expect("runs");
    let mut out = Vec::new();
    write_batches(Format::Csv, &result.schema, &result.batches, &mut out).expect("encodes");
    String::from_utf8(out).expect("utf-8")
}

/// The relation names of a `psql` listing (`\dt`, `\dv`) in unaligned output.
fn listed(stdout: &str) -> Vec<String> {
    let mut names: Vec<String> =
        stdout.lines().filter_map(|l| l.split('|').nth(1)).filter(|n| *n != "Name").map(str::to_string).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_lists_the_catalog() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    let tables = psql(server.port, TOKEN, &["-A", "-c", r"\dt"]).await;
    assert!(tables.status.success(), "{}", text(&tables.stderr));
    let views = psql(server.port, TOKEN, &["-A", "-c", r"\dv"]).await;
    assert!(views.status.success(), "{}", text(&views.stderr));
    let everything = psql(server.port, TOKEN, &["-A", "-c", r"\d"]).await;
    assert!(everything.status.success(), "{}", text(&everything.stderr));

    let (tables, views, everything) =
        (listed(&text(&tables.stdout)), listed(&text(&views.stdout)), listed(&text(&everything.stdout)));
    for table in
        ["connect_attempts_raw", "connect_attempts_unique", "job_outcomes_raw", "job_outcomes_unique", "signatures"]
    {
        assert!(tables.iter().any(|t| t == table), "\\dt misses {table}: {tables:?}");
    }
    // Every view of queries/views/ is a view here too, as DBeaver and `\dv` expect, and `\dt`
    // lists it beside the tables, since the views are what one queries.
    let want_views =
        ["connect_attempts", "job_outcomes", "job_classifications", "region_hour_health", "telemetry_loss"];
    for view in want_views {
        assert!(tables.iter().any(|t| t == view), "\\dt misses {view}: {tables:?}");
        assert!(views.iter().any(|v| v == view), "\\dv misses {view}: {views:?}");
        assert!(everything.iter().any(|v| v == view), "\\d misses {view}: {everything:?}");
    }
    assert!(!views.iter().any(|v| v == "job_outcomes_raw"), "\\dv lists a table: {views:?}");
    assert!(!tables.iter().any(|t| t.starts_with("pg_")), "pg_catalog is listed as user tables: {tables:?}");

    let described = psql(server.port, TOKEN, &["-A", "-c", r"\d job_classifications"]).await;
    let described_text = text(&described.stdout);
    assert!(described.status.success(), "{}", text(&described.stderr));
    assert!(described_text.contains("cause") && described_text.contains("finished_at"), "{described_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_returns_the_rows_of_failscope_sql() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    let summary = "SELECT region, attribution, cause, count(*) AS jobs FROM job_classifications \
                   GROUP BY region, attribution, cause ORDER BY region, attribution, cause";
    let out = psql(server.port, TOKEN, &["--csv", "-c", summary]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = failscope_sql_csv(&server.analyzer, summary).await;
    assert!(want.lines().count() > 2, "the fixture classifies several causes: {want}");
    assert_eq!(text(&out.stdout), want);
}

/// DBeaver's session, replayed through libpq the way its driver sends it (each statement
/// prepared and bound): the settings pgjdbc and DBeaver set are accepted, its navigator lists
/// the lake's tables and views in the current schema, a view's columns, and a view's first
/// page of rows. DBeaver itself is not in the registries this project installs from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbeavers_connection_and_navigator_statements_succeed() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    let answer = psycopg("dbeaver", server.port, TOKEN, &[]).await;
    assert_eq!(answer["errors"], serde_json::json!({}), "{answer}");
    let relations = answer["relations"].as_object().expect("relations");
    for (name, kind) in [("job_outcomes_raw", "r"), ("job_classifications", "v"), ("region_hour_health", "v")] {
        assert_eq!(relations.get(name).and_then(|k| k.as_str()), Some(kind), "{name}: {answer}");
    }
    assert!(!relations.keys().any(|name| name.starts_with("pg_")), "{answer}");
    let columns = answer["columns"].as_array().expect("columns");
    for column in ["job_id", "attribution", "cause", "rule_id"] {
        assert!(columns.iter().any(|c| c == column), "job_classifications lacks {column}: {answer}");
    }
    let want = failscope_sql_csv(&server.analyzer, "SELECT job_id FROM job_classifications").await.lines().count() - 1;
    assert_eq!(answer["rows"], want.min(200), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_ddl_copy_set_and_second_statements_are_refused() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    let statements = [
        "INSERT INTO job_outcomes_raw SELECT * FROM job_outcomes_raw",
        "CREATE TABLE scratch (a INT)",
        "COPY job_outcomes_raw TO STDOUT",
        "SET statement_timeout = 0",
        "SET datafusion.execution.batch_size = 1",
        "DROP VIEW job_classifications",
        "SELECT 1; DROP VIEW job_classifications",
    ];
    for sql in statements {
        let out = psql(server.port, TOKEN, &["-c", sql]).await;
        let stderr = text(&out.stderr);
        assert!(!out.status.success() && stderr.contains("ERROR"), "{sql}: {stderr}");
        assert!(stderr.contains("read-only") || stderr.contains("not allowed"), "{sql}: {stderr}");
    }
    let answer = psycopg("refusals", server.port, TOKEN, &statements[..6]).await;
    for sql in &statements[..6] {
        assert_eq!(answer["sqlstates"][sql], "25006", "{sql}: {answer}");
    }
    assert_eq!(answer["alive"], 1, "{answer}");
    // Nothing changed: the view is still there and the table has as many rows as before.
    let (rows, classified) =
        ("SELECT count(*) AS n FROM job_outcomes_raw", "SELECT count(*) AS n FROM job_classifications");
    let out = psql(server.port, TOKEN, &["--csv", "-c", rows, "-c", classified]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = format!(
        "{}{}",
        failscope_sql_csv(&server.analyzer, rows).await,
        failscope_sql_csv(&server.analyzer, classified).await
    );
    assert!(want.starts_with("n\n16\n"), "{want}");
    assert_eq!(text(&out.stdout), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_parameters_bind_through_the_extended_protocol() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    // The second hour only: jobs finish ten minutes after they start.
    let answer =
        psycopg("window", server.port, TOKEN, &["2022-04-06T00:00:00+00:00", "2022-04-06T01:00:00+00:00"]).await;
    let want = failscope_sql_csv(
        &server.analyzer,
        "SELECT job_id, cause FROM job_classifications WHERE finished_at >= TIMESTAMP '2022-04-06T00:00:00Z' \
         AND finished_at < TIMESTAMP '2022-04-06T01:00:00Z' ORDER BY job_id",
    )
    .await;
    let got: Vec<String> = answer["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| format!("{},{}", r[0].as_str().expect("job_id"), r[1].as_str().unwrap_or("")))
        .collect();
    let want: Vec<String> = want.lines().skip(1).map(str::to_string).collect();
    assert!(!want.is_empty() && want.iter().all(|r| r.starts_with("us-east-2-1-") || r.starts_with("us-west-1-1-")));
    assert_eq!(got, want, "{answer}");
    // A timestamp bound where only a cast to a date uses it is cast, as Postgres does.
    let days = failscope_sql_csv(
        &server.analyzer,
        "SELECT count(*) AS n FROM job_outcomes WHERE date BETWEEN DATE '2022-04-06' AND DATE '2022-04-06'",
    )
    .await;
    assert_eq!(days.lines().nth(1), Some(answer["jobs_of_the_days"].to_string().as_str()), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    let out = psql(server.port, "s3cre", &["-c", "SELECT 1"]).await;
    assert!(!out.status.success(), "psql connected with a wrong password");
    assert!(text(&out.stderr).to_lowercase().contains("password authentication failed"), "{}", text(&out.stderr));
    let answer = psycopg("login", server.port, "wrong", &[]).await;
    assert_eq!(answer["connected"], false, "{answer}");
    let answer = psycopg("login", server.port, TOKEN, &[]).await;
    assert_eq!(answer["connected"], true, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_timeout_is_cancelled_and_the_server_stays_up() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_millis(500), 1000).await;
    let started = std::time::Instant::now();
    let out = psql(server.port, TOKEN, &["-c", HEAVY]).await;
    assert!(!out.status.success() && text(&out.stderr).contains("statement timeout"), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let answer = psycopg("timeout", server.port, TOKEN, &[HEAVY]).await;
    assert_eq!(answer["sqlstate"], "57014", "{answer}");
    assert_eq!(answer["after"], 42, "{answer}");
    let out = psql(server.port, TOKEN, &["-A", "-t", "-c", "SELECT count(*) FROM job_outcomes"]).await;
    assert_eq!(text(&out.stdout).trim(), "16", "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_result_is_cut_at_the_row_cap_with_a_notice() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 5).await;
    let out = psql(server.port, TOKEN, &["-A", "-t", "-c", "SELECT job_id FROM job_outcomes ORDER BY job_id"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 5, "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("row cap of 5"), "{}", text(&out.stderr));
}

/// Fifty clients at once, half over HTTP and half over Postgres, sharing four statement slots:
/// every one gets its rows, the same number either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_over_http_and_postgres_at_once_all_get_their_rows() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    let config = failscope_analyze::http::ApiConfig {
        token: Some(TOKEN.to_string()),
        statement_timeout: Duration::from_secs(30),
        row_cap: 1000,
        max_result_bytes: 64 << 20,
        max_concurrent_statements: 4,
        queue_timeout: Duration::from_secs(30),
    };
    let state = failscope_analyze::http::ApiState::new(Arc::clone(&server.analyzer), config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("loopback port");
    let http_port = listener.local_addr().expect("bound").port();
    let shutdown = server.shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, failscope_analyze::http::router(state))
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    });
    let window = ["2022-04-05T23:00:00+00:00", "2022-04-06T01:00:00+00:00"];
    let http_port = http_port.to_string();
    let answer = psycopg("mixed", server.port, TOKEN, &[&http_port, "50", window[0], window[1]]).await;
    let results = answer["results"].as_array().expect("results");
    assert_eq!(results.len(), 50);
    let failed: Vec<_> = results.iter().filter(|r| r["ok"] != true).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let want = failscope_sql_csv(&server.analyzer, "SELECT job_id FROM job_classifications").await.lines().count() - 1;
    assert!(want > 0 && results.iter().all(|r| r["rows"] == want), "want {want} rows each: {answer}");
}

/// The Grafana dashboard of `grafana/`: every panel's query, its macros expanded for a time
/// range as Grafana's Postgres data source does, runs through the endpoint and gives the rows
/// the analyzer gives for the same text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_run_with_their_macros_expanded() {
    let lake = fixture_lake();
    let server = start(lake.path(), Duration::from_secs(30), 1000).await;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../grafana/failscope-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the dashboard is in the repository")).expect("JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for want in ["Region health", "Infra-failure rate by region", "Connect failures by target", "Unknown rate"] {
        assert!(titles.iter().any(|t| t.starts_with(want)), "no {want} panel: {titles:?}");
    }
    let (from, to) = (chrono_utc(support::T0), chrono_utc(support::T0 + 2 * HOUR));
    for panel in panels {
        let title = panel["title"].as_str().expect("title");
        for target in panel["targets"].as_array().expect("targets") {
            let raw = target["rawSql"].as_str().expect("raw SQL");
            let sql = grafana::interpolate(raw, from, to).unwrap_or_else(|e| panic!("{title}: {e}"));
            assert!(!sql.contains("$__"), "{title}: {sql}");
            let out = psql(server.port, TOKEN, &["--csv", "-c", &sql]).await;
            assert!(out.status.success(), "{title}: {}\n{sql}", text(&out.stderr));
            let got = normalized(&text(&out.stdout));
            let want = normalized(&failscope_sql_csv(&server.analyzer, &sql).await);
            // Arrow's CSV writer writes no header for a result without batches.
            if want.is_empty() {
                assert_eq!(got.len(), 1, "{title}: rows the analyzer did not give\n{sql}");
            } else {
                assert_eq!(got, want, "{title}\n{sql}");
            }
            // The region health panel may be empty over the fixture; the others have rows.
            if !title.starts_with("Region health") {
                assert!(got.len() > 1, "{title}: no rows\n{sql}");
            }
        }
    }
}

fn chrono_utc(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).expect("valid instant")
}

/// CSV rows with every field in one spelling: psql writes `2022-04-05 23:00:00+00` and
/// `1649199600`, Arrow's CSV `2022-04-05T23:00:00Z` and `1649199600.0`.
fn normalized(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .map(|line| {
            line.split(',')
                .map(|field| {
                    if let Ok(v) = field.parse::<f64>() {
                        return format!("{v:.9}");
                    }
                    let instant = chrono::DateTime::parse_from_rfc3339(field)
                        .or_else(|_| chrono::DateTime::parse_from_str(&format!("{field}00"), "%Y-%m-%d %H:%M:%S%.f%z"));
                    match instant {
                        Ok(t) => t.with_timezone(&chrono::Utc).to_rfc3339(),
                        Err(_) => field.to_string(),
                    }
                })
                .collect()
        })
        .collect()
}

/// Grafana's Postgres macros, expanded as `pkg/tsdb/grafana-postgresql-datasource/macros.go`
/// does (without TimescaleDB): the same pattern, the same argument splitting, the same output.
mod grafana {
    use chrono::{DateTime, Utc};
    use regex::{Captures, Regex};

    pub(super) fn interpolate(sql: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<String, String> {
        let pattern = Regex::new(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)").expect("valid pattern");
        let mut error = None;
        let expanded = pattern.replace_all(sql, |c: &Captures<'_>| {
            let mut name = c[1].to_string();
            // Before Grafana 5.3, `$__timeGroup(...)` followed by a comma also named the column.
            if name == "__timeGroup" && sql[c.get(0).expect("match").end()..].starts_with(',') {
                name = "__timeGroupAlias".to_string();
            }
            let args: Vec<&str> = c[2].split(',').map(str::trim).collect();
            match evaluate(&name, &args, from, to) {
                Ok(text) => text,
                Err(e) => {
                    error.get_or_insert(e);
                    "macro_error()".to_string()
                }
            }
        });
        match error {
            Some(e) => Err(e),
            None => Ok(expanded.into_owned()),
        }
    }

    fn evaluate(name: &str, args: &[&str], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<String, String> {
        let rfc3339 = |t: DateTime<Utc>| {
            // Go's RFC3339Nano: the fraction without trailing zeros, none when zero.
            let fraction = format!("{:09}", t.timestamp_subsec_nanos());
            let fraction = fraction.trim_end_matches('0');
            let dot = if fraction.is_empty() { "" } else { "." };
            format!("{}{dot}{fraction}Z", t.format("%Y-%m-%dT%H:%M:%S"))
        };
        let column =
            || args.first().filter(|a| !a.is_empty()).ok_or(format!("missing time column argument for macro {name}"));
        Ok(match name {
            "__time" => format!("{} AS \"time\"", column()?),
            "__timeEpoch" => format!("extract(epoch from {}) as \"time\"", column()?),
            "__timeFilter" => format!("{} BETWEEN '{}' AND '{}'", column()?, rfc3339(from), rfc3339(to)),
            "__timeFrom" => format!("'{}'", rfc3339(from)),
            "__timeTo" => format!("'{}'", rfc3339(to)),
            "__timeGroup" | "__timeGroupAlias" => {
                let [column, interval, ..] = args else {
                    return Err(format!("macro {name} needs time column and interval and optional fill value"));
                };
                let seconds = interval_seconds(interval.trim_matches('\''))?;
                let group = format!("floor(extract(epoch from {column})/{seconds})*{seconds}");
                if name == "__timeGroupAlias" { format!("{group} AS \"time\"") } else { group }
            }
            _ => return Err(format!("unknown macro {name:?}")),
        })
    }

    /// `gtime.ParseInterval` for the units a dashboard uses; whole seconds print as Go's `%v`
    /// prints a float64 of whole seconds (`300`, `3600`).
    fn interval_seconds(text: &str) -> Result<u64, String> {
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or(format!("error parsing interval {text}"))?;
        let (n, unit) = text.split_at(split);
        let n: u64 = n.parse().map_err(|_| format!("error parsing interval {text}"))?;
        let unit_seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("error parsing interval {text}")),
        };
        Ok(n * unit_seconds)
    }

    #[test]
    fn expands_as_grafana_does() {
        let from = DateTime::parse_from_rfc3339("2022-04-05T23:00:00Z").expect("valid").with_timezone(&Utc);
        let to = DateTime::parse_from_rfc3339("2022-04-06T01:00:00.5Z").expect("valid").with_timezone(&Utc);
        let cases = [
            ("WHERE $__timeFilter(t)", "WHERE t BETWEEN '2022-04-05T23:00:00Z' AND '2022-04-06T01:00:00.5Z'"),
            ("SELECT $__timeGroupAlias(t, '5m')", "SELECT floor(extract(epoch from t)/300)*300 AS \"time\""),
            ("SELECT $__timeGroup(t,'1h'), v", "SELECT floor(extract(epoch from t)/3600)*3600 AS \"time\", v"),
            ("GROUP BY $__timeGroup(t,'1h')", "GROUP BY floor(extract(epoch from t)/3600)*3600"),
            ("f($__timeFrom(), $__timeTo())", "f('2022-04-05T23:00:00Z', '2022-04-06T01:00:00.5Z')"),
        ];
        for (sql, want) in cases {
            assert_eq!(interpolate(sql, from, to).as_deref(), Ok(want), "{sql}");
        }
        assert!(interpolate("$__timeGroup(t)", from, to).is_err());
        assert!(interpolate("$__nope(t)", from, to).is_err());
    }
}
