//! Tables in which every event counts once, however often a worker's spool delivered it.
//!
//! A re-delivered event is a byte-for-byte copy of the first delivery, so it has the same event
//! time and lands in the same `date=…/hour=…` directory of the lake. [`UniqueEvents`] wraps a
//! lake table and lets through the first copy of each `event_id` it meets while scanning, and
//! drops the others, with one hash set of ids per partition directory, shared by every
//! partition of one scan. Sets per directory stay small enough to be cache-friendly; one set
//! for a whole lake of 10 M attempts cost about 430 ns per row in cache misses.
//!
//! Because copies are identical, a filter keeps either all of them or none, so filters still
//! reach the Parquet scan below the deduplication (partition, row-group and row pruning), and a
//! hash join's dynamic filter too.
//!
//! Event ids in the canonical text form of a UUID (lowercase, hyphenated: what the workers
//! emit) are kept as 128-bit integers; any other id is kept as text. Both are exact.
//!
//! The set's memory is reserved from the session's memory pool; a scan whose ids do not fit
//! the session's memory limit fails with a "resources exhausted" error instead of taking the
//! process down.
//!
//! A directory's set is emptied and reused for a later directory once every partition of the
//! scan has moved past it, so a scan holds the sets of the few directories being read rather
//! than one per directory of the lake (`retirement.rs`). The sets of canonical UUIDs are in
//! `uuids.rs`.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray, BooleanArray};
use arrow::compute::{filter_record_batch, partition};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use datafusion::config::ConfigOptions;
use datafusion::datasource::TableType;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::projection::ProjectionMapping;
use datafusion::physical_plan::execution_plan::{CardinalityEffect, ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterDescription, FilterPushdownPhase, FilterPushdownPropagation,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties};
use foldhash::fast::FixedState;
use futures::StreamExt;
use hashbrown::HashTable;

use retirement::{Retirement, plain_scalar};
use uuids::{PREFETCH_DISTANCE, UuidSet, uuid_bits};

mod retirement;
mod uuids;

/// The column that identifies an event.
pub const EVENT_ID: &str = "event_id";

/// A lake table in which each `event_id` appears once.
#[derive(Debug)]
pub struct UniqueEvents {
    inner: Arc<dyn TableProvider>,
    id_column: usize,
    scope_columns: Vec<usize>,
}

impl UniqueEvents {
    /// Wraps `inner`, which must have a string column named [`EVENT_ID`]. `scope` names the
    /// partition columns that all copies of an event share (`date` and `hour` in the lake).
    pub fn try_new(inner: Arc<dyn TableProvider>, scope: &[&str]) -> Result<Self> {
        let schema = inner.schema();
        let id_column = schema.index_of(EVENT_ID)?;
        if !matches!(schema.field(id_column).data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
            return plan_err!("{EVENT_ID} must be a string column, not {}", schema.field(id_column).data_type());
        }
        let scope_columns = scope.iter().map(|name| schema.index_of(name)).collect::<Result<_, _>>()?;
        Ok(Self { inner, id_column, scope_columns })
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
    /// first `n` rows read may hold copies; the limit above this scan still applies.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
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
        let scan = self.inner.scan(state, Some(&read), filters, None).await?;
        let output = (0..wanted.len()).collect();
        Ok(Arc::new(DedupExec::try_new(scan, id_position, scope_positions, output)?))
    }
}

