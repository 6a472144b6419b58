//! `Analyzer`: the entry point of the library. It owns the session over the lake, the named
//! queries and the signature knowledge base, and runs SQL read-only.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{DataFrame, SessionContext};
use futures::TryStreamExt;

use crate::catalog::{CatalogConfig, open_session};
use crate::error::{AnalyzeError, Result};
use crate::guard::check_read_only;
use crate::named_query::{NamedQuery, QueryParams};
use crate::query_set::QuerySet;
use crate::signatures::Signatures;

/// A read-only analysis session over one lake.
pub struct Analyzer {
    ctx: SessionContext,
    queries: Vec<NamedQuery>,
    signatures: Signatures,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer").field("queries", &self.queries.len()).field("signatures", &self.signatures).finish()
    }
}

/// The rows of a result.
#[derive(Debug)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    pub fn n_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

impl Analyzer {
    /// Loads the query set (built in, or overridden by `config.queries_dir`), its knowledge
    /// base and named queries, then opens the session over the lake.
    pub async fn open(config: &CatalogConfig) -> Result<Self> {
        let set = QuerySet::load(config.queries_dir.as_deref())?;
        tracing::info!(queries = set.source(), "query set");
        let signatures = Signatures::load(&set)?;
        let queries = NamedQuery::load_all(&set)?;
        let ctx = open_session(config, &set, &signatures).await?;
        Ok(Analyzer { ctx, queries, signatures })
    }

    /// The underlying session, for callers that need DataFusion directly (tests, benchmarks).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    pub(crate) fn queries(&self) -> &[NamedQuery] {
        &self.queries
    }

    pub(crate) fn query(&self, name: &str) -> Result<&NamedQuery> {
        self.queries.iter().find(|q| q.name == name).ok_or_else(|| AnalyzeError::UnknownQuery(name.to_string()))
    }

    /// Plans one engineer's statement, refusing anything but a single read-only query.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        check_read_only(sql)?;
        // Second line of defence: DataFusion itself refuses DDL, DML and SET at planning.
        let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
        Ok(self.ctx.sql_with_options(sql, options).await?)
    }

    /// Plans a named query with its parameters bound as typed literals.
    pub async fn named(&self, name: &str, params: &QueryParams) -> Result<DataFrame> {
        let query = self.query(name)?;
        let df = self.sql(&query.sql).await?;
        Ok(df.with_param_values(params.to_param_values())?)
    }

    /// Runs a planned query and collects every row. (The HTTP API caps or streams its results
    /// instead, in `http/results.rs`.)
    pub async fn collect(&self, df: DataFrame) -> Result<QueryResult> {
        let schema = df.schema().inner().clone();
        let batches: Vec<RecordBatch> = df.execute_stream().await?.try_collect().await?;
        let batches = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        Ok(QueryResult { schema, batches })
    }
}
