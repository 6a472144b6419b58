//! Where a partition resumes, decided by the lake, the source of truth.
//!
//! Each flush of a partition publishes one file per event hour; every file's footer names the
//! flush (`flush_start`, `flush_end`) and how many files it has. A crash between two publishes
//! leaves an incomplete flush: its files are removed and its offsets consumed again, so every
//! event ends up in the lake exactly once. Flushes of a partition are published in order, so
//! only the newest flush can be incomplete.
//!
//! Two writers can both have published a flush from the same offset: a member evicted while
//! publishing and the partition's next owner. Each footer names its writer's owner generation
//! ([`crate::fence`]), and the newer owner's flush is kept; files without a generation (written
//! before generations existed) count as the oldest.
//!
//! A file named like a data file whose footer cannot be read (a foreign or corrupt
//! `.parquet`) is reported and left alone: it never blocks a partition. A lake that cannot be
//! listed or read (an I/O or object-store error) fails the recovery, which the consume loop
//! retries with a back-off; the partition is not consumed meanwhile.

use std::collections::BTreeMap;

use crate::IngestError;
use crate::lake::{DataFile, Lake};

/// The outcome of recovering one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovered {
    /// The offset after the last complete flush, `None` if the lake has none.
    pub(crate) resume_offset: Option<i64>,
    /// Files of an interrupted flush that were removed.
    pub(crate) removed: Vec<String>,
    /// Files named like this partition's data files whose footer could not be read, and why.
    pub(crate) skipped: Vec<(String, String)>,
}

/// A flush as its files' footers name it: `flush_start` and `flush_id`.
type FlushKey = (i64, Option<String>);

/// What the scan learns of one flush from its files' footers.
#[derive(Debug)]
struct SeenFlush<'a> {
    flush_end: i64,
    n_files: u32,
    owner_generation: Option<u64>,
    files: Vec<&'a DataFile>,
}

impl SeenFlush<'_> {
    fn is_complete(&self) -> bool {
        self.files.len() as u32 >= self.n_files
    }
}

