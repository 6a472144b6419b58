//! `POST /v1/queries/{name}` without a socket: a named query run with typed parameters gives
//! the rows `failscope query` gives, in every format of `POST /v1/sql`, under the same
//! authentication and row cap; bad parameters are the caller's error.

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use failscope_analyze::http::{ApiConfig, ApiState, router};
use failscope_analyze::output::{Format, write_batches};
use failscope_analyze::{Analyzer, QueryParams};
use failscope_schemas::Timestamp;
use http_body_util::BodyExt;
use serde_json::json;
use support::{MINUTE, T0};
use tower::ServiceExt;

const TOKEN: &str = "s3cret";
const HOUR: i64 = 60 * MINUTE;

/// Two regions over two hours; in the second hour us-east-2's jobs fail on connect timeouts.
fn fixture_lake() -> tempfile::TempDir {
    support::two_region_lake(&[(1, "api", true)])
}

async fn state(lake: &std::path::Path, row_cap: usize) -> ApiState {
    let config = ApiConfig {
        token: Some(TOKEN.to_string()),
        statement_timeout: Duration::from_secs(30),
        row_cap,
        max_result_bytes: 1 << 20,
        max_concurrent_statements: 4,
        queue_timeout: Duration::from_secs(5),
    };
    ApiState::new(Arc::new(support::open(lake).await), config)
}

fn run(name: &str, body: &str, token: Option<&str>, accept: &str) -> Request<Body> {
    let mut request = Request::post(format!("/v1/queries/{name}")).header("accept", accept);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_string())).expect("request")
}

async fn send(state: &ApiState, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router(state.clone()).oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    (parts.status, parts.headers, body.collect().await.expect("body").to_bytes().to_vec())
}

/// What `failscope query NAME --format FORMAT` prints for these parameters.
async fn failscope_query(analyzer: &Analyzer, name: &str, params: &QueryParams, format: Format) -> Vec<u8> {
    let result = analyzer.collect(analyzer.named(name, params).await.expect("plans")).await.expect("runs");
    let mut out = Vec::new();
    write_batches(format, &result.schema, &result.batches, &mut out).expect("encodes");
    out
}

fn window() -> (String, QueryParams) {
    let body = json!({ "since": "2022-04-06T00:00:00Z", "until": "2022-04-06T01:00:00Z", "region": "us-east-2" });
    let params = QueryParams {
        since: Timestamp::from_millis(T0 + HOUR),
        until: Timestamp::from_millis(T0 + 2 * HOUR),
        region: Some("us-east-2".to_string()),
    };
    (body.to_string(), params)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_named_query_in_every_format_of_the_sql_endpoint() {
    let lake = fixture_lake();
    let state = state(lake.path(), 1000).await;
    let (body, params) = window();
    let csv = failscope_query(&state.analyzer, "classifications", &params, Format::Csv).await;
    assert_eq!(String::from_utf8_lossy(&csv).lines().count(), 4, "{}", String::from_utf8_lossy(&csv));
    for (accept, format) in [
        ("text/csv", Format::Csv),
        ("application/x-ndjson", Format::Ndjson),
        ("application/vnd.apache.arrow.stream", Format::Arrow),
    ] {
        let (status, headers, got) = send(&state, run("classifications", &body, Some(TOKEN), accept)).await;
        assert_eq!(status, StatusCode::OK, "{accept}: {}", String::from_utf8_lossy(&got));
        assert_eq!(headers["content-type"], format.content_type());
        assert_eq!(headers["x-failscope-truncated"], "false");
        assert_eq!(got, failscope_query(&state.analyzer, "classifications", &params, format).await, "{accept}");
    }
    let (status, _, got) = send(&state, run("classifications", &body, Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::OK);
    let got: serde_json::Value = serde_json::from_slice(&got).expect("JSON");
    let rows: serde_json::Value =
        serde_json::from_slice(&failscope_query(&state.analyzer, "classifications", &params, Format::Json).await)
            .expect("JSON rows");
    assert_eq!((got["row_count"].as_u64(), &got["truncated"]), (Some(3), &json!(false)));
    assert_eq!(got["rows"], rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_typed_and_checked() {
    let lake = fixture_lake();
    let state = state(lake.path(), 1000).await;
    let cases = [
        ("classifications", r#"{"since": "yesterday"}"#, StatusCode::BAD_REQUEST),
        (
            "classifications",
            r#"{"since": "2022-04-06T01:00:00Z", "until": "2022-04-06T00:00:00Z"}"#,
            StatusCode::BAD_REQUEST,
        ),
        ("classifications", r#"{"regions": "us-east-2"}"#, StatusCode::BAD_REQUEST),
        ("classifications", r#"{"region": 2}"#, StatusCode::BAD_REQUEST),
        ("classifications", "not json", StatusCode::BAD_REQUEST),
        ("tables", r#"{"region": "us-east-2"}"#, StatusCode::BAD_REQUEST),
        ("no-such-query", "", StatusCode::NOT_FOUND),
        ("tables", "", StatusCode::OK),
        // Relative instants, as for `failscope query`: the fixture is years old, so no rows.
        ("classifications", r#"{"since": "2h", "until": "now"}"#, StatusCode::OK),
    ];
    for (name, body, want) in cases {
        let (status, _, got) = send(&state, run(name, body, Some(TOKEN), "application/json")).await;
        assert_eq!(status, want, "{name} {body}: {}", String::from_utf8_lossy(&got));
    }
    let (_, _, got) =
        send(&state, run("classifications", r#"{"since": "2h", "until": "now"}"#, Some(TOKEN), "application/json"))
            .await;
    let got: serde_json::Value = serde_json::from_slice(&got).expect("JSON");
    assert_eq!(got["row_count"], 0, "{got}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_and_the_row_cap_apply() {
    let lake = fixture_lake();
    let state = state(lake.path(), 2).await;
    let (body, _) = window();
    for token in [None, Some("wrong")] {
        let (status, _, _) = send(&state, run("classifications", &body, token, "application/json")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
    let (status, headers, got) = send(&state, run("classifications", &body, Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-failscope-truncated"], "true");
    let got: serde_json::Value = serde_json::from_slice(&got).expect("JSON");
    assert_eq!((got["row_count"].as_u64(), &got["truncated"]), (Some(2), &json!(true)));
    // A streamed format is not cut: it carries all three.
    let (status, headers, got) = send(&state, run("classifications", &body, Some(TOKEN), "text/csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-failscope-truncated"], "false");
    assert_eq!(String::from_utf8_lossy(&got).lines().count(), 4, "header and three rows");
}
