//! Results as HTTP bodies, within bounded memory. JSON, the envelope with `columns`,
//! `row_count` and `truncated`, is built whole: its rows are encoded batch by batch as they
//! come, up to the row cap, and a body that would pass `--max-result-bytes` is refused
//! (422, `result_too_large`) as soon as it does, never cut. CSV, NDJSON and Arrow IPC are
//! streamed: each batch is encoded when the client is ready for it, so the server holds one
//! batch whatever the result's size, and neither cap applies. A streamed body is complete,
//! or ends in an error that the client sees as an incomplete transfer (the statement
//! timeout, a failure mid-query), never silently short.

use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use axum::body::Body;
use axum::http::HeaderValue;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::ApiError;
use crate::output::Format;

/// Header saying whether the row cap cut the result.
pub(super) const TRUNCATED_HEADER: &str = "x-failscope-truncated";

/// A JSON response, built under the row cap and the byte cap.
#[derive(Debug)]
pub(super) struct JsonResult {
    body: Vec<u8>,
    truncated: bool,
}

/// Reads at most `row_cap` rows of `stream` (which yields at most one more, to tell whether
/// the cap cut it) into a JSON envelope, refusing once its rows pass `max_bytes`.
pub(super) async fn collect_json(
    mut stream: SendableRecordBatchStream,
    row_cap: usize,
    max_bytes: usize,
) -> Result<JsonResult, ApiError> {
    let schema = stream.schema();
    let mut rows = arrow::json::ArrayWriter::new(Vec::new());
    let (mut n_rows, mut truncated) = (0usize, false);
    while let Some(batch) = stream.try_next().await.map_err(crate::AnalyzeError::from)? {
        let keep = batch.num_rows().min(row_cap - n_rows);
        truncated = keep < batch.num_rows();
        if keep > 0 {
            rows.write(&batch.slice(0, keep)).map_err(crate::AnalyzeError::from)?;
            n_rows += keep;
        }
        if rows.get_ref().len() > max_bytes {
            return Err(ApiError::ResultTooLarge { max_bytes });
        }
        if truncated {
            break;
        }
    }
    let rows = if n_rows == 0 {
        b"[]".to_vec()
    } else {
        rows.finish().map_err(crate::AnalyzeError::from)?;
        rows.into_inner()
    };
    let columns: Vec<_> =
        schema.fields().iter().map(|f| json!({ "name": f.name(), "type": f.data_type().to_string() })).collect();
    let head = json!({ "columns": columns, "row_count": n_rows, "truncated": truncated }).to_string();
    let mut body = Vec::with_capacity(head.len() + rows.len() + 10);
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(b",\"rows\":");
    body.extend_from_slice(&rows);
    body.push(b'}');
    if body.len() > max_bytes {
        return Err(ApiError::ResultTooLarge { max_bytes });
    }
    Ok(JsonResult { body, truncated })
}

impl IntoResponse for JsonResult {
    fn into_response(self) -> Response {
        let mut response = Body::from(self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(Format::Json.content_type()));
        headers.insert(TRUNCATED_HEADER, HeaderValue::from_static(if self.truncated { "true" } else { "false" }));
        response
    }
}

/// A response that streams `stream` (of `schema`) in `format` (CSV, NDJSON or Arrow IPC), holding the
/// statement's slot until the body ends and cancelling the statement (an error in the body)
/// once `deadline` passes. A client that hangs up drops the body, and with it the query.
pub(super) fn streamed(
    format: Format,
    schema: &SchemaRef,
    stream: SendableRecordBatchStream,
    permit: OwnedSemaphorePermit,
    deadline: Instant,
    timeout: Duration,
) -> Result<Response, ApiError> {
    let encoder = Encoder::new(format, schema)?;
    let state = Streaming { stream, encoder: Some(encoder), _permit: permit, deadline, timeout };
    let chunks = futures::stream::unfold(state, |mut state| async move {
        let chunk = state.next_chunk().await.transpose()?;
        Some((chunk, state))
    });
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(TRUNCATED_HEADER, HeaderValue::from_static("false"));
    Ok(response)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Streaming {
    stream: SendableRecordBatchStream,
    /// `None` once the end of the body is written.
    encoder: Option<Encoder>,
    _permit: OwnedSemaphorePermit,
    deadline: Instant,
    timeout: Duration,
}

impl Streaming {
    /// The next piece of the body: a batch, or the format's end; `None` after that, or after
    /// an error.
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, BoxError> {
        let Some(encoder) = &mut self.encoder else { return Ok(None) };
        // Empty batches are skipped, as `failscope query` skips them: the bytes are the same.
        let next = loop {
            match tokio::time::timeout_at(self.deadline, self.stream.next()).await {
                Ok(Some(Ok(batch))) if batch.num_rows() == 0 => continue,
                next => break next,
            }
        };
        let (chunk, more) = match next {
            Err(_) => {
                tracing::warn!(timeout = ?self.timeout, "streamed statement cancelled at its timeout");
                (Err(format!("statement cancelled after the {:?} timeout", self.timeout).into()), false)
            }
            Ok(Some(Ok(batch))) => (encoder.batch(&batch).map_err(BoxError::from), true),
            Ok(Some(Err(e))) => {
                tracing::warn!(error = %e, "streamed statement failed");
                (Err(BoxError::from(e)), false)
            }
            Ok(None) => (encoder.end().map_err(BoxError::from), false),
        };
        if !more || chunk.is_err() {
            self.encoder = None;
        }
        chunk.map(Some)
    }
}

/// Encodes batches one at a time into the pieces of a streamed body.
enum Encoder {
    Csv { header: bool },
    Ndjson,
    Arrow(Box<arrow::ipc::writer::StreamWriter<Vec<u8>>>),
}

impl Encoder {
    fn new(format: Format, schema: &SchemaRef) -> Result<Encoder, ApiError> {
        Ok(match format {
            Format::Csv => Encoder::Csv { header: true },
            Format::Ndjson => Encoder::Ndjson,
            Format::Arrow => Encoder::Arrow(Box::new(
                arrow::ipc::writer::StreamWriter::try_new(Vec::new(), schema).map_err(crate::AnalyzeError::from)?,
            )),
            Format::Json | Format::Table => {
                return Err(ApiError::Internal(format!("{format:?} is not a streamed format").into()));
            }
        })
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, arrow::error::ArrowError> {
        match self {
            Encoder::Csv { header } => {
                let mut out = Vec::new();
                arrow::csv::WriterBuilder::new().with_header(*header).build(&mut out).write(batch)?;
                *header = false;
                Ok(out.into())
            }
            Encoder::Ndjson => {
                let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
                writer.write(batch)?;
                writer.finish()?;
                Ok(writer.into_inner().into())
            }
            Encoder::Arrow(writer) => {
                writer.write(batch)?;
                Ok(std::mem::take(writer.get_mut()).into())
            }
        }
    }

    fn end(&mut self) -> Result<Bytes, arrow::error::ArrowError> {
        match self {
            Encoder::Csv { .. } | Encoder::Ndjson => Ok(Bytes::new()),
            Encoder::Arrow(writer) => {
                writer.finish()?;
                Ok(std::mem::take(writer.get_mut()).into())
            }
        }
    }
}