/// Finds the resume offset of `topic`/`partition` in `table` and removes the files of an
/// interrupted flush. Reads only the footers of the newest files.
pub(crate) fn recover_partition(
    lake: &Lake,
    table: &str,
    topic: &str,
    partition: i32,
) -> Result<Recovered, IngestError> {
    let mut files = lake.partition_files(table, topic, partition)?;
    files.sort_by_key(|f| std::cmp::Reverse(f.first_offset));
    // The id keeps apart two writers' flushes of the same offsets, which could otherwise add
    // up to one.
    let mut flushes: BTreeMap<FlushKey, SeenFlush<'_>> = BTreeMap::new();
    let mut complete: Option<FlushKey> = None;
    let mut skipped = Vec::new();
    for file in &files {
        // Past the newest complete flush, only files that overlap its offsets matter: another
        // writer's files of the same range.
        if complete.as_ref().is_some_and(|(start, _)| file.first_offset < *start) {
            break;
        }
        let meta = match lake.read_meta(&file.path) {
            Ok(meta) => meta,
            Err(e @ (IngestError::BadFooter { .. } | IngestError::Parquet(_))) => {
                skipped.push((file.path.clone(), format!("{e:#}")));
                continue;
            }
            Err(e) => return Err(e),
        };
        let key = (meta.flush_start, meta.flush_id);
        let entry = flushes.entry(key.clone()).or_insert(SeenFlush {
            flush_end: meta.flush_end,
            n_files: meta.flush_files,
            owner_generation: meta.owner_generation,
            files: Vec::new(),
        });
        entry.files.push(file);
        if complete.is_none() && entry.is_complete() {
            complete = Some(key);
        }
    }
    // Two writers may both have completed a flush from the same offset: the newer owner's is
    // kept (the older one was evicted and its offsets handed over); of one owner's, or of
    // files without a generation, the one that reaches further, since its owner may have
    // committed that far.
    let complete = complete.and_then(|(start, _)| {
        flushes
            .iter()
            .filter(|((s, _), seen)| *s == start && seen.is_complete())
            .max_by_key(|(_, seen)| (seen.owner_generation, seen.flush_end))
            .map(|(key, _)| key.clone())
    });
    let resume_offset = complete.as_ref().map(|key| flushes[key].flush_end);
    // Everything at or past the resume offset, and every file read that is not part of the
    // complete flush (an interrupted flush, or a zombie writer's overlapping one), goes.
    let kept: Vec<&str> =
        complete.as_ref().map(|key| flushes[key].files.iter().map(|f| f.path.as_str()).collect()).unwrap_or_default();
    let read: Vec<&str> = flushes.values().flat_map(|seen| seen.files.iter().map(|f| f.path.as_str())).collect();
    let mut removed = Vec::new();
    for file in &files {
        let unreadable = skipped.iter().any(|(path, _)| *path == file.path);
        let stray = read.contains(&file.path.as_str()) && !kept.contains(&file.path.as_str());
        if !unreadable && (stray || resume_offset.is_none_or(|resume| file.first_offset >= resume)) {
            lake.delete(&file.path)?;
            removed.push(file.path.clone());
        }
    }
    Ok(Recovered { resume_offset, removed, skipped })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::encode::{FileMeta, encode_file};

    fn publish(lake: &Lake, hour: i64, first: i64, last: i64, flush: (i64, i64, u32)) {
        publish_by(lake, ('a', 1), hour, first, last, flush);
    }

    /// Publishes a file of a flush by `writer`, of an owner generation (each writer's flushes
    /// have their own id).
    fn publish_by(lake: &Lake, writer: (char, u64), hour: i64, first: i64, last: i64, flush: (i64, i64, u32)) {
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
            flush_id: Some(format!("writer-{}", writer.0)),
            owner_generation: Some(writer.1),
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

    #[test]
    fn a_foreign_or_corrupt_parquet_file_is_reported_and_skipped() {
        let (dir, lake) = lake();
        publish(&lake, 100, 0, 9, (0, 10, 1));
        let hour_dir = dir.path().join("tbl/date=1970-01-05/hour=04");
        // Named like our next file, but not Parquet at all.
        std::fs::write(hour_dir.join("t+0+00000000000000000010.parquet"), b"not parquet").expect("write");
        // A real Parquet file without failscope's footer metadata, under one of our names.
        let schema = Arc::new(Schema::new(vec![Field::new("t", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int32Array::from(vec![1]))]).expect("batch");
        let mut foreign = Vec::new();
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut foreign, schema, None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
        std::fs::write(hour_dir.join("t+0+00000000000000000020.parquet"), foreign).expect("write");
        std::fs::write(hour_dir.join("notes.parquet"), b"someone else's").expect("write");

        let recovered = recover_partition(&lake, "tbl", "t", 0).expect("recovery is not blocked");
        assert_eq!(recovered.resume_offset, Some(10));
        assert!(recovered.removed.is_empty(), "unreadable files are left alone: {:?}", recovered.removed);
        let mut skipped: Vec<&str> = recovered.skipped.iter().map(|(p, _)| p.rsplit('/').next().unwrap_or(p)).collect();
        skipped.sort();
        assert_eq!(skipped, ["t+0+00000000000000000010.parquet", "t+0+00000000000000000020.parquet"]);
        assert!(recovered.skipped[0].1.contains("parquet") || recovered.skipped[0].1.contains("footer"));
    }

    #[test]
    fn two_writers_files_of_the_same_offsets_never_make_one_flush() {
        let (_dir, lake) = lake();
        publish(&lake, 100, 0, 9, (0, 10, 1));
        // A member evicted mid-flush published one of its two files of [10, 25); the new owner
        // published one of its two files of [10, 30) before it crashed too.
        publish_by(&lake, ('z', 1), 101, 12, 24, (10, 25, 2));
        publish_by(&lake, ('b', 2), 102, 10, 29, (10, 30, 2));
        let recovered = recover_partition(&lake, "tbl", "t", 0).expect("recover");
        assert_eq!(recovered.resume_offset, Some(10), "two halves of different flushes are not a flush");
        assert_eq!(recovered.removed.len(), 2);
    }

    #[test]
    fn a_zombie_writers_complete_flush_beside_the_owners_is_removed() {
        let (_dir, lake) = lake();
        publish(&lake, 100, 0, 9, (0, 10, 1));
        // The zombie completed [10, 25) in one file; the owner completed [10, 30) in two.
        publish_by(&lake, ('z', 1), 101, 11, 24, (10, 25, 1));
        publish_by(&lake, ('b', 2), 101, 10, 29, (10, 30, 2));
        publish_by(&lake, ('b', 2), 102, 12, 28, (10, 30, 2));
        let recovered = recover_partition(&lake, "tbl", "t", 0).expect("recover");
        assert_eq!(recovered.resume_offset, Some(30), "the flush that reaches further is kept");
        assert_eq!(recovered.removed.len(), 1);
        assert!(recovered.removed[0].ends_with("+00000000000000000011.parquet"), "{:?}", recovered.removed);
    }

    #[test]
    fn of_two_complete_flushes_from_one_offset_the_newer_owners_is_kept() {
        let (_dir, lake) = lake();
        publish(&lake, 100, 0, 9, (0, 10, 1));
        // The evicted owner (generation 1) reached further than the new owner (generation 2),
        // whose flush from the same offset is the one its commits follow.
        publish_by(&lake, ('z', 1), 101, 11, 39, (10, 40, 1));
        publish_by(&lake, ('b', 2), 101, 10, 29, (10, 30, 2));
        publish_by(&lake, ('b', 2), 102, 12, 28, (10, 30, 2));
        let recovered = recover_partition(&lake, "tbl", "t", 0).expect("recover");
        assert_eq!(recovered.resume_offset, Some(30), "the newer owner's flush is kept");
        assert_eq!(recovered.removed.len(), 1);
        assert!(recovered.removed[0].ends_with("+00000000000000000011.parquet"), "{:?}", recovered.removed);
    }
}
