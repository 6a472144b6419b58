//! The API's handlers: decode the request, call the analyzer under the configured limits,
//! encode the answer in the format the `Accept` header asks for.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use datafusion::prelude::DataFrame;
use failscope_schemas::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiState};
use crate::cli::{DEFAULT_SINCE, parse_instant};
use crate::output::{Format, write_batches};
use crate::{Analyzer, QueryParams, QueryResult};

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
    let result = run_limited(&state, move |analyzer| async move { analyzer.sql(&request.sql).await }).await?;
    encode(format, &result)
}

/// The body of `POST /v1/queries/{name}`: the query's parameters, typed. `since` and `until`
/// are RFC 3339 instants, durations before now (`24h`), or `now`, as for `failscope query`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NamedQueryRequest {
    pub since: Option<String>,
    pub until: Option<String>,
    pub region: Option<String>,
}

/// `POST /v1/queries/{name}`: runs a named query with its parameters bound, in the format the
/// `Accept` header asks for, under the same limits as `POST /v1/sql`. An empty body runs it
/// over the last 24 hours in every region.
pub(super) async fn post_named_query(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let format = negotiate(&headers);
    let query = state.analyzer.query(&name)?;
    let request: NamedQueryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        NamedQueryRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid parameters: {e}")))?
    };
    let given =
        [("since", request.since.is_some()), ("until", request.until.is_some()), ("region", request.region.is_some())];
    if let Some((unused, _)) = given.iter().find(|(p, given)| *given && !query.params.iter().any(|q| q == p)) {
        return Err(ApiError::BadRequest(format!(
            "query {name} takes no parameter {unused} (its parameters: {})",
            query.params.join(", ")
        )));
    }
    let now = Timestamp::now();
    let instant = |text: Option<&str>, default: &str, which: &str| {
        parse_instant(text.unwrap_or(default), now).map_err(|e| ApiError::BadRequest(format!("invalid {which}: {e}")))
    };
    let since = instant(request.since.as_deref(), DEFAULT_SINCE, "since")?;
    let until = instant(request.until.as_deref(), "now", "until")?;
    if since >= until {
        return Err(ApiError::BadRequest(format!("since ({since}) must be before until ({until})")));
    }
    let params = QueryParams { since, until, region: request.region };
    let result = run_limited(&state, move |analyzer| async move { analyzer.named(&name, &params).await }).await?;
    encode(format, &result)
}

/// Waits for a statement slot, then plans with `plan` and collects at most the row cap, all
/// within the statement timeout.
async fn run_limited<F, Fut>(state: &ApiState, plan: F) -> Result<QueryResult, ApiError>
where
    F: FnOnce(Arc<Analyzer>) -> Fut + Send + 'static,
    Fut: Future<Output = crate::error::Result<DataFrame>> + Send,
{
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
        let df = plan(Arc::clone(&analyzer)).await?;
        analyzer.collect(df, Some(row_cap)).await
    }));
    match tokio::time::timeout(config.statement_timeout, &mut task.0).await {
        Ok(joined) => Ok(joined.map_err(|e| ApiError::Internal(Box::new(e)))??),
        Err(_) => Err(ApiError::Timeout(config.statement_timeout)),
    }
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
