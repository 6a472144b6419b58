//! The `failscope sql`, `query` and `serve` subcommands: their flags (clap `Args`) and their
//! `run_*` functions, which the `failscope` binary calls after parsing.

mod health;
mod query;
mod report;
mod serve;
mod sql;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use failscope_lake_store::LakeLocation;
use failscope_schemas::Timestamp;
use failscope_schemas::lake::LakeArg;

use crate::CatalogConfig;
use crate::output::Format;

pub use health::run_health;
pub use query::run_query;
pub use report::run_report;
pub use serve::run_serve;
pub use sql::run_sql;

/// Where the lake and the query files are, and the memory queries may use.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LakeArgs {
    #[command(flatten)]
    pub(crate) lake: LakeArg,

    /// Directory overriding or extending the built-in statements, file by file: named queries
    /// (`*.sql`), `views/*.sql` and `signatures.toml`. The built-in set alone when absent.
    #[arg(long, env = "FAILSCOPE_QUERIES")]
    pub(crate) queries: Option<PathBuf>,

    /// Memory for query execution in MiB; beyond it, sorts and aggregations spill to disk or
    /// the query fails (never the process). 0 means no limit.
    #[arg(long, env = "FAILSCOPE_MEMORY_LIMIT_MIB", default_value_t = 4096)]
    pub(crate) memory_limit_mib: usize,
}

impl LakeArgs {
    /// The catalog settings, with the lake as an absolute path or an object store configured
    /// from the environment (logged).
    pub(crate) fn catalog_config(&self) -> anyhow::Result<CatalogConfig> {
        let given = self
            .lake
            .path
            .to_str()
            .with_context(|| format!("the lake path {} is not UTF-8", self.lake.path.display()))?;
        let lake = LakeLocation::parse(given)?;
        tracing::info!(%lake, "lake");
        Ok(CatalogConfig {
            lake,
            queries_dir: self.queries.clone(),
            memory_limit_bytes: (self.memory_limit_mib > 0).then(|| self.memory_limit_mib.saturating_mul(1 << 20)),
            target_partitions: None,
        })
    }
}

/// How results are printed, shared by `sql` and `query`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct OutputArgs {
    /// Output format.
    #[arg(long, env = "FAILSCOPE_FORMAT", value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// `failscope sql`: an interactive SQL shell over the lake, or one command or file.
#[derive(Debug, Clone, clap::Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub(crate) lake: LakeArgs,

    /// Run this SQL and exit instead of starting the shell.
    #[arg(short = 'c', long = "command", env = "FAILSCOPE_SQL_COMMAND", conflicts_with = "file")]
    pub(crate) command: Option<String>,

    /// Run the statements of this file and exit.
    #[arg(short = 'f', long = "file", env = "FAILSCOPE_SQL_FILE")]
    pub(crate) file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) output: OutputArgs,

    /// Where the interactive shell keeps its history.
    #[arg(long, env = "FAILSCOPE_SQL_HISTORY", default_value = ".failscope_history")]
    pub(crate) history: PathBuf,
}

/// `failscope query NAME`: run a named query of `queries/` with typed parameters.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    #[command(flatten)]
    pub(crate) lake: LakeArgs,

    /// The query to run (see --list).
    #[arg(required_unless_present = "list")]
    pub(crate) name: Option<String>,

    /// List the named queries with their descriptions and parameters.
    #[arg(long, env = "FAILSCOPE_QUERY_LIST", default_value_t = false)]
    pub(crate) list: bool,

    /// Start of the window: RFC 3339 (2022-04-05T23:00:00Z) or a duration ago (24h, 7d).
    #[arg(long, env = "FAILSCOPE_SINCE", default_value = DEFAULT_SINCE)]
    pub(crate) since: String,

    /// End of the window (exclusive): RFC 3339, a duration ago, or `now`.
    #[arg(long, env = "FAILSCOPE_UNTIL", default_value = "now")]
    pub(crate) until: String,

    /// Only this region (e.g. us-east-2); all regions when absent. Not `FAILSCOPE_REGION`,
    /// which is a worker's own region: a query on a worker host must not filter by it.
    #[arg(long, env = "FAILSCOPE_QUERY_REGION")]
    pub(crate) region: Option<String>,

    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

/// `failscope health`: the state of every region at an instant, or the state changes of a
/// period (the detector replayed over the lake as if it had run live).
#[derive(Debug, Clone, clap::Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub(crate) lake: LakeArgs,

    /// The instant whose state to show: RFC 3339, a duration ago (2h), or `now`.
    #[arg(long, env = "FAILSCOPE_HEALTH_AT", default_value = "now", conflicts_with_all = ["from", "until"])]
    pub(crate) at: String,

    /// Start of the period whose state changes to list (with --until).
    #[arg(long, env = "FAILSCOPE_HEALTH_FROM", requires = "until")]
    pub(crate) from: Option<String>,

    /// End of the period whose state changes to list (with --from).
    #[arg(long, env = "FAILSCOPE_HEALTH_UNTIL", requires = "from")]
    pub(crate) until: Option<String>,

    /// `table` for people; `json` for tools: the state as one object, or the changes of a
    /// period as one object per line.
    #[arg(long, env = "FAILSCOPE_HEALTH_FORMAT", value_enum, default_value_t = HealthFormat::Table)]
    pub(crate) format: HealthFormat,
}

/// How `failscope health` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum HealthFormat {
    Table,
    Json,
}

