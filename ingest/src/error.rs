//! Errors of the ingest. Callers branch on them: a contract violation dead-letters the
//! message, a lake or Kafka error is retried, a configuration error stops start-up.

use std::path::PathBuf;

/// Something went wrong while ingesting.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("lake I/O on {path}")]
    LakeIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Location(#[from] failscope_lake_store::LakeLocationError),
    #[error("object store")]
    ObjectStore(#[from] object_store::Error),
    #[error("parquet")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("kafka")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("file {path} has no valid failscope footer metadata: {reason}")]
    BadFooter { path: String, reason: String },
    #[error("the dead-letter topic {topic} cannot be written: {reason}")]
    DeadLetter { topic: String, reason: String },
    #[error("{path} already exists in the lake with other content")]
    Conflict { path: String },
    #[error(
        "fenced: {topic}/{partition} has an owner newer than this member's generation {generation} (this member was evicted from the group)"
    )]
    Fenced { topic: String, partition: i32, generation: u64 },
}

impl IngestError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IngestError {
        let path = path.into();
        move |source| IngestError::LakeIo { path, source }
    }
}
