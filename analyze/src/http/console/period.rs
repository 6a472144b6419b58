//! `GET /v1/console/period`: what the console shows of a period, the anomaly report's content
//! for it (incidents with their evidence, the summary) with its heatmap and health timeline as
//! SVG drawn by the report's own chart code; and `GET /v1/console/incident-jobs`: the jobs an
//! incident affected.

use axum::Json;
use axum::extract::{Query, State};
use failscope_schemas::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::rows::{instant, json_rows, text};
use crate::cli::parse_instant;
use crate::http::slot::in_slot;
use crate::http::{ApiError, ApiState};
use crate::report::figures::{heatmap_chart, timeline_chart};
use crate::report::words::evidence;
use crate::report::{Report, build};

const INCIDENT_JOBS_SQL: &str = include_str!("../../../../queries/console/incident_jobs.sql");

/// The longest period the console draws: a heatmap of more hours has cells too thin to see.
const MAX_PERIOD_DAYS: i64 = 31;

/// `since` and `until`: RFC 3339 instants, durations before now (`24h`) or `now`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PeriodQuery {
    since: String,
    until: String,
}

/// The report of `[since, until)` as the console draws it.
pub(super) async fn get_period(
    State(state): State<ApiState>,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Value>, ApiError> {
    let (since, until) = period(&query.since, &query.until)?;
    let report =
        in_slot(&state, move |analyzer| async move { build(&analyzer, since, until, Timestamp::now()).await }).await?;
    Ok(Json(period_json(&report)?))
}

/// An incident: its scope and name, and the period it was open in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IncidentQuery {
    scope: String,
    name: String,
    since: String,
    until: String,
}

/// The jobs an incident affected (at most 100, newest first).
pub(super) async fn get_incident_jobs(
    State(state): State<ApiState>,
    Query(query): Query<IncidentQuery>,
) -> Result<Json<Value>, ApiError> {
    let (since, until) = period(&query.since, &query.until)?;
    if !["region", "target", "worker", "project"].contains(&query.scope.as_str()) {
        return Err(ApiError::BadRequest(format!("unknown scope {:?}", query.scope)));
    }
    let jobs = in_slot(&state, move |analyzer| async move {
        let params = vec![
            ("since", instant(since)),
            ("until", instant(until)),
            ("scope", text(&query.scope)),
            ("name", text(&query.name)),
        ];
        json_rows(&analyzer, INCIDENT_JOBS_SQL, params).await
    })
    .await?;
    Ok(Json(json!({ "jobs": jobs })))
}

/// A period from the request, checked: not empty, not longer than the console draws.
fn period(since: &str, until: &str) -> Result<(Timestamp, Timestamp), ApiError> {
    let now = Timestamp::now();
    let parse = |text: &str, which: &str| {
        parse_instant(text, now).map_err(|e| ApiError::BadRequest(format!("invalid {which}: {e}")))
    };
    let (since, until) = (parse(since, "since")?, parse(until, "until")?);
    if since >= until {
        return Err(ApiError::BadRequest(format!("since ({since}) must be before until ({until})")));
    }
    if until.as_millis() - since.as_millis() > MAX_PERIOD_DAYS * 86_400_000 {
        return Err(ApiError::BadRequest(format!("the period is longer than {MAX_PERIOD_DAYS} days")));
    }
    Ok((since, until))
}

/// The report's summary and incidents (each with its evidence in words, as the report prints
/// it), the regions, and the two charts.
fn period_json(r: &Report) -> Result<Value, ApiError> {
    let mut incidents = Vec::with_capacity(r.incidents.len());
    for incident in &r.incidents {
        let mut value = serde_json::to_value(incident).map_err(|e| ApiError::Internal(Box::new(e)))?;
        value["evidence_text"] = json!(evidence(incident.scope, &incident.evidence));
        incidents.push(value);
    }
    Ok(json!({
        "since": r.since,
        "until": r.until,
        "summary": r.summary,
        "incidents": incidents,
        "n_degraded_only": r.n_degraded_only,
        "regions": r.timeline.iter().map(|t| &t.region).collect::<Vec<_>>(),
        "heatmap_svg": heatmap_chart(r),
        "timeline_svg": timeline_chart(r),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_checked() {
        let cases = [
            ("2022-04-05T00:00:00Z", "2022-04-06T00:00:00Z", None),
            ("2022-04-06T00:00:00Z", "2022-04-05T00:00:00Z", Some("must be before")),
            ("2022-04-05T00:00:00Z", "2022-04-05T00:00:00Z", Some("must be before")),
            ("2022-01-01T00:00:00Z", "2022-04-06T00:00:00Z", Some("longer than 31 days")),
            ("yesterday", "now", Some("invalid since")),
            ("24h", "now", None),
        ];
        for (since, until, refusal) in cases {
            match (refusal, period(since, until)) {
                (None, Ok(_)) => {}
                (Some(why), Err(e)) => assert!(e.to_string().contains(why), "{since}..{until}: {e}"),
                (want, got) => panic!("{since}..{until}: expected {want:?}, got {got:?}"),
            }
        }
    }
}