/// `failscope report`: the anomaly report of a past period.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub(crate) lake: LakeArgs,

    /// Start of the period: RFC 3339 (2022-04-05T00:00:00Z) or a duration ago (24h, 7d).
    #[arg(long, env = "FAILSCOPE_REPORT_SINCE", default_value = "24h")]
    pub(crate) since: String,

    /// End of the period (exclusive): RFC 3339, a duration ago, or `now`.
    #[arg(long, env = "FAILSCOPE_REPORT_UNTIL", default_value = "now")]
    pub(crate) until: String,

    /// `md` for chat and issues, `html` for one self-contained file with charts, `json` for
    /// machines.
    #[arg(long, env = "FAILSCOPE_REPORT_FORMAT", value_enum, default_value_t = crate::report::ReportFormat::Md)]
    pub(crate) format: crate::report::ReportFormat,

    /// Write the report to this file (atomically: a reader never sees a part of it) instead
    /// of standard output.
    #[arg(long, env = "FAILSCOPE_REPORT_OUT")]
    pub(crate) out: Option<PathBuf>,
}

/// `failscope serve`: the HTTP API.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub(crate) lake: LakeArgs,

    /// Address to listen on.
    #[arg(long, env = "FAILSCOPE_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,

    /// Address for the Postgres wire protocol (psql, Grafana, DBeaver): any user name, the
    /// API token as password. Off when absent.
    #[arg(long, env = "FAILSCOPE_PG_LISTEN")]
    pub(crate) pg_listen: Option<std::net::SocketAddr>,

    /// Bearer token required on every request (and the Postgres password); no authentication
    /// when absent, which is only allowed on loopback addresses.
    #[arg(long, env = "FAILSCOPE_API_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,

    /// Accept docker-compose.yml's placeholder token (`change-me`), for a demo on one machine.
    #[arg(long, env = "FAILSCOPE_ALLOW_PLACEHOLDER_TOKEN")]
    pub(crate) allow_placeholder_token: bool,

    /// Longest a statement may run before it is cancelled (e.g. 30s, 2m).
    #[arg(long, env = "FAILSCOPE_STATEMENT_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) statement_timeout: Duration,

    /// Most rows a JSON response (and a Postgres result) carries; longer results are cut and
    /// flagged as truncated. CSV, NDJSON and Arrow responses stream every row.
    #[arg(long, env = "FAILSCOPE_ROW_CAP", default_value_t = 100_000)]
    pub(crate) row_cap: usize,

    /// Most bytes of a JSON response (default 64 MiB): a larger one is refused with 422
    /// (`result_too_large`) rather than built; CSV, NDJSON and Arrow responses stream within
    /// bounded memory and are not capped.
    #[arg(long, env = "FAILSCOPE_MAX_RESULT_BYTES", default_value_t = 64 << 20)]
    pub(crate) max_result_bytes: usize,

    /// How often the region-health detector ticks on the freshest lake (`GET
    /// /v1/regions/health`); 0s turns it off.
    #[arg(long, env = "FAILSCOPE_HEALTH_INTERVAL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub(crate) health_interval: Duration,

    /// Kafka bootstrap servers to publish every region's state to, keyed by region, on a
    /// compacted topic; not published when absent.
    #[arg(long, env = "FAILSCOPE_HEALTH_BROKERS")]
    pub(crate) health_brokers: Option<String>,

    /// The compacted topic of region states (created if missing).
    #[arg(long, env = "FAILSCOPE_HEALTH_TOPIC", default_value = failscope_kafka::REGION_HEALTH_TOPIC)]
    pub(crate) health_topic: String,

    /// Statements that may run at once; more wait for a slot.
    #[arg(long, env = "FAILSCOPE_MAX_CONCURRENT_STATEMENTS", default_value_t = 4)]
    pub(crate) max_concurrent_statements: usize,

    /// How long a statement waits for a slot before the answer is 503 with `Retry-After`.
    #[arg(long, env = "FAILSCOPE_QUEUE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub(crate) queue_timeout: Duration,

    /// A TOML file of report schedules (cron time, period, formats, output directory,
    /// optional webhook; see the README); no scheduled reports when absent.
    #[arg(long, env = "FAILSCOPE_REPORT_SCHEDULES")]
    pub(crate) report_schedules: Option<PathBuf>,
}

/// Where a named query's window starts when nobody said: `failscope query` and
/// `POST /v1/queries/{name}`.
pub(crate) const DEFAULT_SINCE: &str = "24h";

/// The error a command ends with when SIGINT or SIGTERM stopped it.
fn interrupted() -> anyhow::Error {
    anyhow::anyhow!("interrupted by a signal; the statement was cancelled")
}

/// Parses `--since`/`--until`: RFC 3339, `now`, or a duration before `now`.
pub(crate) fn parse_instant(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    if text == "now" {
        return Ok(now);
    }
    if let Ok(t) = Timestamp::parse(text) {
        return Ok(t);
    }
    let ago =
        humantime::parse_duration(text).map_err(|e| format!("{text:?} is neither RFC 3339 nor a duration: {e}"))?;
    let ago_ms = i64::try_from(ago.as_millis()).map_err(|_| format!("{text:?} is too long ago"))?;
    Ok(now.add_millis(-ago_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_absolute_or_relative_to_now() {
        let now = Timestamp::parse("2022-04-06T12:00:00Z").expect("valid");
        let cases = [
            ("now", "2022-04-06T12:00:00.000Z"),
            ("2022-04-05T23:00:00Z", "2022-04-05T23:00:00.000Z"),
            ("24h", "2022-04-05T12:00:00.000Z"),
            ("90m", "2022-04-06T10:30:00.000Z"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_instant(text, now).expect(text).to_string(), want, "{text}");
        }
        assert!(parse_instant("yesterday", now).is_err());
    }
}
