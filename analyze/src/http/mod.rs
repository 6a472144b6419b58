//! The HTTP API of `failscope serve`: `POST /v1/sql`, `GET /v1/queries`,
//! `GET /v1/queries/{name}` (describes), `POST /v1/queries/{name}` (runs),
//! `GET /v1/regions/health`, and the web console at `/` (`console/`). It holds no SQL and no
//! business logic; it authenticates, limits and encodes, and leaves the rest to [`Analyzer`].

mod console;
mod error;
mod handlers;
mod health;
mod results;
mod slot;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::Semaphore;

use crate::Analyzer;
use crate::health::HealthFeed;

pub(crate) use error::ApiError;

/// Limits and credentials, validated at start-up.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Required as `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    pub statement_timeout: Duration,
    /// Most rows of a JSON response; streamed formats are not cut.
    pub row_cap: usize,
    /// Most bytes of a JSON response; a larger one is refused. Streamed formats are not cut.
    pub max_result_bytes: usize,
    /// Statements that may run at once; more wait in a queue.
    pub max_concurrent_statements: usize,
    /// How long a statement waits for a slot before the answer is 503 with `Retry-After`.
    pub queue_timeout: Duration,
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub analyzer: Arc<Analyzer>,
    pub config: Arc<ApiConfig>,
    /// One permit per statement allowed to run; a statement's task holds it until it ends.
    pub statements: Arc<Semaphore>,
    /// The live region-health feed; `None` when the server runs without the detector.
    pub(crate) health: Option<HealthFeed>,
}

impl ApiState {
    pub fn new(analyzer: Arc<Analyzer>, config: ApiConfig) -> ApiState {
        let statements = Arc::new(Semaphore::new(config.max_concurrent_statements));
        ApiState { analyzer, config: Arc::new(config), statements, health: None }
    }

    /// The same state, serving `feed` at `GET /v1/regions/health`.
    pub fn with_health(self, feed: HealthFeed) -> ApiState {
        ApiState { health: Some(feed), ..self }
    }
}

/// The API's routes, with authentication in front of all of them, and the web console at `/`
/// (its page and assets public, its data behind the same authentication).
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/v1/sql", post(handlers::post_sql))
        .route("/v1/queries", get(handlers::list_queries))
        .route("/v1/queries/{name}", get(handlers::get_query).post(handlers::post_named_query))
        .route("/v1/regions/health", get(health::get_region_health))
        .merge(console::api_routes())
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state.clone())
        .merge(console::public_routes(state))
}

async fn authenticate(State(state): State<ApiState>, request: Request, next: Next) -> Result<Response, ApiError> {
    if let Some(token) = &state.config.token {
        let presented = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes())) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}

/// Compares without returning early, so response time does not reveal the token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
