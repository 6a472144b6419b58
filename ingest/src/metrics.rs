//! Every metric the ingest exports, declared in one place. Labels are low-cardinality:
//! topic, table, partition, reason.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TopicLabel {
    pub(crate) topic: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TableLabel {
    pub(crate) table: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DeadLetterLabels {
    pub(crate) topic: String,
    pub(crate) reason: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct PartitionLabels {
    pub(crate) topic: String,
    pub(crate) partition: i64,
}

/// The ingest's metrics.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    pub(crate) messages_consumed: Family<TopicLabel, Counter>,
    pub(crate) rows_written: Family<TableLabel, Counter>,
    pub(crate) files_written: Family<TableLabel, Counter>,
    pub(crate) bytes_written: Family<TableLabel, Counter>,
    pub(crate) dead_letters: Family<DeadLetterLabels, Counter>,
    pub(crate) publish_seconds: Histogram,
    pub(crate) flush_errors: Counter,
    pub(crate) fenced_flushes: Counter,
    pub(crate) recovery_errors: Counter,
    pub(crate) lake_files_skipped: Counter,
    pub(crate) buffered_bytes: Gauge,
    pub(crate) consumer_lag: Family<PartitionLabels, Gauge>,
}

impl Metrics {
    /// Creates the metrics and registers them under `failscope_ingest_`.
    pub(crate) fn new(registry: &mut Registry) -> Metrics {
        let metrics = Metrics {
            messages_consumed: Family::default(),
            rows_written: Family::default(),
            files_written: Family::default(),
            bytes_written: Family::default(),
            dead_letters: Family::default(),
            publish_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            flush_errors: Counter::default(),
            fenced_flushes: Counter::default(),
            recovery_errors: Counter::default(),
            lake_files_skipped: Counter::default(),
            buffered_bytes: Gauge::default(),
            consumer_lag: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("failscope_ingest");
        r.register("messages_consumed", "Kafka messages consumed", metrics.messages_consumed.clone());
        r.register("rows_written", "Rows published to the lake", metrics.rows_written.clone());
        r.register("files_written", "Parquet files published to the lake", metrics.files_written.clone());
        r.register("bytes_written", "Parquet bytes published to the lake", metrics.bytes_written.clone());
        r.register("dead_letters", "Messages sent to a dead-letter topic, by reason", metrics.dead_letters.clone());
        r.register(
            "publish_seconds",
            "Time to encode and publish one partition flush",
            metrics.publish_seconds.clone(),
        );
        r.register("flush_errors", "Flushes that failed and will be retried", metrics.flush_errors.clone());
        r.register(
            "fenced_flushes",
            "Flushes abandoned unpublished because a newer owner claimed the partition (this member was evicted)",
            metrics.fenced_flushes.clone(),
        );
        r.register(
            "recovery_errors",
            "Partition recoveries that failed and will be retried",
            metrics.recovery_errors.clone(),
        );
        r.register(
            "lake_files_skipped",
            "Files named like data files whose footer could not be read, skipped by recovery",
            metrics.lake_files_skipped.clone(),
        );
        r.register("buffered_bytes", "Message bytes buffered and not yet published", metrics.buffered_bytes.clone());
        r.register("consumer_lag", "Messages behind the partition's high watermark", metrics.consumer_lag.clone());
        metrics
    }
}
