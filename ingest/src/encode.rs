//! Encoding a batch of rows as one Parquet file: sorted by event time, zstd, dictionary
//! encoding, page-level statistics, and footer metadata recording which Kafka offsets the
//! file covers.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::compute::{SortOptions, sort_to_indices, take_record_batch};
use arrow::datatypes::TimestampMillisecondType;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

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
    /// Unique per flush: tells apart two writers' flushes of the same offsets (a member
    /// evicted mid-flush that kept publishing). `None` in files written before it existed.
    pub flush_id: Option<String>,
    /// The owner generation of the writer (see the `fence` module): of two writers' flushes from
    /// one offset, recovery keeps the newer owner's. `None` in files written before it existed.
    pub owner_generation: Option<u64>,
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
        let flush_id = self.flush_id.iter().map(|id| ("flush_id", id.clone()));
        let generation = self.owner_generation.iter().map(|g| ("owner_generation", g.to_string()));
        pairs
            .into_iter()
            .chain(flush_id)
            .chain(generation)
            .map(|(k, v)| KeyValue::new(format!("{PREFIX}{k}"), v))
            .collect()
    }

    /// Reads the metadata back from a footer's key-value pairs.
    pub(crate) fn from_key_values(kvs: &[KeyValue]) -> Result<FileMeta, String> {
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
            flush_id: map.get("flush_id").map(|id| (*id).to_string()),
            owner_generation: map
                .get("owner_generation")
                .map(|g| g.parse::<u64>().map_err(|e| format!("{PREFIX}owner_generation: {e}")))
                .transpose()?,
            schema_version: u32::try_from(num("schema_version")?).map_err(|e| e.to_string())?,
        })
    }
}

/// True when `column` is a timestamp column without nulls whose values never decrease.
fn is_ascending(column: &ArrayRef) -> bool {
    column.null_count() == 0
        && column
            .as_primitive_opt::<TimestampMillisecondType>()
            .is_some_and(|times| times.values().windows(2).all(|w| w[0] <= w[1]))
}

/// Sorts `batch` by `time_column` and encodes it as a complete Parquet file in memory.
pub fn encode_file(batch: &RecordBatch, time_column: &str, meta: &FileMeta) -> Result<Bytes, IngestError> {
    let time_index = batch.schema().index_of(time_column)?;
    // A partition mostly delivers events in time order; then the sort would only copy.
    let sorted = if is_ascending(batch.column(time_index)) {
        batch.clone()
    } else {
        let order = sort_to_indices(batch.column(time_index), Some(SortOptions::default()), None)?;
        take_record_batch(batch, &order)?
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_dictionary_enabled(true)
        // Unique per row: a dictionary would only grow until the writer gives up on it.
        .set_column_dictionary_enabled(ColumnPath::from("event_id"), false)
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

#[cfg(test)]
mod tests {
    use arrow::array::TimestampMillisecondArray;
    use failscope_schemas::arrow::ConnectAttemptsBuilder;
    use failscope_schemas::{ConnectAttempt, decode_as};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    fn batch(times: &[&str]) -> RecordBatch {
        let mut builder = ConnectAttemptsBuilder::default();
        for (i, at) in times.iter().enumerate() {
            let json = format!(
                r#"{{"event_type":"connect_attempt","schema_version":1,"event_id":"e{i}","worker_id":"w","region":"r","provider":"p","started_at":"{at}","duration_ms":1,"target_service":"api","target_host":"h","target_port":1,"outcome":"ok","attempt":1}}"#
            );
            builder.append(&decode_as::<ConnectAttempt<'_>>(json.as_bytes()).expect("valid event"));
        }
        builder.finish().expect("batch")
    }

    fn meta() -> FileMeta {
        FileMeta {
            topic: "t".into(),
            partition: 2,
            first_offset: 10,
            last_offset: 12,
            flush_start: 10,
            flush_end: 13,
            flush_files: 1,
            flush_id: Some("0190aaaabbbbccccddddeeeeffff0000".into()),
            owner_generation: Some(3),
            schema_version: 1,
        }
    }

    /// Decodes a file: its rows' event ids in order, and its footer metadata.
    fn read_back(file: Bytes) -> (Vec<String>, FileMeta) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).expect("a Parquet file");
        let kvs = reader.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
        let mut ids = Vec::new();
        for batch in reader.build().expect("reader") {
            let batch = batch.expect("batch");
            let column = batch.column_by_name("event_id").expect("event_id column");
            ids.extend(column.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_string()));
            let times: &TimestampMillisecondArray = batch.column_by_name("started_at").expect("time").as_primitive();
            assert!(times.values().windows(2).all(|w| w[0] <= w[1]), "rows sorted by event time");
        }
        (ids, FileMeta::from_key_values(&kvs).expect("footer metadata"))
    }

    #[test]
    fn rows_come_out_sorted_by_event_time_with_the_offsets_in_the_footer() {
        let shuffled = batch(&["2022-04-05T23:10:00Z", "2022-04-05T23:01:00Z", "2022-04-05T23:05:00Z"]);
        let (ids, footer) = read_back(encode_file(&shuffled, "started_at", &meta()).expect("encodes"));
        assert_eq!(ids, ["e1", "e2", "e0"]);
        assert_eq!(footer, meta());

        let in_order = batch(&["2022-04-05T23:01:00Z", "2022-04-05T23:01:00Z", "2022-04-05T23:05:00Z"]);
        let (ids, _) = read_back(encode_file(&in_order, "started_at", &meta()).expect("encodes"));
        assert_eq!(ids, ["e0", "e1", "e2"]);
    }
}
