//! Named queries: the `*.sql` files at the top of `queries/`, each answering one question,
//! with a header naming it and its parameters, and their typed parameter values.

use std::path::{Path, PathBuf};

use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;
use failscope_schemas::Timestamp;
use serde::Serialize;

use crate::error::{AnalyzeError, Result};
use crate::query_set::QuerySet;

/// The parameters a named query may use, always bound (never pasted into the SQL).
pub(crate) const PARAMETERS: [&str; 3] = ["since", "until", "region"];

/// One named query file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NamedQuery {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) params: Vec<String>,
    pub(crate) sql: String,
}

/// The values for `$since`, `$until` (timestamps, half-open window) and `$region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParams {
    pub since: Timestamp,
    pub until: Timestamp,
    /// `None` means every region.
    pub region: Option<String>,
}

impl QueryParams {
    /// Typed literals for the placeholders: timestamps in UTC milliseconds like the lake's
    /// columns, the region as a (possibly NULL) string.
    pub(crate) fn to_param_values(&self) -> ParamValues {
        let ts = |t: Timestamp| ScalarValue::TimestampMillisecond(Some(t.as_millis()), Some("UTC".into()));
        ParamValues::from(vec![
            ("since", ts(self.since)),
            ("until", ts(self.until)),
            ("region", ScalarValue::Utf8(self.region.clone())),
        ])
    }
}

impl NamedQuery {
    /// Reads the header (`-- name:`, `-- description:`, `-- params:`) of a query file.
    pub(crate) fn parse(path: &Path, sql: &str) -> Result<Self> {
        let invalid = |reason: &str| AnalyzeError::QueryFile { path: path.to_path_buf(), reason: reason.to_string() };
        let (mut name, mut description, mut params) = (None, None, Vec::new());
        for line in sql.lines().map_while(|l| l.trim().strip_prefix("--")) {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim().to_string();
            match key.trim() {
                "name" => name = Some(value),
                "description" => description = Some(value),
                "params" => params = value.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
                _ => {}
            }
        }
        if let Some(unknown) = params.iter().find(|p| !PARAMETERS.contains(&p.as_str())) {
            return Err(invalid(&format!("unknown parameter {unknown:?}; known: {}", PARAMETERS.join(", "))));
        }
        Ok(NamedQuery {
            name: name.ok_or_else(|| invalid("missing `-- name:` header"))?,
            description: description.ok_or_else(|| invalid("missing `-- description:` header"))?,
            params,
            sql: sql.to_string(),
        })
    }

    /// All named queries of a query set, sorted by name.
    pub(crate) fn load_all(set: &QuerySet) -> Result<Vec<NamedQuery>> {
        let mut queries =
            set.named_queries().map(|(path, sql)| NamedQuery::parse(path, sql)).collect::<Result<Vec<_>>>()?;
        queries.sort_by(|a, b| a.name.cmp(&b.name));
        if let Some(w) = queries.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(AnalyzeError::QueryFile {
                path: PathBuf::from("queries"),
                reason: format!("two queries named {:?}", w[0].name),
            });
        }
        Ok(queries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_headers_and_rejects_incomplete_ones() {
        let path = Path::new("q.sql");
        let q = NamedQuery::parse(path, "-- name: a\n-- description: b c\n-- params: since, region\nSELECT 1")
            .expect("valid header");
        assert_eq!((q.name.as_str(), q.description.as_str()), ("a", "b c"));
        assert_eq!(q.params, ["since", "region"]);
        assert!(NamedQuery::parse(path, "-- description: b\nSELECT 1").is_err());
        assert!(NamedQuery::parse(path, "-- name: a\n-- description: b\n-- params: x\nSELECT 1").is_err());
    }

    #[test]
    fn the_shipped_queries_load() {
        let queries = NamedQuery::load_all(&QuerySet::builtin()).expect("queries/ loads");
        assert!(queries.iter().any(|q| q.name == "failures-by-region-hour"), "{queries:?}");
    }
}
