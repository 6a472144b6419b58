//! The API's handlers: decode the request, call the analyzer under the configured limits,
//! encode the answer in the format the `Accept` header asks for.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiState};
use crate::QueryResult;
use crate::output::{Format, write_batches};

/// Header saying whether the row cap cut the result (CSV and Arrow responses).
pub(super) const TRUNCATED_HEADER: &str = "x-failscope-truncated";

#[derive(Debug, Deserialize)]
pub(super) struct SqlRequest {
    pub(crate) sql: String,
}

/// `POST /v1/sql` with `{"sql": "SELECT …"}`.
pub(super) async fn post_sql(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Json(request): Json<SqlRequest>,
) -> Result<Response, ApiError> {
    let format = negotiate(&headers);
    let (analyzer, config) = (state.analyzer.clone(), state.config.clone());
    let row_cap = config.row_cap;
    let permit = match tokio::time::timeout(config.queue_timeout, state.statements.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(closed)) => return Err(ApiError::Internal(Box::new(closed))),
        Err(_) => return Err(ApiError::Busy(config.queue_timeout)),
    };
    // The statement runs in its own task: a plan that seldom yields then cannot hold up the
    // timeout, and aborting the task drops its stream, which cancels DataFusion's work. The
    // task is aborted whenever this handler ends first: on the timeout, and when the client
    // hangs up (the server then drops this future), so no query outlives its request.
    let mut task = AbortOnDrop(tokio::spawn(async move {
        let _permit = permit;
        let df = analyzer.sql(&request.sql).await?;
        analyzer.collect(df, Some(row_cap)).await
    }));
    let result = match tokio::time::timeout(config.statement_timeout, &mut task.0).await {
        Ok(joined) => joined.map_err(|e| ApiError::Internal(Box::new(e)))??,
        Err(_) => return Err(ApiError::Timeout(config.statement_timeout)),
    };
    encode(format, &result)
}

/// Aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `GET /v1/queries`: the named queries.
pub(super) async fn list_queries(State(state): State<ApiState>) -> Json<serde_json::Value> {
    let queries: Vec<_> = state
        .analyzer
        .queries()
        .iter()
        .map(|q| json!({ "name": q.name, "description": q.description, "params": q.params }))
        .collect();
    Json(json!({ "queries": queries }))
}

/// `GET /v1/queries/{name}`: one named query with its SQL.
pub(super) async fn get_query(State(state): State<ApiState>, Path(name): Path<String>) -> Result<Response, ApiError> {
    let query = state.analyzer.query(&name)?;
    Ok(Json(query).into_response())
}

/// The first media type of `Accept` that we produce decides; JSON otherwise.
fn negotiate(headers: &HeaderMap) -> Format {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept
        .split(',')
        .filter_map(|range| match range.split(';').next().map(str::trim) {
            Some("text/csv") => Some(Format::Csv),
            Some("application/vnd.apache.arrow.stream") => Some(Format::Arrow),
            Some("application/x-ndjson") => Some(Format::Ndjson),
            Some("application/json") => Some(Format::Json),
            _ => None,
        })
        .next()
        .unwrap_or(Format::Json)
}

fn encode(format: Format, result: &QueryResult) -> Result<Response, ApiError> {
    let mut body = Vec::new();
    if format == Format::Json {
        // The envelope carries the flags; the rows are Arrow's JSON array.
        let columns: Vec<_> = result
            .schema
            .fields()
            .iter()
            .map(|f| json!({ "name": f.name(), "type": f.data_type().to_string() }))
            .collect();
        let head = json!({ "columns": columns, "row_count": result.n_rows(), "truncated": result.truncated });
        let head = head.to_string();
        body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
        body.extend_from_slice(b",\"rows\":");
        write_batches(Format::Json, &result.schema, &result.batches, &mut body)?;
        body.push(b'}');
    } else {
        write_batches(format, &result.schema, &result.batches, &mut body)?;
    }
    let mut response = Body::from(body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(TRUNCATED_HEADER, HeaderValue::from_static(if result.truncated { "true" } else { "false" }));
    Ok(response)
}
