//! `ApiError`: what a request can fail with, as an HTTP status and a JSON body that names
//! the problem without exposing internals.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use datafusion::error::DataFusionError;
use serde_json::json;
use tracing::warn;

use crate::AnalyzeError;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Forbidden(#[from] crate::guard::Forbidden),
    #[error("no query named {0:?}")]
    NotFound(String),
    #[error("statement cancelled after the {0:?} timeout")]
    Timeout(std::time::Duration),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0} is turned off on this server")]
    Disabled(&'static str),
    #[error("the statement needs more memory than the server allows")]
    ResourcesExhausted,
    /// A JSON body would pass `--max-result-bytes`.
    #[error(
        "the result passes the server's cap of {max_bytes} bytes (--max-result-bytes): narrow the query (WHERE, LIMIT, fewer columns) or ask for a streamed format (Accept: application/x-ndjson, text/csv or application/vnd.apache.arrow.stream)"
    )]
    ResultTooLarge { max_bytes: usize },
    /// Every statement slot stayed busy for the whole queue wait.
    #[error("too many statements running; retry in {} s", .0.as_secs().max(1))]
    Busy(std::time::Duration),
    /// Details go to the log only.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Forbidden(_) => "statement_not_allowed",
            ApiError::NotFound(_) => "not_found",
            ApiError::Timeout(_) => "statement_timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Disabled(_) => "disabled",
            ApiError::ResourcesExhausted => "resources_exhausted",
            ApiError::ResultTooLarge { .. } => "result_too_large",
            ApiError::Busy(_) => "busy",
            ApiError::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::Disabled(_) => StatusCode::NOT_FOUND,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::ResultTooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::ResourcesExhausted | ApiError::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<AnalyzeError> for ApiError {
    fn from(e: AnalyzeError) -> Self {
        match e {
            AnalyzeError::Forbidden(f) => ApiError::Forbidden(f),
            AnalyzeError::UnknownQuery(name) => ApiError::NotFound(name),
            AnalyzeError::Query(df) => match df.find_root() {
                DataFusionError::ResourcesExhausted(_) => ApiError::ResourcesExhausted,
                // Planning errors are the caller's SQL: say what is wrong with it.
                DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
                    ApiError::BadRequest(df.find_root().to_string())
                }
                _ => ApiError::Internal(Box::new(AnalyzeError::Query(df))),
            },
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            warn!(error = %error_chain(e.as_ref()), "request failed");
        }
        let mut body = json!({ "error": self.to_string(), "code": self.code() });
        if let ApiError::Forbidden(f) = &self {
            body["statement_kind"] = json!(f.kind.as_str());
        }
        if let ApiError::ResultTooLarge { max_bytes } = &self {
            body["max_result_bytes"] = json!(max_bytes);
        }
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::Busy(retry_after) = &self {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
        }
        response
    }
}

/// `error: cause: cause`, the whole chain on one line for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
