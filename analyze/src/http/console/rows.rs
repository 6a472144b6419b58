//! A statement of `queries/console/` run with typed parameters, its rows as JSON objects
//! (Arrow's JSON encoding: timestamps as RFC 3339 text, nulls left out).

use arrow::json::ArrayWriter;
use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;
use failscope_schemas::Timestamp;
use serde_json::Value;

use crate::Analyzer;
use crate::error::AnalyzeError;

/// The rows `sql` returns with `params` bound.
pub(super) async fn json_rows(
    analyzer: &Analyzer,
    sql: &str,
    params: Vec<(&str, ScalarValue)>,
) -> Result<Vec<Value>, AnalyzeError> {
    let df = analyzer.context().sql(sql).await?.with_param_values(ParamValues::from(params))?;
    let batches = df.collect().await?;
    let mut writer = ArrayWriter::new(Vec::new());
    for batch in &batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&bytes).map_err(|e| AnalyzeError::Report(format!("rows are not JSON: {e}")))
}

/// A timestamp parameter, as the views' `TIMESTAMP WITH TIME ZONE` columns compare with it.
pub(super) fn instant(t: Timestamp) -> ScalarValue {
    ScalarValue::TimestampMillisecond(Some(t.as_millis()), Some("UTC".into()))
}

pub(super) fn text(value: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(value.to_string()))
}
