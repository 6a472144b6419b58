//! Result formats shared by the shell, `failscope query` and the HTTP API: a human table,
//! CSV, a JSON array, newline-delimited JSON and Arrow IPC.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
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
        for row in 0..batch.num_rows() {
            table.add_row(formatters.iter().map(|f| f.value(row).to_string()));
        }
    }
    let n_rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    writeln!(out, "{table}\n{n_rows} row(s)").map_err(arrow::error::ArrowError::from)?;
    Ok(())
}
