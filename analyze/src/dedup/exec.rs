//! [`DedupExec`]: the plan node that lets through the first row of each event id. Filters go
//! down through it (copies are identical); each partition runs a [`BatchFilter`] over the
//! scan's shared [`SeenIds`].

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::config::ConfigOptions;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::projection::ProjectionMapping;
use datafusion::physical_plan::execution_plan::{CardinalityEffect, ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterDescription, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties};
use futures::StreamExt;

use super::filter::{BatchFilter, Columns};
use super::retirement::Retirement;
use super::seen::SeenIds;

/// Lets through the first row of each event id across all its input partitions. Ids are kept
/// apart by the values of the scope columns: an id repeated under other scope values is
/// another event. It outputs the input columns listed in `output`, in that order.
#[derive(Debug)]
pub(crate) struct DedupExec {
    input: Arc<dyn ExecutionPlan>,
    id_column: usize,
    scope_columns: Vec<usize>,
    output: Vec<usize>,
    seen: Arc<SeenIds>,
    metrics: ExecutionPlanMetricsSet,
    properties: Arc<PlanProperties>,
}

impl DedupExec {
    /// Deduplicates `input` on its string column `id_column`, within each combination of
    /// values of `scope_columns`, and outputs the input's columns `output`.
    pub(crate) fn try_new(
        input: Arc<dyn ExecutionPlan>,
        id_column: usize,
        scope_columns: Vec<usize>,
        output: Vec<usize>,
    ) -> Result<Self> {
        // A filter keeps the input's partitioning, ordering and equivalences; the projection
        // maps them to the output columns.
        let input_schema = input.schema();
        let schema = Arc::new(input_schema.project(&output)?);
        let mapping = ProjectionMapping::from_indices(&output, &input_schema)?;
        let input_equivalences = input.equivalence_properties();
        let properties = PlanProperties::new(
            input_equivalences.project(&mapping, schema),
            input.output_partitioning().project(&mapping, input_equivalences),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Ok(Self {
            input,
            id_column,
            scope_columns,
            output,
            seen: Arc::default(),
            metrics: ExecutionPlanMetricsSet::new(),
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for DedupExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let schema = self.input.schema();
        let scope: Vec<&str> = self.scope_columns.iter().map(|&c| schema.field(c).name().as_str()).collect();
        write!(f, "DedupExec: id={}, within=[{}]", schema.field(self.id_column).name(), scope.join(", "))
    }
}

impl ExecutionPlan for DedupExec {
    fn name(&self) -> &str {
        "DedupExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    /// Spreading the input over more partitions gains nothing: the set is shared.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// A new node starts with an empty set of seen ids.
    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(format!("DedupExec takes one child, got {}", children.len())));
        }
        let input = children.swap_remove(0);
        Ok(Arc::new(match options.children_properties {
            ChildrenPropertiesMode::Recompute => {
                DedupExec::try_new(input, self.id_column, self.scope_columns.clone(), self.output.clone())?
            }
            ChildrenPropertiesMode::Keep => DedupExec {
                input,
                id_column: self.id_column,
                scope_columns: self.scope_columns.clone(),
                output: self.output.clone(),
                seen: Arc::default(),
                metrics: ExecutionPlanMetricsSet::new(),
                properties: Arc::clone(&self.properties),
            },
        }))
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        self.seen.reservation.get_or_init(|| MemoryConsumer::new("DedupExec").register(context.memory_pool()));
        self.seen.retirement.get_or_init(|| {
            let schema = self.input.schema();
            let names: Vec<&str> = self.scope_columns.iter().map(|&c| schema.field(c).name().as_str()).collect();
            Retirement::for_scan(&self.input, &names)
        });
        let input = self.input.execute(partition, context)?;
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let dropped = MetricBuilder::new(&self.metrics).counter("duplicates_dropped", partition);
        let reused = MetricBuilder::new(&self.metrics).counter("id_sets_reused", partition);
        let mut filter = BatchFilter::new(
            Arc::clone(&self.seen),
            Columns { id: self.id_column, scope: self.scope_columns.clone(), output: self.output.clone() },
            partition,
            dropped,
            reused,
        );
        let schema = self.schema();
        let stream = input.map(move |batch| {
            let timer = baseline.elapsed_compute().timer();
            let out = batch.and_then(|b| filter.unique_rows(b));
            timer.done();
            if let Ok(b) = &out {
                baseline.record_output(b.num_rows());
            }
            out
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        CardinalityEffect::LowerEqual
    }

    /// Filters commute with the deduplication (copies are identical), so they all go down.
    fn gather_filters_for_pushdown(
        &self,
        _phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        FilterDescription::from_children(parent_filters, &self.children())
    }

    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        Ok(FilterPushdownPropagation::if_all(child_pushdown_result))
    }
}
