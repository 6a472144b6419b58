//! Result formats shared by the shell, `failscope query` and the HTTP API: a human table,
//! CSV, a JSON array, newline-delimited JSON and Arrow IPC.

use std::io::Write;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};

use crate::error::Result;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table for people.
    Table,
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Arrow IPC stream, for programs.
    Arrow,
}

impl Format {
    /// The HTTP content type of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Table => "text/plain; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Arrow => "application/vnd.apache.arrow.stream",
        }
    }
}

/// Writes `batches` (all of `schema`) to `out` in `format`.
pub fn write_batches<W: Write>(format: Format, schema: &SchemaRef, batches: &[RecordBatch], out: W) -> Result<()> {
    match format {
        Format::Table => write_table(schema, batches, out),
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(out);
            for batch in batches {
                writer.write(batch)?;
            }
            Ok(())
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(out);
            for batch in batches {
                writer.write(batch)?;
            }
            // An empty result is `[]`, not an empty body.
            if batches.iter().all(|b| b.num_rows() == 0) {
                let mut out = writer.into_inner();
                out.write_all(b"[]").map_err(arrow::error::ArrowError::from)?;
                return Ok(());
            }
            writer.finish()?;
            Ok(())
        }
        Format::Ndjson => {
            let mut writer = arrow::json::LineDelimitedWriter::new(out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            Ok(())
        }
        Format::Arrow => {
            let mut writer = arrow::ipc::writer::StreamWriter::try_new(out, schema)?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            Ok(())
        }
    }
}

fn write_table<W: Write>(schema: &SchemaRef, batches: &[RecordBatch], mut out: W) -> Result<()> {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(schema.fields().iter().map(|f| f.name().as_str()));
    let options = FormatOptions::default().with_null("NULL");
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let floats: Vec<Option<Float64Array>> = batch.columns().iter().map(as_float64).collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().zip(&floats).map(|(f, float)| match float {
                Some(values) if values.is_valid(row) => for_people(values.value(row)),
                _ => f.value(row).to_string(),
            }));
        }
    }
    let n_rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    writeln!(out, "{table}\n{n_rows} row(s)").map_err(arrow::error::ArrowError::from)?;
    Ok(())
}

/// A floating-point column as `f64`, or `None` for any other type.
fn as_float64(column: &ArrayRef) -> Result<Option<Float64Array>> {
    if !matches!(column.data_type(), DataType::Float16 | DataType::Float32 | DataType::Float64) {
        return Ok(None);
    }
    let cast = arrow::compute::cast(column, &DataType::Float64)?;
    Ok(Some(cast.as_primitive::<Float64Type>().clone()))
}

/// A float for a person to read: at most four significant digits (`0.02459`, not
/// `0.02459016393442623`), the integer part never rounded (`30000`, `1235`).
fn for_people(value: f64) -> String {
    if !value.is_finite() || value == 0.0 {
        return value.to_string();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = usize::try_from((3 - magnitude).max(0)).expect("non-negative");
    let text = format!("{value:.decimals$}");
    if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_string() } else { text }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn floats_for_people_keep_four_significant_digits() {
        let cases = [
            (0.02459016393442623, "0.02459"),
            (0.6666666666666666, "0.6667"),
            (0.5, "0.5"),
            (0.0, "0"),
            (1.0, "1"),
            (12.3456, "12.35"),
            (1234.5678, "1235"),
            (30000.0, "30000"),
            (-0.000123456, "-0.0001235"),
            (f64::NAN, "NaN"),
        ];
        for (value, want) in cases {
            assert_eq!(for_people(value), want, "{value}");
        }
    }

    #[test]
    fn only_the_table_rounds_floats() {
        let schema = Arc::new(Schema::new(vec![Field::new("infra_rate", DataType::Float64, true)]));
        let column: ArrayRef = Arc::new(Float64Array::from(vec![Some(0.02459016393442623), None]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column]).expect("valid batch");
        let render = |format| {
            let mut out = Vec::new();
            write_batches(format, &schema, std::slice::from_ref(&batch), &mut out).expect("encodes");
            String::from_utf8(out).expect("utf-8")
        };
        let table = render(Format::Table);
        assert!(table.contains(" 0.02459 ") && table.contains("NULL") && !table.contains("0.024590"), "{table}");
        assert!(render(Format::Csv).contains("0.02459016393442623"));
        assert!(render(Format::Json).contains("0.02459016393442623"));
    }
}