/// Lets through the first row of each event id across all its input partitions. Ids are kept
/// apart by the values of the scope columns: an id repeated under other scope values is
/// another event. It outputs the input columns listed in `output`, in that order.
#[derive(Debug)]
pub struct DedupExec {
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
    pub fn try_new(
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
        let mut filter = BatchFilter {
            seen: Arc::clone(&self.seen),
            id_column: self.id_column,
            scope_columns: self.scope_columns.clone(),
            output: self.output.clone(),
            partition,
            first_shard: partition * SHARDS / 2 % SHARDS,
            scratch: Scratch::default(),
            dropped,
            reused,
        };
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

/// Any fixed seed: the hashes never leave the process.
const ID_HASH_SEED: u64 = 0x05EE_D1D5;

/// Number of independently locked parts of a scope's set, so partitions reading the same
/// directory rarely wait for each other.
const SHARDS: usize = 16;

/// The ids one scan has let through, over all its partitions, by scope.
#[derive(Default)]
struct SeenIds {
    scopes: Mutex<Scopes>,
    /// The most ids any scope holds so far.
    largest_scope: AtomicUsize,
    reservation: OnceLock<MemoryReservation>,
    /// When sets can be reused; `None` when the plan does not tell the order of the scopes.
    retirement: OnceLock<Option<Retirement>>,
}

#[derive(Default)]
struct Scopes {
    live: HashMap<Vec<ScalarValue>, Arc<ScopeIds>>,
    /// Sets of retired scopes, emptied, waiting to be reused.
    spare: Vec<ScopeIds>,
}

impl SeenIds {
    /// The set of a scope, created on first use: a retired scope's set, emptied, or a new one
    /// with room for as many ids as the largest scope so far (directories of one lake hold
    /// similar numbers of events), which saves growing it step by step. Tells whether the set
    /// was reused.
    fn scope(&self, key: Vec<ScalarValue>) -> Result<(Arc<ScopeIds>, bool)> {
        let mut scopes = self.scopes.lock().map_err(|_| poisoned())?;
        if let Some(ids) = scopes.live.get(&key) {
            return Ok((Arc::clone(ids), false));
        }
        if let Some(mut ids) = scopes.spare.pop() {
            ids.clear()?;
            let ids = Arc::new(ids);
            scopes.live.insert(key, Arc::clone(&ids));
            return Ok((ids, true));
        }
        let ids = Arc::new(ScopeIds::with_capacity(self.largest_scope.load(Ordering::Relaxed)));
        let allocated = ids.shards.iter().map(|s| s.lock().map(|s| s.allocated()).unwrap_or(0)).sum();
        if let Some(reservation) = self.reservation.get() {
            reservation.try_grow(allocated)?;
        }
        scopes.live.insert(key, Arc::clone(&ids));
        Ok((ids, false))
    }

    /// Records that `partition` reads the scope `key` from now on (`None`: it has read all its
    /// input), and retires the scopes that every partition has left.
    fn advance(&self, partition: usize, key: Option<&[ScalarValue]>) -> Result<()> {
        let Some(Some(retirement)) = self.retirement.get() else {
            return Ok(());
        };
        let rank = match key {
            Some(key) => match retirement.rank(key) {
                Some(rank) => rank,
                None => return Ok(()),
            },
            None => usize::MAX,
        };
        let left = retirement.moved_to(partition, rank)?;
        if left.is_empty() {
            return Ok(());
        }
        let mut scopes = self.scopes.lock().map_err(|_| poisoned())?;
        for key in left {
            if let Some(ids) = scopes.live.remove(key) {
                // The last holder: no partition reads the scope any more.
                if let Ok(ids) = Arc::try_unwrap(ids) {
                    scopes.spare.push(ids);
                }
            }
        }
        Ok(())
    }
}

/// The ids let through in one scope.
#[derive(Default)]
struct ScopeIds {
    shards: [Mutex<Shard>; SHARDS],
    len: AtomicUsize,
}

impl ScopeIds {
    /// Empties the set and keeps its memory.
    fn clear(&mut self) -> Result<()> {
        for shard in &mut self.shards {
            let shard = shard.get_mut().map_err(|_| poisoned())?;
            shard.uuids.clear();
            shard.others.clear();
            shard.text.clear();
        }
        *self.len.get_mut() = 0;
        Ok(())
    }

    fn with_capacity(ids: usize) -> Self {
        let shards = std::array::from_fn(|_| {
            Mutex::new(Shard { uuids: UuidSet::with_capacity(ids / SHARDS), ..Shard::default() })
        });
        Self { shards, len: AtomicUsize::new(0) }
    }
}

fn poisoned() -> DataFusionError {
    DataFusionError::Internal("a deduplicating scan panicked".into())
}

impl fmt::Debug for SeenIds {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("SeenIds").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Shard {
    uuids: UuidSet,
    /// Ids of any other form: (hash, start, length) of their bytes in `text`.
    others: HashTable<(u64, u32, u32)>,
    text: Vec<u8>,
}

impl Shard {
    fn allocated(&self) -> usize {
        self.uuids.allocation_size() + self.others.allocation_size() + self.text.capacity()
    }

    /// Inserts a text id, and tells whether it was not there yet.
    fn insert_text(&mut self, hash: u64, id: &str) -> Result<bool> {
        let Shard { others, text, .. } = self;
        let stored = |&(_, start, len): &(u64, u32, u32)| &text[start as usize..start as usize + len as usize];
        if others.find(hash, |k| stored(k) == id.as_bytes()).is_some() {
            return Ok(false);
        }
        let too_long = || DataFusionError::Execution(format!("{EVENT_ID}s take more than 4 GiB in one scope"));
        let start = u32::try_from(text.len()).map_err(|_| too_long())?;
        let len = u32::try_from(id.len()).map_err(|_| too_long())?;
        others.insert_unique(hash, (hash, start, len), |&(h, _, _)| h);
        text.extend_from_slice(id.as_bytes());
        Ok(true)
    }
}

/// One row's id, as the set keeps it.
#[derive(Clone, Copy)]
enum Key {
    Uuid(u128),
    Text,
    Null,
}

/// Buffers reused from batch to batch by one partition.
#[derive(Default)]
struct Scratch {
    keys: Vec<(u64, Key)>,
    by_shard: [Vec<u32>; SHARDS],
    keep: Vec<bool>,
}

struct BatchFilter {
    seen: Arc<SeenIds>,
    id_column: usize,
    scope_columns: Vec<usize>,
    output: Vec<usize>,
    partition: usize,
    first_shard: usize,
    scratch: Scratch,
    dropped: Count,
    reused: Count,
}

/// A partition that stops reading, at its end or because its reader was dropped, no longer
/// holds any scope back from retiring.
impl Drop for BatchFilter {
    fn drop(&mut self) {
        if let Err(e) = self.seen.advance(self.partition, None) {
            tracing::warn!(error = %e, "deduplicating scan: could not record the end of a partition");
        }
    }
}

impl BatchFilter {
    fn unique_rows(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        self.scratch.keep.clear();
        self.scratch.keep.resize(batch.num_rows(), true);
        // A batch comes from one file, so from one scope, unless the reader merged files.
        let scope: Vec<ArrayRef> = self.scope_columns.iter().map(|&c| Arc::clone(batch.column(c))).collect();
        let runs = if scope.is_empty() {
            vec![Range { start: 0, end: batch.num_rows() }]
        } else {
            partition(&scope)?.ranges()
        };
        let mut kept = 0;
        for run in runs {
            let key: Vec<ScalarValue> = scope
                .iter()
                .map(|c| Ok(plain_scalar(&ScalarValue::try_from_array(c, run.start)?)))
                .collect::<Result<_>>()?;
            self.seen.advance(self.partition, Some(&key))?;
            let (ids, reused) = self.seen.scope(key)?;
            if reused {
                self.reused.add(1);
            }
            let ids_column = batch.column(self.id_column).slice(run.start, run.len());
            kept += match ids_column.data_type() {
                DataType::Utf8 => self.mark(&ids, ids_column.as_string::<i32>(), run.start)?,
                DataType::LargeUtf8 => self.mark(&ids, ids_column.as_string::<i64>(), run.start)?,
                DataType::Utf8View => self.mark(&ids, ids_column.as_string_view(), run.start)?,
                other => return Err(DataFusionError::Internal(format!("{EVENT_ID} read as {other}"))),
            };
        }
        let output = batch.project(&self.output)?;
        if kept == batch.num_rows() {
            return Ok(output);
        }
        self.dropped.add(batch.num_rows() - kept);
        let mask = BooleanArray::from(std::mem::take(&mut self.scratch.keep));
        Ok(filter_record_batch(&output, &mask)?)
    }

    /// Clears `scratch.keep[offset + i]` for each row `i` of `ids` whose id the scope has seen,
    /// and returns how many rows it kept. Each shard is locked once.
    fn mark<'a>(&mut self, seen: &ScopeIds, ids: impl ArrayAccessor<Item = &'a str>, offset: usize) -> Result<usize> {
        let hasher = FixedState::with_seed(ID_HASH_SEED);
        let scratch = &mut self.scratch;
        scratch.keys.clear();
        for rows in &mut scratch.by_shard {
            rows.clear();
        }
        for row in 0..ids.len() {
            let (hash, key) = if ids.is_null(row) {
                (0, Key::Null)
            } else {
                let id = ids.value(row);
                match uuid_bits(id) {
                    Some(bits) => (hasher.hash_one(bits), Key::Uuid(bits)),
                    None => (hasher.hash_one(id), Key::Text),
                }
            };
            scratch.keys.push((hash, key));
            if !matches!(key, Key::Null) {
                scratch.by_shard[shard_of(hash)].push(row as u32);
            }
        }

        let mut kept = ids.len();
        let mut grown = 0usize;
        // Partitions start at different shards, so two reading one file do not queue in step.
        for k in 0..SHARDS {
            let at = (k + self.first_shard) % SHARDS;
            let (shard, rows) = (&seen.shards[at], &scratch.by_shard[at]);
            if rows.is_empty() {
                continue;
            }
            let mut shard = shard.lock().map_err(|_| poisoned())?;
            let before = shard.allocated();
            shard.uuids.reserve(rows.len());
            for (i, &row) in rows.iter().enumerate() {
                if let Some(&ahead) = rows.get(i + PREFETCH_DISTANCE)
                    && let (hash, Key::Uuid(_)) = scratch.keys[ahead as usize]
                {
                    shard.uuids.prefetch(hash);
                }
                let row = row as usize;
                let (hash, key) = scratch.keys[row];
                let new = match key {
                    Key::Uuid(bits) => shard.uuids.insert(hash, bits),
                    Key::Text => shard.insert_text(hash, ids.value(row))?,
                    Key::Null => true,
                };
                if !new {
                    scratch.keep[offset + row] = false;
                    kept -= 1;
                }
            }
            grown += shard.allocated().saturating_sub(before);
        }
        let added = scratch.by_shard.iter().map(Vec::len).sum::<usize>() - (ids.len() - kept);
        let len = seen.len.fetch_add(added, Ordering::Relaxed) + added;
        self.seen.largest_scope.fetch_max(len, Ordering::Relaxed);
        if grown > 0
            && let Some(reservation) = self.seen.reservation.get()
        {
            reservation.try_grow(grown)?;
        }
        Ok(kept)
    }
}

/// The shard of a hash. Its bits 40–43: the tables themselves use the low bits to find a bucket
/// and the top seven as a tag, so the shard takes neither.
fn shard_of(hash: u64) -> usize {
    ((hash >> 40) as usize) % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_hashes() {
        let hasher = FixedState::with_seed(ID_HASH_SEED);
        let mut counts = [0usize; SHARDS];
        for i in 0..16_000u128 {
            counts[shard_of(hasher.hash_one(i))] += 1;
        }
        assert!(counts.iter().all(|&c| (700..1300).contains(&c)), "{counts:?}");
    }
}
