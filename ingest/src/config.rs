//! Validated ingest settings, built once from the command line.

use std::time::Duration;

use failscope_emit::Topics;

/// When a partition's buffered rows are written out as Parquet files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushPolicy {
    /// Roll when a partition buffers this many rows.
    pub max_rows: usize,
    /// Roll when a partition buffers this many bytes of messages.
    pub max_bytes: usize,
    /// Roll when the oldest buffered row of a partition is this old, even on a quiet topic.
    pub max_age: Duration,
    /// Roll when a partition buffers rows of this many event hours: each is a builder now
    /// and a file at the flush.
    pub max_hours: usize,
    /// Memory for the whole ingest process. Buffered rows may use half of it, counted as the
    /// message bytes they came from (see [`FlushPolicy::rows_budget`]); the rest is headroom
    /// for what rows cost beyond their message bytes, for encoding and for the Kafka client.
    pub memory_budget: usize,
}

impl FlushPolicy {
    /// Message bytes all partitions may buffer; over it, the largest partitions roll first.
    ///
    /// Half the budget, from measurement (`cli/benches/ingest_drain.rs`, (d)): beyond its
    /// message bytes, a buffered row costs Arrow builder slack (they grow by doubling) and,
    /// while its file is encoded, the encoder's buffers; the Kafka client's fetch buffers and
    /// a fixed ~25 MiB come on top. With a 128 MiB budget the peak is 1.33 x the budget.
    pub fn rows_budget(&self) -> usize {
        self.memory_budget / 2
    }
}

impl Default for FlushPolicy {
    fn default() -> Self {
        FlushPolicy {
            max_rows: 1_000_000,
            max_bytes: 128 << 20,
            max_age: Duration::from_secs(60),
            max_hours: 100,
            memory_budget: 512 << 20,
        }
    }
}

/// The event times the ingest accepts, around its own clock; anything else is dead-lettered
/// as `out_of_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventWindow {
    /// How far in the past an event may be.
    pub max_age: Duration,
    /// How far in the future an event may be (workers' clocks drift).
    pub max_lead: Duration,
}

/// Everything `failscope ingest` needs, validated.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub brokers: String,
    pub group: String,
    pub topics: Topics,
    /// A local directory or an object-store URL.
    pub lake: String,
    pub flush: FlushPolicy,
    pub window: EventWindow,
    pub session_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub connect_timeout: Duration,
}

impl IngestConfig {
    /// The dead-letter topic of a source topic.
    pub fn dead_letter_topic(topic: &str) -> String {
        format!("{topic}.dlq")
    }
}
