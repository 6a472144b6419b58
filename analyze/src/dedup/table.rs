//! [`UniqueEvents`]: the lake table that plans its scans through a [`DedupExec`], with the
//! event id and the scope columns read even when the query does not ask for them.

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;

use super::{DedupExec, EVENT_ID};
use crate::scan_window::ScanWindow;
use crate::session_mark::SessionMark;

/// A lake table in which each `event_id` appears once.
#[derive(Debug)]
pub(crate) struct UniqueEvents {
    /// The lake table's name (`connect_attempts`).
    table: String,
    inner: Arc<dyn TableProvider>,
    id_column: usize,
    scope_columns: Vec<usize>,
}

impl UniqueEvents {
    /// Wraps `inner`, which must have a string column named [`EVENT_ID`]. `scope` names the
    /// partition columns that all copies of an event share (`date` and `hour` in the lake).
    pub(crate) fn try_new(table: &str, inner: Arc<dyn TableProvider>, scope: &[&str]) -> Result<Self> {
        let schema = inner.schema();
        let id_column = schema.index_of(EVENT_ID)?;
        if !matches!(schema.field(id_column).data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            return plan_err!("{EVENT_ID} must be a string column, not {}", schema.field(id_column).data_type());
        }
        let scope_columns = scope.iter().map(|name| schema.index_of(name)).collect::<Result<_, _>>()?;
        Ok(Self { table: table.to_string(), inner, id_column, scope_columns })
    }
}

/// Marks a session whose statements answer the same whether or not the events of some lake
/// tables repeat: there, those tables read their files as they are, without the cost of
/// dropping copies (every event id read and hashed). The region-health detector classifies
/// jobs in such a session for the connect attempts: a job's attribution depends on whether its
/// connects failed, never on how many times one was delivered (reading.rs).
#[derive(Debug, Clone)]
pub(crate) struct RepeatsHarmless(pub(crate) Vec<&'static str>);

impl SessionMark for RepeatsHarmless {}

impl RepeatsHarmless {
    fn covers(config: &SessionConfig, table: &str) -> bool {
        config.get_extension::<RepeatsHarmless>().is_some_and(|r| r.0.contains(&table))
    }
}

#[async_trait]
impl TableProvider for UniqueEvents {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Whatever the lake table can apply, it applies to every copy alike.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    /// Scans the lake table with the event id and the scope columns added to the columns if
    /// the query did not ask for them, drops repeated ids, and leaves the additions out of its
    /// output (so the rows it drops are not copied with them). A limit is not passed down: the
    /// first `n` rows read may hold copies; the limit above this scan still applies. (In a
    /// session marked [`RepeatsHarmless`] for this table, the files are read as they are.)
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // A session carrying a scan window lists only the window's partitions.
        let mut filters = filters.to_vec();
        filters.extend(ScanWindow::of(state.config()).map(ScanWindow::partition_filter));
        if RepeatsHarmless::covers(state.config(), &self.table) {
            return self.inner.scan(state, projection, &filters, limit).await;
        }
        let wanted: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.inner.schema().fields().len()).collect(),
        };
        let mut read = wanted.clone();
        let mut position_of = |column: usize| match read.iter().position(|&c| c == column) {
            Some(position) => position,
            None => {
                read.push(column);
                read.len() - 1
            }
        };
        let id_position = position_of(self.id_column);
        let scope_positions = self.scope_columns.iter().map(|&c| position_of(c)).collect();
        let scan = self.inner.scan(state, Some(&read), &filters, None).await?;
        let output = (0..wanted.len()).collect();
        Ok(Arc::new(DedupExec::try_new(scan, id_position, scope_positions, output)?))
    }
}
