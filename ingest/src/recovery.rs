//! Where a partition resumes, decided by the lake, the source of truth.
//!
//! Each flush of a partition publishes one file per event hour; every file's footer names the
//! flush (`flush_start`, `flush_end`) and how many files it has. A crash between two publishes
//! leaves an incomplete flush: its files are removed and its offsets consumed again, so every
//! event ends up in the lake exactly once. Flushes of a partition are published in order, so
//! only the newest flush can be incomplete.

use std::collections::BTreeMap;

use crate::IngestError;
use crate::lake::{DataFile, Lake};

/// The outcome of recovering one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The offset after the last complete flush, `None` if the lake has none.
    pub resume_offset: Option<i64>,
    /// Files of an interrupted flush that were removed.
    pub removed: Vec<String>,
}

/// Finds the resume offset of `topic`/`partition` in `table` and removes the files of an
/// interrupted flush. Reads only the footers of the newest files.
pub fn recover_partition(lake: &Lake, table: &str, topic: &str, partition: i32) -> Result<Recovered, IngestError> {
    let mut files = lake.partition_files(table, topic, partition)?;
    files.sort_by_key(|f| std::cmp::Reverse(f.first_offset));
    // flush_start -> (flush_end, files expected, files seen)
    let mut flushes: BTreeMap<i64, (i64, u32, Vec<&DataFile>)> = BTreeMap::new();
    let mut resume_offset = None;
    for file in &files {
        let meta = lake.read_meta(&file.path)?;
        let entry = flushes.entry(meta.flush_start).or_insert((meta.flush_end, meta.flush_files, Vec::new()));
        entry.2.push(file);
        if entry.2.len() as u32 >= entry.1 {
            resume_offset = Some(entry.0);
            break;
        }
    }
    let mut removed = Vec::new();
    for file in &files {
        if resume_offset.is_none_or(|resume| file.first_offset >= resume) {
            lake.delete(&file.path)?;
            removed.push(file.path.clone());
        }
    }
    Ok(Recovered { resume_offset, removed })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::encode::{FileMeta, encode_file};

    fn publish(lake: &Lake, hour: i64, first: i64, last: i64, flush: (i64, i64, u32)) {
        let schema = Arc::new(Schema::new(vec![Field::new("t", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1]))]).expect("batch");
        let meta = FileMeta {
            topic: "t".into(),
            partition: 0,
            first_offset: first,
            last_offset: last,
            flush_start: flush.0,
            flush_end: flush.1,
            flush_files: flush.2,
            schema_version: 1,
        };
        let bytes = encode_file(&batch, "t", &meta).expect("encode");
        lake.publish(&crate::layout::file_path("tbl", hour, "t", 0, first), bytes).expect("publish");
    }

    fn lake() -> (tempfile::TempDir, Lake) {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let lake = Lake::open(dir.path().to_str().expect("utf-8"), runtime.handle().clone()).expect("open");
        (dir, lake)
    }

    #[test]
    fn an_empty_lake_has_no_resume_offset() {
        let (_dir, lake) = lake();
        assert_eq!(recover_partition(&lake, "tbl", "t", 0).expect("recover").resume_offset, None);
    }

    #[test]
    fn resumes_after_the_last_complete_flush_and_removes_an_interrupted_one() {
        let (_dir, lake) = lake();
        // Flush [0, 10): two hours, complete.
        publish(&lake, 100, 0, 9, (0, 10, 2));
        publish(&lake, 101, 3, 7, (0, 10, 2));
        // Flush [10, 25): three files announced, only one published before a crash.
        publish(&lake, 101, 12, 24, (10, 25, 3));
        let recovered = recover_partition(&lake, "tbl", "t", 0).expect("recover");
        assert_eq!(recovered.resume_offset, Some(10));
        assert_eq!(recovered.removed.len(), 1);
        assert!(recovered.removed[0].ends_with("+00000000000000000012.parquet"));
        assert_eq!(lake.partition_files("tbl", "t", 0).expect("list").len(), 2);
        assert_eq!(lake.partition_files("tbl", "t", 1).expect("list").len(), 0, "other partitions untouched");
    }

    #[test]
    fn an_interrupted_first_flush_is_removed_entirely() {
        let (_dir, lake) = lake();
        publish(&lake, 100, 0, 4, (0, 9, 2));
        let recovered = recover_partition(&lake, "tbl", "t", 0).expect("recover");
        assert_eq!(recovered.resume_offset, None);
        assert_eq!(recovered.removed.len(), 1);
    }
}
