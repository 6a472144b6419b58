//! The web console's server side without a socket: the page and its assets are public and
//! locked down by a content security policy, its data endpoints need the token, a period has
//! the report's charts, an incident its affected jobs, a job its classification and connects.
//! The page itself runs in headless Chromium in `tests/console_browser.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use failscope_analyze::http::{ApiConfig, ApiState, router};
use failscope_schemas::{ConnectOutcome, JobStatus};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::support::{self, T0, connect, job, write_lake};

const TOKEN: &str = "s3cret";

async fn serving(lake: &std::path::Path, token: Option<&str>) -> ApiState {
    let config = ApiConfig {
        token: token.map(str::to_string),
        statement_timeout: Duration::from_secs(60),
        row_cap: 100,
        max_result_bytes: 64 << 20,
        max_concurrent_statements: 2,
        queue_timeout: Duration::from_secs(10),
    };
    ApiState::new(Arc::new(support::open(lake).await), config)
}

async fn get(state: &ApiState, path: &str, token: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response =
        router(state.clone()).oneshot(request.body(Body::empty()).expect("request")).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes().to_vec())
}

async fn get_json(state: &ApiState, path: &str) -> Value {
    let (status, _, body) = get(state, path, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("JSON body")
}

/// Job `a` failed in us-east-2 after its connects to `api` timed out; job `b` passed with a
/// healthy connect.
fn lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().expect("temp dir");
    let failed = job("a", "us-east-2", T0, JobStatus::Failed);
    let passed = job("b", "us-west-1", T0, JobStatus::Passed);
    let connects = [
        connect(&failed, 1, "api", "checkout", ConnectOutcome::Timeout, 60_000),
        connect(&failed, 2, "api", "checkout", ConnectOutcome::Timeout, 120_000),
        connect(&passed, 1, "api", "checkout", ConnectOutcome::Ok, 60_000),
    ];
    write_lake(lake.path(), &[failed, passed], &connects, 0);
    lake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_public_and_its_data_needs_the_token() {
    let lake = lake();
    let state = serving(lake.path(), Some(TOKEN)).await;
    let (status, headers, page) = get(&state, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().expect("ASCII");
    assert!(policy.starts_with("default-src 'self'") && policy.contains("script-src 'self'"), "{policy}");
    let page = String::from_utf8(page).expect("UTF-8");
    // Every file the page loads is served, with its type; nothing from another origin.
    let assets: Vec<&str> =
        page.split(['"', '\'']).filter(|s| s.starts_with("/console/") || s.starts_with("http")).collect();
    assert!(assets.len() >= 8, "{assets:?}");
    for asset in assets {
        assert!(asset.starts_with("/console/"), "the page loads {asset}");
        let (status, headers, _) = get(&state, asset, None).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        let kind = if asset.ends_with(".js") { "text/javascript; charset=utf-8" } else { "text/css; charset=utf-8" };
        assert_eq!(headers["content-type"], kind, "{asset}");
    }
    assert_eq!(get(&state, "/console/missing.js", None).await.0, StatusCode::NOT_FOUND);

    let (status, _, body) = get(&state, "/v1/console/session", None).await;
    assert_eq!((status, body), (StatusCode::OK, br#"{"token_required":true}"#.to_vec()));
    let open = serving(lake.path(), None).await;
    assert_eq!(get(&open, "/v1/console/session", None).await.2, br#"{"token_required":false}"#.to_vec());

    for path in [
        "/v1/console/period?since=2022-04-05T22:00:00Z&until=2022-04-06T02:00:00Z",
        "/v1/console/incident-jobs?scope=region&name=us-east-2&since=24h&until=now",
        "/v1/console/jobs/a",
    ] {
        for token in [None, Some("wrong")] {
            assert_eq!(get(&state, path, token).await.0, StatusCode::UNAUTHORIZED, "{path} {token:?}");
        }
        assert_eq!(get(&open, path, None).await.0, StatusCode::OK, "{path} on a server without a token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_shows_its_classification_and_its_connects() {
    let lake = lake();
    let state = serving(lake.path(), Some(TOKEN)).await;
    let a = get_json(&state, "/v1/console/jobs/a").await;
    let classification = &a["classifications"][0];
    assert_eq!(classification["attribution"], "infra", "{a}");
    assert_eq!(classification["rule_id"], "failed_connects", "{a}");
    assert_eq!(classification["n_failed_connects"], 2, "{a}");
    assert_eq!(classification["failed_targets"], "api", "{a}");
    let outcomes: Vec<&Value> = a["connects"].as_array().expect("connects").iter().map(|c| &c["outcome"]).collect();
    assert_eq!(outcomes, ["timeout", "timeout"], "{a}");

    let b = get_json(&state, "/v1/console/jobs/b").await;
    assert_eq!(b["classifications"], serde_json::json!([]), "a job that passed has no classification");
    assert_eq!(b["connects"].as_array().map(Vec::len), Some(1));
    let unknown = get_json(&state, "/v1/console/jobs/nobody's%20job").await;
    assert_eq!(
        (unknown["classifications"].as_array().map(Vec::len), unknown["connects"].as_array().map(Vec::len)),
        (Some(0), Some(0))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_period_has_the_reports_charts_and_an_incident_its_jobs() {
    let lake = lake();
    let state = serving(lake.path(), Some(TOKEN)).await;
    let period = get_json(&state, "/v1/console/period?since=2022-04-05T22:00:00Z&until=2022-04-06T02:00:00Z").await;
    assert_eq!(period["summary"]["n_jobs"], 2, "{period}");
    assert_eq!(period["summary"]["n_infra"], 1, "{period}");
    assert_eq!(period["regions"], serde_json::json!(["us-east-2", "us-west-1"]));
    let heatmap = period["heatmap_svg"].as_str().expect("heatmap");
    assert!(heatmap.starts_with("<svg") && heatmap.contains(r#"class="chart heatmap""#), "{heatmap}");
    assert!(
        heatmap.contains(">us-east-2</text>") && heatmap.contains("1 of 1 jobs failed by infrastructure"),
        "{heatmap}"
    );
    let timeline = period["timeline_svg"].as_str().expect("timeline");
    assert!(timeline.contains(r#"class="chart timeline""#) && timeline.contains(">us-west-1</text>"), "{timeline}");

    let jobs = get_json(
        &state,
        "/v1/console/incident-jobs?scope=region&name=us-east-2&since=2022-04-05T22:00:00Z&until=2022-04-06T02:00:00Z",
    )
    .await;
    let ids: Vec<&Value> = jobs["jobs"].as_array().expect("jobs").iter().map(|j| &j["job_id"]).collect();
    assert_eq!(ids, ["a"], "{jobs}");

    for (path, why) in [
        ("/v1/console/period?since=2022-04-06T02:00:00Z&until=2022-04-05T22:00:00Z", "must be before"),
        ("/v1/console/period?since=2022-01-01T00:00:00Z&until=2022-04-05T22:00:00Z", "longer than 31 days"),
        ("/v1/console/period?since=24h", "until"),
        ("/v1/console/incident-jobs?scope=galaxy&name=x&since=24h&until=now", "unknown scope"),
    ] {
        let (status, _, body) = get(&state, path, Some(TOKEN)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(String::from_utf8_lossy(&body).contains(why), "{path}: {}", String::from_utf8_lossy(&body));
    }
}
