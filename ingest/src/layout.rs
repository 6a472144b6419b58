//! Where files live in the lake. The layout (tables, `date=`/`hour=` partitions, file names,
//! each event type's time column) is owned by the contract crate, `failscope_schemas::lake`,
//! which the analysis reads it with; the ingest's modules reach it through here.

pub(crate) use failscope_schemas::lake::{file_path, hour_of, parse_file_name};
