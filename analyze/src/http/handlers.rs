//! The API's handlers: decode the request, call the analyzer under the configured limits,
//! encode the answer in the format the `Accept` header asks for.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use datafusion::prelude::DataFrame;
use failscope_schemas::Timestamp;
use serde::Deserialize;
use serde_json::json;

use super::slot;
use super::{ApiError, ApiState, results};
use crate::cli::{DEFAULT_SINCE, parse_instant};
use crate::output::Format;
use crate::task::AbortOnDrop;
use crate::{AnalyzeError, Analyzer, QueryParams};

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
    run_limited(&state, format, move |analyzer| async move { analyzer.sql(&request.sql).await }).await
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
    run_limited(&state, format, move |analyzer| async move { analyzer.named(&name, &params).await }).await
}

/// Waits for a statement slot, then plans with `plan` and answers in `format`: JSON is
/// built whole under the row and byte caps, all within the statement timeout; the other
/// formats stream, the slot held and the timeout running until the body ends.
async fn run_limited<F, Fut>(state: &ApiState, format: Format, plan: F) -> Result<Response, ApiError>
where
    F: FnOnce(Arc<Analyzer>) -> Fut + Send + 'static,
    Fut: Future<Output = crate::error::Result<DataFrame>> + Send,
{
    let (analyzer, config) = (state.analyzer.clone(), state.config.clone());
    let (row_cap, max_bytes, timeout) = (config.row_cap, config.max_result_bytes, config.statement_timeout);
    let permit = slot::acquire(state).await?;
    let deadline = tokio::time::Instant::now() + timeout;
    // The statement runs in its own task: a plan that seldom yields then cannot hold up the
    // timeout, and aborting the task drops its stream, which cancels DataFusion's work. The
    // task is aborted whenever this handler ends first: on the timeout, and when the client
    // hangs up (the server then drops this future), so no query outlives its request. A
    // streamed body carries the stream (and the slot) on; dropping the body cancels it.
    let mut task = AbortOnDrop::spawn(async move {
        let df = plan(Arc::clone(&analyzer)).await?;
        if format == Format::Json {
            // One row more than the cap tells whether the result was cut.
            let df = df.limit(0, Some(row_cap.saturating_add(1))).map_err(AnalyzeError::from)?;
            let stream = df.execute_stream().await.map_err(AnalyzeError::from)?;
            let _permit = permit;
            Ok(results::collect_json(stream, row_cap, max_bytes).await?.into_response())
        } else {
            // The plan's schema, as `failscope query` writes it: the bytes are the same.
            let schema = df.schema().inner().clone();
            let stream = df.execute_stream().await.map_err(AnalyzeError::from)?;
            results::streamed(format, &schema, stream, permit, deadline, timeout)
        }
    });
    match tokio::time::timeout_at(deadline, &mut task.0).await {
        Ok(joined) => joined.map_err(|e| ApiError::Internal(Box::new(e)))?,
        Err(_) => Err(ApiError::Timeout(timeout)),
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
