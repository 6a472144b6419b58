//! Running the report's statements (`queries/report/*.sql`) with the period bound as typed
//! parameters, and reading their columns by name whatever Arrow type DataFusion chose.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ParamValues;
use datafusion::scalar::ScalarValue;
use failscope_schemas::Timestamp;

use crate::analyzer::Analyzer;
use crate::error::{AnalyzeError, Result};

/// A timestamp parameter, as the views' `TIMESTAMP WITH TIME ZONE` columns compare with it.
pub(crate) fn instant(t: Timestamp) -> ScalarValue {
    ScalarValue::TimestampMillisecond(Some(t.as_millis()), Some("UTC".into()))
}

pub(crate) fn text(value: &str) -> ScalarValue {
    ScalarValue::Utf8(Some(value.to_string()))
}

/// Runs one statement of `queries/report/` with `params` and returns its rows.
pub(crate) async fn run(analyzer: &Analyzer, sql: &str, params: Vec<(&str, ScalarValue)>) -> Result<Rows> {
    let df = analyzer.context().sql(sql).await?.with_param_values(ParamValues::from(params))?;
    Ok(Rows { batches: df.collect().await? })
}

/// The rows of a result, read column by column.
#[derive(Debug)]
pub(crate) struct Rows {
    batches: Vec<RecordBatch>,
}

impl Rows {
    fn column(&self, name: &str, to: &DataType) -> Result<Vec<ArrayRef>> {
        self.batches
            .iter()
            .map(|b| {
                let column = b.column_by_name(name).ok_or_else(|| missing(name))?;
                Ok(cast(column, to)?)
            })
            .collect()
    }

    pub(crate) fn strings(&self, name: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for array in self.column(name, &DataType::Utf8)? {
            let array = array.as_any().downcast_ref::<StringArray>().ok_or_else(|| missing(name))?;
            out.extend(
                (0..array.len()).map(|i| if array.is_valid(i) { array.value(i).to_string() } else { String::new() }),
            );
        }
        Ok(out)
    }

    pub(crate) fn ints(&self, name: &str) -> Result<Vec<i64>> {
        let mut out = Vec::new();
        for array in self.column(name, &DataType::Int64)? {
            let array = array.as_any().downcast_ref::<Int64Array>().ok_or_else(|| missing(name))?;
            out.extend((0..array.len()).map(|i| if array.is_valid(i) { array.value(i) } else { 0 }));
        }
        Ok(out)
    }

    pub(crate) fn floats(&self, name: &str) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        for array in self.column(name, &DataType::Float64)? {
            let array = array.as_any().downcast_ref::<Float64Array>().ok_or_else(|| missing(name))?;
            out.extend((0..array.len()).map(|i| if array.is_valid(i) { array.value(i) } else { 0.0 }));
        }
        Ok(out)
    }

    pub(crate) fn instants(&self, name: &str) -> Result<Vec<Timestamp>> {
        let mut out = Vec::new();
        let to = DataType::Timestamp(TimeUnit::Millisecond, Some(Arc::from("UTC")));
        for array in self.column(name, &to)? {
            let array = array.as_any().downcast_ref::<TimestampMillisecondArray>().ok_or_else(|| missing(name))?;
            out.extend(
                (0..array.len()).map(|i| Timestamp::from_millis(if array.is_valid(i) { array.value(i) } else { 0 })),
            );
        }
        Ok(out)
    }
}

fn missing(name: &str) -> AnalyzeError {
    AnalyzeError::Report(format!("a report query has no column {name:?}"))
}
