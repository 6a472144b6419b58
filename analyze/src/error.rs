//! The errors of the analysis library, split by what a caller does about them.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Everything that can go wrong between the lake, the knowledge base and a query.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The signature knowledge base could not be read or is invalid; fix the file.
    #[error("invalid signature knowledge base {path}: {reason}")]
    Signatures { path: PathBuf, reason: String },

    /// A file of `queries/` could not be read or lacks its header.
    #[error("invalid query file {path}: {reason}")]
    QueryFile { path: PathBuf, reason: String },

    /// `failscope query NAME` named a query that does not exist.
    #[error("no query named {0:?} (see `failscope query --list`)")]
    UnknownQuery(String),

    /// The statement is not a single read-only query.
    #[error(transparent)]
    Forbidden(#[from] crate::guard::Forbidden),

    /// The lake directory is missing or unreadable.
    #[error("cannot read lake at {path}")]
    Lake {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The object store holding the lake cannot be listed (endpoint, bucket, credentials).
    #[error("cannot read the lake at {lake}")]
    LakeStore {
        lake: String,
        #[source]
        source: object_store::Error,
    },

    /// Planning or execution failed inside DataFusion (bad SQL, missing column, resources).
    #[error("query failed")]
    Query(#[from] DataFusionError),

    /// The region-health detector met data it cannot use.
    #[error("region health: {0}")]
    Health(String),

    /// A report's statement answered something the report cannot read.
    #[error("report: {0}")]
    Report(String),

    /// Results could not be encoded in the requested format.
    #[error("cannot encode results")]
    Encode(#[from] arrow::error::ArrowError),
}

pub(crate) type Result<T, E = AnalyzeError> = std::result::Result<T, E>;
