//! The web console of `failscope serve`, at `/`: plain HTML, CSS and JavaScript embedded in the
//! binary (`assets/`, no build step, nothing fetched from elsewhere), over the API's own
//! endpoints and a few JSON ones of its own. Like the rest of the HTTP layer it decides
//! nothing: the health board is the detector's feed, the charts of a period are the anomaly
//! report's (`crate::report::figures`), a job's evidence comes from `queries/console/`.
//!
//! The page and its assets are public, since the login form must load without a token; every
//! request for data carries the token (kept in the browser's `sessionStorage`) as the API's
//! bearer token. `GET /v1/console/session` says whether a token is needed, so a console on a
//! loopback server without one opens without a login and no request of the page is refused.
//!
//! Files: `assets.rs` serves the embedded files; `period.rs` the charts, incidents and
//! affected jobs of a period; `jobs.rs` one job's classification and connects; `rows.rs` runs
//! their statements; `slot.rs` runs their work under the API's statement slots and timeout.

mod assets;
mod jobs;
mod period;
mod rows;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, response::IntoResponse};
use serde_json::json;

use super::ApiState;

/// The console's data endpoints; the caller puts authentication in front of them.
pub(super) fn api_routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/console/period", get(period::get_period))
        .route("/v1/console/incident-jobs", get(period::get_incident_jobs))
        .route("/v1/console/jobs/{job_id}", get(jobs::get_job))
}

/// The page, its assets and the session probe: public.
pub(super) fn public_routes(state: ApiState) -> Router {
    assets::routes().route("/v1/console/session", get(get_session)).with_state(state)
}

/// `GET /v1/console/session`: whether the page must ask for a token.
async fn get_session(State(state): State<ApiState>) -> impl IntoResponse {
    Json(json!({ "token_required": state.config.token.is_some() }))
}
