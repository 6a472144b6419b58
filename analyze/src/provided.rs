//! `region_hour_connects` with rows a session provides. The region-health detector counts every
//! region's connect attempts per lake hour in the one pass it makes over them; the
//! classification of the jobs it runs next needs those counts (`region_hour_health`), and
//! computing them from the view scans every attempt again: on a 48-hour replay of 50 M
//! attempts, half the cost of classifying its jobs. A session carries the detector's counts as
//! an extension ([`RegionHourConnects::scope`]); without it the view is computed as written.
//! Only the built-in definition is wrapped (see the catalog): counts that a redefined view
//! would count differently are never swapped in for it.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::{MemTable, TableType};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::session_mark::SessionMark;

/// The view whose rows a session may provide.
pub(crate) const REGION_HOUR_CONNECTS: &str = "region_hour_connects";

/// The built-in definition of [`REGION_HOUR_CONNECTS`]: the one the detector counts alike.
pub(crate) const REGION_HOUR_CONNECTS_SQL: &str = include_str!("../../queries/views/19_region_hour_connects.sql");

/// One row of `region_hour_connects`: a region's attempts in one lake partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegionHourCount {
    pub region: Arc<str>,
    /// The partition: days since the Unix epoch, and hour of the day.
    pub date: i32,
    pub hour: i32,
    pub n_connects: i64,
    /// Any outcome but `ok` and `other`, as the view counts.
    pub n_failed_connects: i64,
}

/// The rows a session provides for `region_hour_connects`, complete for every partition the
/// session's queries look at.
#[derive(Debug, Default, Clone)]
pub(crate) struct RegionHourConnects(pub Vec<RegionHourCount>);

/// A session carrying these rows: its `region_hour_connects` is them.
impl SessionMark for RegionHourConnects {}

impl RegionHourConnects {
    /// The rows as a batch of `schema` (the view's: names and order checked by `RecordBatch`,
    /// types cast, since the lake's text may read as views or plain strings).
    fn to_batch(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        let rows = &self.0;
        let columns: [ArrayRef; 5] = [
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &*r.region))),
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.date))),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.hour))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.n_connects))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.n_failed_connects))),
        ];
        let columns = columns
            .iter()
            .zip(schema.fields())
            .map(|(column, field)| cast(column, field.data_type()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

/// `region_hour_connects`: the session's rows if it provides them, else the view.
#[derive(Debug)]
pub(crate) struct ProvidedOrComputed {
    view: Arc<dyn TableProvider>,
}

impl ProvidedOrComputed {
    pub(crate) fn new(view: Arc<dyn TableProvider>) -> ProvidedOrComputed {
        ProvidedOrComputed { view }
    }
}

#[async_trait]
impl TableProvider for ProvidedOrComputed {
    fn schema(&self) -> SchemaRef {
        self.view.schema()
    }

    fn table_type(&self) -> TableType {
        self.view.table_type()
    }

    fn get_table_definition(&self) -> Option<&str> {
        self.view.get_table_definition()
    }

    /// Filters stay above the scan as well: the provided rows are not filtered here.
    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match state.config().get_extension::<RegionHourConnects>() {
            Some(provided) => {
                let schema = self.schema();
                let batch = provided.to_batch(&schema)?;
                MemTable::try_new(schema, vec![vec![batch]])?.scan(state, projection, filters, limit).await
            }
            None => self.view.scan(state, projection, filters, limit).await,
        }
    }
}
