//! The DataFusion session over the lake: raw tables with typed partition columns, the
//! signature knowledge base, and the views of `queries/views/` (dedup, classification, reports).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::{MemTable, TableProvider};
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SessionConfig, SessionContext};
use failscope_lake_store::{LakeLocation, StoreLake};
use failscope_schemas::EventType;
use failscope_schemas::arrow::schema_of;
use failscope_schemas::lake;
use tracing::debug;

use crate::dedup::UniqueEvents;
use crate::error::{AnalyzeError, Result};
use crate::provided;
use crate::query_set::QuerySet;
use crate::signatures::{MatchSignature, Signatures};

/// Where the lake and the query files are, and how much the session may use.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// The lake root, holding `connect_attempts/` and `job_outcomes/`: a directory, or a
    /// prefix in an object store.
    pub lake: LakeLocation,
    /// A directory overriding or extending the built-in `queries/` files (named queries,
    /// `views/`, `signatures.toml`); `None` runs the built-in set.
    pub queries_dir: Option<PathBuf>,
    /// Memory for query execution; operators that can spill do so beyond it, others fail.
    pub memory_limit_bytes: Option<usize>,
    /// Parallelism of execution; `None` uses the number of cores.
    pub target_partitions: Option<usize>,
}

/// Builds a session with every table and view registered.
pub(crate) async fn open_session(
    config: &CatalogConfig,
    queries: &QuerySet,
    signatures: &Signatures,
) -> Result<SessionContext> {
    let mut session_config = SessionConfig::new().with_information_schema(true);
    // Evaluate filters while decoding Parquet: a query for one region, or for the jobs that
    // did not pass, then decodes the other columns (the log tail above all) only for the rows
    // that match, instead of decoding every row and filtering afterwards.
    let execution = &mut session_config.options_mut().execution;
    execution.parquet.pushdown_filters = true;
    execution.parquet.reorder_filters = true;
    // Grouping by a job's event id (the job evidence) finds nearly one group per row, where
    // partial aggregation only doubles the work: decide after one batch, not 100,000 rows, to
    // skip it.
    execution.skip_partial_aggregation_probe_rows_threshold = 8_192;
    // Hash joins build one table from their left side and probe it from every partition,
    // instead of hash-repartitioning both sides. The classification joins the jobs that did
    // not pass (a tenth of the jobs) to every connect attempt; built once, the join's dynamic
    // filter on the attempts' scan is one hash lookup per row instead of a repartition hash
    // and a lookup (the classification summary at 1 M jobs: 2.0 s against 2.3 s).
    session_config.options_mut().optimizer.repartition_joins = false;
    if let Some(n) = config.target_partitions {
        session_config = session_config.with_target_partitions(n.max(1));
    }
    // DataFusion caches a table's file listing for ever by default; the ingest keeps publishing
    // files, and `failscope serve` keeps one session, so list the lake on every query. (The
    // footer metadata cache stays: published files are never rewritten.)
    let mut runtime =
        RuntimeEnvBuilder::new().with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0));
    if let Some(bytes) = config.memory_limit_bytes {
        runtime = runtime.with_memory_limit(bytes, 1.0);
    }
    let ctx = SessionContext::new_with_config_rt(session_config, runtime.build_arc()?);

    // Each lake table (the layout is the contract crate's) is registered twice, as
    // `<table>_raw` with every copy a worker's spool delivered, and as `<table>_unique` with
    // one row per event (see [`UniqueEvents`]); the views of `queries/views/` build `<table>`
    // on the latter.
    let tables = EventType::ALL.map(|t| (t.table(), schema_of(t)));
    for (table, files) in match &config.lake {
        LakeLocation::Local(dir) => local_tables(dir, tables)?,
        LakeLocation::Store(lake) => store_tables(&ctx, lake, tables).await?,
    } {
        ctx.register_table(
            format!("{table}_unique"),
            Arc::new(UniqueEvents::try_new(table, Arc::clone(&files), &lake::PARTITION_COLUMNS)?),
        )?;
        ctx.register_table(format!("{table}_raw"), files)?;
    }
    ctx.register_batch("signatures", signatures.to_batch()?)?;
    ctx.register_udf(ScalarUDF::new_from_impl(MatchSignature::new(signatures.clone())));
    ctx.register_udtf(crate::health::TIMELINE_FUNCTION, Arc::new(crate::health::HealthChanges));

    for (name, sql) in queries.views() {
        debug!(view = %name, "registering view");
        ctx.sql(sql).await?;
        if sql == provided::REGION_HOUR_CONNECTS_SQL
            && let Some(view) = ctx.deregister_table(provided::REGION_HOUR_CONNECTS)?
        {
            // Before the views that read it are planned: they hold on to the provider.
            ctx.register_table(provided::REGION_HOUR_CONNECTS, Arc::new(provided::ProvidedOrComputed::new(view)))?;
        }
    }
    Ok(ctx)
}

