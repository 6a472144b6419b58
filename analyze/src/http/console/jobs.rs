//! `GET /v1/console/jobs/{job_id}`: one job's classification with its evidence (the rule or
//! signature that decided it, its connects), from `queries/console/`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::rows::{json_rows, text};
use crate::http::slot::in_slot;
use crate::http::{ApiError, ApiState};

const CLASSIFICATION_SQL: &str = include_str!("../../../../queries/console/job_classification.sql");
const CONNECTS_SQL: &str = include_str!("../../../../queries/console/job_connects.sql");

/// `{"job_id", "classifications": [...], "connects": [...]}`: a job that passed has no
/// classification, and one the lake does not know has neither (the page says so).
pub(super) async fn get_job(
    State(state): State<ApiState>,
    Path(job_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id.clone();
    let (classifications, connects) = in_slot(&state, move |analyzer| async move {
        let classifications = json_rows(&analyzer, CLASSIFICATION_SQL, vec![("job_id", text(&id))]).await?;
        let connects = json_rows(&analyzer, CONNECTS_SQL, vec![("job_id", text(&id))]).await?;
        Ok((classifications, connects))
    })
    .await?;
    Ok(Json(json!({ "job_id": job_id, "classifications": classifications, "connects": connects })))
}
