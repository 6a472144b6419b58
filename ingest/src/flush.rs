//! One flush of a partition, sealed: the rows of `[flush_start, flush_end)` taken out of the
//! buffer, one file per event hour, kept in memory until every file is published.
//!
//! A publish can fail halfway (a full disk, an object-store error). Finishing the Arrow
//! builders empties them, so a retry must never go back to the buffer: the sealed flush holds
//! each file's rows (then its encoded bytes) until that file is published, and a retry only
//! publishes the files still missing, with the same bytes. The lake's publish is create-only
//! and treats finding the same bytes already there as success, so a retry after a publish
//! whose answer was lost is harmless.
//!
//! Before each file, the writer checks that no newer owner has claimed the partition
//! ([`crate::fence`]); if one has, the flush is abandoned with [`IngestError::Fenced`].

use std::time::Instant;

use arrow::array::RecordBatch;
use bytes::Bytes;
use failscope_schemas::CURRENT_SCHEMA_VERSION;

use crate::IngestError;
use crate::buffer::PartitionBuffer;
use crate::encode::{FileMeta, encode_file};
use crate::fence;
use crate::lake::Lake;
use crate::layout::file_path;
use crate::metrics::{Metrics, TableLabel};
use crate::pipeline::TopicPartition;

/// The rows of one flush, waiting to be published.
#[derive(Debug)]
pub(crate) struct SealedFlush {
    table: &'static str,
    /// The writer's owner generation, checked against the lake before each file.
    generation: u64,
    time_column: &'static str,
    files: Vec<SealedFile>,
    /// First offset of the flush.
    pub(crate) flush_start: i64,
    /// Offset after the flush's last message: committable once every file is published.
    pub(crate) flush_end: i64,
    pub(crate) n_rows: usize,
    /// Message bytes the flush came from; they count against the memory budget until published.
    pub(crate) n_bytes: usize,
    /// When the flush's oldest message arrived.
    pub(crate) pending_since: Option<Instant>,
}

#[derive(Debug)]
struct SealedFile {
    path: String,
    meta: FileMeta,
    n_rows: usize,
    state: FileState,
}

/// What a file of a sealed flush holds on the way to the lake. Each step replaces the one
/// before only once it succeeded, so a failure at any point keeps the rows.
#[derive(Debug)]
enum FileState {
    Rows(RecordBatch),
    Encoded(Bytes),
    Published,
}

impl SealedFlush {
    /// Takes every buffered row of `buffer` out of it (the buffer then starts the next flush)
    /// and finishes them into one batch per event hour.
    pub(crate) fn seal(
        tp: &TopicPartition,
        generation: u64,
        buffer: &mut PartitionBuffer,
    ) -> Result<SealedFlush, IngestError> {
        let mut batches = Vec::with_capacity(buffer.hours.len());
        for (hour, rows) in &mut buffer.hours {
            if rows.n_rows() > 0 {
                batches.push((*hour, rows.first_offset, rows.last_offset, rows.n_rows(), rows.finish()?));
            }
        }
        let flush_files = u32::try_from(batches.len()).expect("fewer than 2^32 hours buffered");
        let table = buffer.event_type.table();
        let flush_id = uuid::Uuid::now_v7().simple().to_string();
        let files = batches
            .into_iter()
            .map(|(hour, first_offset, last_offset, n_rows, batch)| SealedFile {
                path: file_path(table, hour, &tp.0, tp.1, first_offset),
                meta: FileMeta {
                    topic: tp.0.clone(),
                    partition: tp.1,
                    first_offset,
                    last_offset,
                    flush_start: buffer.flush_start,
                    flush_end: buffer.next_offset,
                    flush_files,
                    flush_id: Some(flush_id.clone()),
                    owner_generation: Some(generation),
                    schema_version: CURRENT_SCHEMA_VERSION,
                },
                n_rows,
                state: FileState::Rows(batch),
            })
            .collect();
        let sealed = SealedFlush {
            table,
            generation,
            time_column: buffer.event_type.time_column(),
            files,
            flush_start: buffer.flush_start,
            flush_end: buffer.next_offset,
            n_rows: buffer.n_rows,
            n_bytes: buffer.n_bytes,
            pending_since: buffer.pending_since,
        };
        buffer.reset_after_flush();
        Ok(sealed)
    }

    /// Number of files the flush publishes.
    pub(crate) fn n_files(&self) -> usize {
        self.files.len()
    }

    /// Encodes and publishes every file not yet published. On error, the files published so
    /// far stay published and the others keep their rows for the next call. Fails with
    /// [`IngestError::Fenced`], publishing nothing more, once a newer owner has claimed the
    /// partition.
    pub(crate) fn publish(&mut self, lake: &Lake, metrics: &Metrics) -> Result<(), IngestError> {
        for file in &mut self.files {
            if matches!(file.state, FileState::Published) {
                continue;
            }
            let (topic, partition) = (&file.meta.topic, file.meta.partition);
            if fence::is_superseded(lake, self.table, topic, partition, self.generation)? {
                return Err(IngestError::Fenced { topic: topic.clone(), partition, generation: self.generation });
            }
            if let FileState::Rows(batch) = &file.state {
                file.state = FileState::Encoded(encode_file(batch, self.time_column, &file.meta)?);
            }
            let FileState::Encoded(bytes) = &file.state else { continue };
            let n_bytes = bytes.len() as u64;
            lake.publish(&file.path, bytes.clone())?;
            file.state = FileState::Published;
            let label = TableLabel { table: self.table.to_string() };
            metrics.files_written.get_or_create(&label).inc();
            metrics.rows_written.get_or_create(&label).inc_by(file.n_rows as u64);
            metrics.bytes_written.get_or_create(&label).inc_by(n_bytes);
            tracing::debug!(
                table = self.table,
                topic = file.meta.topic,
                partition = file.meta.partition,
                n_rows = file.n_rows,
                n_bytes,
                path = file.path,
                "published parquet file"
            );
        }
        Ok(())
    }
}
