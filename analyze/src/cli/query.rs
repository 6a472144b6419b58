//! `failscope query`: lists or runs the named queries of `queries/`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use failscope_schemas::Timestamp;
use tokio_util::sync::CancellationToken;

use super::{QueryArgs, parse_instant};
use crate::named_query::NamedQuery;
use crate::output::write_batches;
use crate::query_set::QuerySet;
use crate::{Analyzer, QueryParams};

/// Runs `failscope query`; the window is validated before the lake is opened. When `shutdown`
/// fires, the query is cancelled and the run ends with an error.
pub async fn run_query(args: QueryArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    tokio::select! {
        result = query(args) => result,
        () = shutdown.cancelled() => Err(super::interrupted()),
    }
}

async fn query(args: QueryArgs) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let since = parse_instant(&args.since, now).map_err(anyhow::Error::msg).context("invalid --since")?;
    let until = parse_instant(&args.until, now).map_err(anyhow::Error::msg).context("invalid --until")?;
    anyhow::ensure!(since < until, "--since ({since}) must be before --until ({until})");

    let mut stdout = std::io::stdout().lock();
    if args.list {
        // Listing needs the query set, not the lake.
        let set = QuerySet::load(args.lake.queries.as_deref()).context("cannot load the queries")?;
        tracing::info!(queries = set.source(), "query set");
        for q in NamedQuery::load_all(&set)? {
            writeln!(stdout, "{:<28} {}  [params: {}]", q.name, q.description, q.params.join(", "))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let analyzer = Analyzer::open(&args.lake.catalog_config()?).await.context("cannot open the lake")?;
    let name = args.name.context("a query name is required (see --list)")?;
    let params = QueryParams { since, until, region: args.region };
    tracing::debug!(query = name, "running query");
    let df = analyzer.named(&name, &params).await.with_context(|| format!("query {name} failed"))?;
    let result = analyzer.collect(df).await.with_context(|| format!("query {name} failed"))?;
    write_batches(args.output.format, &result.schema, &result.batches, &mut stdout)?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
