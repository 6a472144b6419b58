//! DataFusion over the failscope lake: the catalog, failure classification, views by region
//! and time, engineers' SQL and the HTTP API.
//!
//! Every SQL statement the product runs lives in `queries/` (views in `queries/views/`, named
//! queries at its top, the signature knowledge base in `queries/signatures.toml`); this crate
//! builds them in (`query_set`), registers and runs them, and holds no SQL of its own.

mod analyzer;
mod catalog;
mod charts;
pub mod cli;
mod dedup;
mod error;
mod guard;
pub mod health;
pub mod http;
mod named_query;
pub mod output;
pub mod pg;
mod provided;
mod query_set;
pub mod report;
mod scan_window;
mod session_mark;
mod signatures;
mod task;

pub use analyzer::{Analyzer, QueryResult};
pub use catalog::CatalogConfig;
pub use error::AnalyzeError;
pub use named_query::QueryParams;
pub use query_set::LONG_VERSION;