/// The table schema including the partition columns taken from the path.
pub(crate) fn with_partition_columns(file_schema: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = file_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(partition_columns().into_iter().map(|(name, ty)| Field::new(name, ty, false)));
    Arc::new(Schema::new(fields))
}

/// `date=YYYY-MM-DD/hour=HH`. The ingest partitions by event time, so all copies of an event
/// are in one partition directory: the deduplication keeps one set of ids per directory.
/// `date` is typed, so that `WHERE date = …` prunes directories.
/// `hour` stays text here and the views of `queries/views/` cast it to INT: DataFusion 55 turns
/// an equality on an integer partition column into a listing prefix (`hour=5/`), which misses
/// the lake's zero-padded `hour=05/` directories.
fn partition_columns() -> Vec<(String, DataType)> {
    lake::PARTITION_COLUMNS
        .into_iter()
        .zip([DataType::Date32, DataType::Utf8])
        .map(|(n, t)| (n.to_string(), t))
        .collect()
}

type Tables<const N: usize> = [(&'static str, SchemaRef); N];

/// The tables of a lake in a local directory, which must exist.
fn local_tables<const N: usize>(lake: &Path, tables: Tables<N>) -> Result<Vec<(&'static str, Arc<dyn TableProvider>)>> {
    std::fs::metadata(lake).map_err(|source| AnalyzeError::Lake { path: lake.to_path_buf(), source })?;
    tables
        .into_iter()
        .map(|(table, schema)| {
            let dir = lake.join(table);
            if !dir.is_dir() {
                // An empty lake (nothing ingested yet) is valid; it simply has no rows.
                return Ok((table, Arc::new(MemTable::try_new(with_partition_columns(&schema), vec![vec![]])?) as _));
            }
            let dir = dir.canonicalize().map_err(|source| AnalyzeError::Lake { path: dir.clone(), source })?;
            Ok((table, lake_table(ListingTableUrl::parse(format!("{}/", dir.display()))?, schema)?))
        })
        .collect()
}

/// The tables of a lake in an object store, read through the store registered in the
/// session's runtime for the bucket (DataFusion finds it by the tables' URLs). The lake's
/// prefix is listed once here, so that a wrong endpoint, bucket or credentials fail at start
/// with the store's error rather than at the first query. A prefix with no table under it
/// yet is an empty lake: its tables list no files until the ingest publishes some.
async fn store_tables<const N: usize>(
    ctx: &SessionContext,
    lake: &StoreLake,
    tables: Tables<N>,
) -> Result<Vec<(&'static str, Arc<dyn TableProvider>)>> {
    ctx.runtime_env().register_object_store(lake.root_url(), Arc::clone(lake.store()));
    let prefix = (!lake.prefix().as_ref().is_empty()).then_some(lake.prefix());
    lake.store()
        .list_with_delimiter(prefix)
        .await
        .map_err(|source| AnalyzeError::LakeStore { lake: lake.to_string(), source })?;
    tables
        .into_iter()
        .map(|(table, schema)| Ok((table, lake_table(ListingTableUrl::parse(lake.dir_url(table))?, schema)?)))
        .collect()
}

/// One lake table. Only `*.parquet` files under `<lake>/<table>/` are read; the ingest stages
/// its temporary files in `<lake>/_staging/`, outside every table, so no query sees a partial
/// file. The listing is redone on every scan, so newly published files show up at once; it
/// goes through the runtime's object store for the URL's scheme (the local file system, or a
/// bucket), under the prefix that equalities on the partition columns fix (`date=…/` or
/// `date=…/hour=…/`), and other filters on them prune the files listed.
fn lake_table(url: ListingTableUrl, file_schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_columns());
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(file_schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}
