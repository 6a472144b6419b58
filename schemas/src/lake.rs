//! The lake's layout, shared by the ingest that writes it and the analysis that reads it.

/// The lake when `--lake` is not given: `lake` under the working directory (commands log the
/// absolute path they use).
pub const DEFAULT_LAKE: &str = "lake";
