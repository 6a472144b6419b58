//! [`BatchFilter`]: one partition's pass over its batches, marking each row's id in the scan's
//! [`SeenIds`] shard by shard (each locked once per batch) and dropping the rows seen before.

use std::hash::BuildHasher;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow::array::{Array, ArrayAccessor, ArrayRef, AsArray, BooleanArray};
use arrow::compute::{filter_record_batch, partition};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::physical_plan::metrics::Count;
use foldhash::fast::FixedState;

use super::EVENT_ID;
use super::retirement::plain_scalar;
use super::seen::{ID_HASH_SEED, SHARDS, ScopeIds, SeenIds, poisoned, shard_of};
use super::uuids::{PREFETCH_DISTANCE, uuid_bits};

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

/// The input columns a filter reads and the ones it outputs.
pub(super) struct Columns {
    pub(super) id: usize,
    pub(super) scope: Vec<usize>,
    pub(super) output: Vec<usize>,
}

/// Lets through the rows of one partition whose id the scan has not seen in their scope.
pub(super) struct BatchFilter {
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
    pub(super) fn new(seen: Arc<SeenIds>, columns: Columns, partition: usize, dropped: Count, reused: Count) -> Self {
        BatchFilter {
            seen,
            id_column: columns.id,
            scope_columns: columns.scope,
            output: columns.output,
            partition,
            first_shard: partition * SHARDS / 2 % SHARDS,
            scratch: Scratch::default(),
            dropped,
            reused,
        }
    }

    pub(super) fn unique_rows(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
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
