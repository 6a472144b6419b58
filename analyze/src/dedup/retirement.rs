//! When a directory's id set can be emptied and reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use super::seen::poisoned;

/// When a scope's set can be emptied for reuse: once every partition of the scan has moved on
/// to a later scope or ended.
///
/// That needs the order in which the partitions read files. The scan's files are known from the
/// plan: partitions either take files from one shared queue (the file groups one after the
/// other, as the file source orders them) or each read their own group in order. The scopes
/// get ranks in the queue's order; this is only used when each scope's files are contiguous in
/// the queue and every group reads its files in rank order, so that in either mode a partition
/// meets scopes in rising rank. Then once all partitions are past a rank, no file of that scope
/// is left to read. A partition that meets a lower rank than before fails the query rather than
/// risk letting a copy through.
pub(super) struct Retirement {
    ranks: HashMap<Vec<ScalarValue>, usize>,
    by_rank: Vec<Vec<ScalarValue>>,
    progress: Mutex<Progress>,
}

struct Progress {
    /// The rank each partition is reading (0 before its first row, `usize::MAX` once done).
    at: Vec<usize>,
    /// Scopes of lower rank have been retired.
    retired_below: usize,
}

impl Retirement {
    /// The ranks of the scopes of a Parquet scan whose scope columns `names` are all partition
    /// columns, or `None` if that scan's plan does not fix the order described above.
    pub(super) fn for_scan(input: &Arc<dyn ExecutionPlan>, names: &[&str]) -> Option<Self> {
        let source = input.downcast_ref::<DataSourceExec>()?;
        let config = source.data_source().downcast_ref::<FileScanConfig>()?;
        let partition_columns = config.table_partition_cols();
        let columns: Vec<usize> =
            names.iter().map(|name| partition_columns.iter().position(|f| f.name() == name)).collect::<Option<_>>()?;
        let key = |file: &PartitionedFile| -> Option<Vec<ScalarValue>> {
            columns.iter().map(|&c| file.partition_values.get(c).map(plain_scalar)).collect()
        };
        let queue =
            config.file_source().reorder_files(config.file_groups.iter().flat_map(FileGroup::iter).cloned().collect());
        let mut ranks = HashMap::new();
        let mut by_rank: Vec<Vec<ScalarValue>> = Vec::new();
        for file in &queue {
            let key = key(file)?;
            if by_rank.last() == Some(&key) {
                continue;
            }
            if ranks.contains_key(&key) {
                return None;
            }
            ranks.insert(key.clone(), by_rank.len());
            by_rank.push(key);
        }
        for group in &config.file_groups {
            let mut last = 0;
            for file in group.iter() {
                let rank = *ranks.get(&key(file)?)?;
                if rank < last {
                    return None;
                }
                last = rank;
            }
        }
        let partitions = input.output_partitioning().partition_count();
        Some(Self { ranks, by_rank, progress: Mutex::new(Progress { at: vec![0; partitions], retired_below: 0 }) })
    }

    /// The rank of a scope; `None` for a scope the plan did not list, which never retires.
    pub(super) fn rank(&self, key: &[ScalarValue]) -> Option<usize> {
        self.ranks.get(key).copied()
    }

    /// Records that `partition` reads the scope of `rank` from now on (`usize::MAX`: it has
    /// read all its input), and returns the scopes that every partition has now left.
    pub(super) fn moved_to(&self, partition: usize, rank: usize) -> Result<&[Vec<ScalarValue>]> {
        let mut progress = self.progress.lock().map_err(|_| poisoned())?;
        let Some(at) = progress.at.get_mut(partition) else {
            return Ok(&[]);
        };
        if rank < *at {
            // The sets below `at` may be gone already: a copy in this scope could pass.
            return Err(DataFusionError::Internal(format!(
                "deduplicating scan: partition {partition} went back to an earlier directory; the files were not read in the planned order"
            )));
        }
        *at = rank;
        let lowest = progress.at.iter().copied().min().unwrap_or(usize::MAX).min(self.by_rank.len());
        let left = progress.retired_below..lowest.max(progress.retired_below);
        progress.retired_below = left.end;
        Ok(&self.by_rank[left])
    }
}

/// A scope value as a batch holds it: a dictionary-encoded column yields the dictionary's value.
pub(super) fn plain_scalar(value: &ScalarValue) -> ScalarValue {
    match value {
        ScalarValue::Dictionary(_, inner) => plain_scalar(inner),
        other => other.clone(),
    }
}
