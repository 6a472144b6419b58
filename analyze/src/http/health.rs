//! `GET /v1/regions/health`: the scheduler's feed. It serves what the live detector last
//! published, with its entity tag; the deciding happens in `crate::health`.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

/// The latest region health; `304 Not Modified` when `If-None-Match` names the current tag,
/// `503` with `Retry-After` until the detector's first tick.
pub(super) async fn get_region_health(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(feed) = &state.health else {
        return Err(ApiError::Disabled("the region-health detector"));
    };
    let Some(current) = feed.borrow().clone() else {
        let mut response = ApiError::Unavailable("the detector has not finished its first tick".into()).into_response();
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("5"));
        return Ok(response);
    };
    let etag = HeaderValue::from_str(&current.etag).map_err(|e| ApiError::Internal(Box::new(e)))?;
    if if_none_match(&headers, &current.etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(ETAG, etag);
        return Ok(response);
    }
    let mut response = Body::from(current.body.clone()).into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(ETAG, etag);
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Whether `If-None-Match` lists `etag` (or `*`), compared weakly as RFC 9110 asks for GET.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || opaque(tag) == opaque(etag))
}
