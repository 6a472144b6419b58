//! Encoding a batch of rows as one Parquet file: sorted by event time, zstd, dictionary
//! encoding, page-level statistics, and footer metadata recording which Kafka offsets the
//! file covers.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::{SortOptions, sort_to_indices, take_record_batch};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::IngestError;

/// What a published file's footer says about its origin. All files published by one flush of
/// a partition share `flush_start`, `flush_end` and `flush_files`, which is how recovery tells
/// a complete flush from one interrupted halfway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub topic: String,
    pub partition: i32,
    /// Smallest Kafka offset of a row in this file.
    pub first_offset: i64,
    /// Largest Kafka offset of a row in this file.
    pub last_offset: i64,
    /// First offset of the flush this file belongs to.
    pub flush_start: i64,
    /// Offset after the last message of the flush: where the partition resumes.
    pub flush_end: i64,
    /// Number of files the flush published.
    pub flush_files: u32,
    pub schema_version: u32,
}

const PREFIX: &str = "failscope.";

impl FileMeta {
    fn to_key_values(&self) -> Vec<KeyValue> {
        let pairs = [
            ("topic", self.topic.clone()),
            ("partition", self.partition.to_string()),
            ("first_offset", self.first_offset.to_string()),
            ("last_offset", self.last_offset.to_string()),
            ("flush_start", self.flush_start.to_string()),
            ("flush_end", self.flush_end.to_string()),
            ("flush_files", self.flush_files.to_string()),
            ("schema_version", self.schema_version.to_string()),
        ];
        pairs.into_iter().map(|(k, v)| KeyValue::new(format!("{PREFIX}{k}"), v)).collect()
    }

    /// Reads the metadata back from a footer's key-value pairs.
    pub fn from_key_values(kvs: &[KeyValue]) -> Result<FileMeta, String> {
        let map: HashMap<&str, &str> =
            kvs.iter().filter_map(|kv| Some((kv.key.strip_prefix(PREFIX)?, kv.value.as_deref()?))).collect();
        let get = |k: &str| map.get(k).copied().ok_or_else(|| format!("missing {PREFIX}{k}"));
        let num = |k: &str| get(k)?.parse::<i64>().map_err(|e| format!("{PREFIX}{k}: {e}"));
        Ok(FileMeta {
            topic: get("topic")?.to_string(),
            partition: i32::try_from(num("partition")?).map_err(|e| e.to_string())?,
            first_offset: num("first_offset")?,
            last_offset: num("last_offset")?,
            flush_start: num("flush_start")?,
            flush_end: num("flush_end")?,
            flush_files: u32::try_from(num("flush_files")?).map_err(|e| e.to_string())?,
            schema_version: u32::try_from(num("schema_version")?).map_err(|e| e.to_string())?,
        })
    }
}

/// Sorts `batch` by `time_column` and encodes it as a complete Parquet file in memory.
pub fn encode_file(batch: &RecordBatch, time_column: &str, meta: &FileMeta) -> Result<Bytes, IngestError> {
    let time_index = batch.schema().index_of(time_column)?;
    let order = sort_to_indices(batch.column(time_index), Some(SortOptions::default()), None)?;
    let sorted = take_record_batch(batch, &order)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: i32::try_from(time_index).expect("a schema has fewer than 2^31 columns"),
            descending: false,
            nulls_first: false,
        }]))
        .set_key_value_metadata(Some(meta.to_key_values()))
        .set_created_by(format!("failscope {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 4);
    let mut writer = ArrowWriter::try_new(&mut out, Arc::clone(batch.schema_ref()), Some(props))?;
    writer.write(&sorted)?;
    writer.close()?;
    Ok(Bytes::from(out))
}
