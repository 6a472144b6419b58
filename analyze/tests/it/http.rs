//! The HTTP API without a socket (`tower::ServiceExt::oneshot`): authentication, the
//! read-only guard, the statement timeout, the row and byte caps, the output formats and
//! streamed results.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use failscope_analyze::http::{ApiConfig, ApiState, router};
use failscope_schemas::ConnectOutcome;
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::support;

const TOKEN: &str = "s3cret";

async fn state(lake: &std::path::Path) -> ApiState {
    state_with(lake, 4, Duration::from_millis(500)).await
}

async fn state_with(lake: &std::path::Path, max_concurrent_statements: usize, statement_timeout: Duration) -> ApiState {
    let config = ApiConfig {
        token: Some(TOKEN.to_string()),
        statement_timeout,
        row_cap: 5,
        max_result_bytes: MAX_RESULT_BYTES,
        max_concurrent_statements,
        queue_timeout: Duration::from_millis(100),
    };
    ApiState::new(Arc::new(support::open(lake).await), config)
}

/// The byte cap of JSON responses in these tests.
const MAX_RESULT_BYTES: usize = 64 << 10;

/// A statement that keeps a core busy for far longer than any test waits.
const HEAVY: &str = "SELECT count(*) FROM generate_series(1, 100000000000) AS a(v) WHERE v % 7 = 3";

/// Polls until every statement slot of `state` is free again, for at most `deadline`.
async fn slots_free_within(state: &ApiState, deadline: Duration) -> bool {
    let started = std::time::Instant::now();
    while state.statements.available_permits() < state.config.max_concurrent_statements {
        if started.elapsed() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn post_sql(sql: &str, token: Option<&str>, accept: &str) -> Request<Body> {
    let mut request = Request::post("/v1/sql").header("content-type", "application/json").header("accept", accept);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Body::from(serde_json::json!({ "sql": sql }).to_string())).expect("request")
}

async fn send(state: &ApiState, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router(state.clone()).oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes().to_vec();
    (parts.status, parts.headers, body)
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requires_the_configured_token() {
    let lake = support::one_job_lake();
    let state = state(lake.path()).await;
    for token in [None, Some("wrong"), Some("s3cre")] {
        let (status, _, _) = send(&state, post_sql("SELECT 1", token, "application/json")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}");
    }
    let get = Request::get("/v1/queries").body(Body::empty()).expect("request");
    assert_eq!(send(&state, get).await.0, StatusCode::UNAUTHORIZED);

    let (status, _, body) = send(&state, post_sql("SELECT job_id FROM job_outcomes", Some(TOKEN), "*/*")).await;
    assert_eq!(status, StatusCode::OK);
    let body = json(&body);
    assert_eq!(body["rows"], serde_json::json!([{ "job_id": "a" }]));
    assert_eq!(body["truncated"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_every_kind_of_non_query() {
    let lake = support::one_job_lake();
    let state = state(lake.path()).await;
    let cases = [
        ("CREATE TABLE t AS SELECT 1", "ddl"),
        ("DROP VIEW job_classifications", "ddl"),
        ("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'", "ddl"),
        ("INSERT INTO job_outcomes_raw SELECT * FROM job_outcomes_raw", "dml"),
        ("DELETE FROM job_outcomes_raw", "dml"),
        ("COPY (SELECT 1) TO '/tmp/failscope-copy.csv'", "copy"),
        ("SET datafusion.execution.batch_size = 1", "set"),
        ("SELECT 1; DROP VIEW job_outcomes", "multiple_statements"),
    ];
    for (sql, kind) in cases {
        let (status, _, body) = send(&state, post_sql(sql, Some(TOKEN), "application/json")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{sql}");
        assert_eq!(json(&body)["statement_kind"], kind, "{sql}");
    }
    let (status, _, body) = send(&state, post_sql("SELEC 1", Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_a_runaway_query_at_the_timeout() {
    let lake = support::one_job_lake();
    let state = state(lake.path()).await;
    let runaway = "SELECT SUM(value % 7) FROM range(100000000000000)";
    let started = std::time::Instant::now();
    let (status, _, body) = send(&state, post_sql(runaway, Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(json(&body)["code"], "statement_timeout");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_a_huge_json_result_at_the_row_cap() {
    let lake = support::one_job_lake();
    let state = state(lake.path()).await;
    let huge = "SELECT value FROM range(100000000)";
    let (status, headers, body) = send(&state, post_sql(huge, Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-failscope-truncated"], "true");
    let body = json(&body);
    assert_eq!((body["row_count"].as_u64(), body["truncated"].as_bool()), (Some(5), Some(true)));
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(5));

    let (status, headers, body) = send(&state, post_sql("SELECT value FROM range(7)", Some(TOKEN), "text/csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-failscope-truncated"], "false");
    assert_eq!(String::from_utf8_lossy(&body).lines().count(), 8, "a streamed format is not cut at the row cap");

    let accept = "application/vnd.apache.arrow.stream";
    let (_, headers, body) = send(&state, post_sql("SELECT value FROM range(3)", Some(TOKEN), accept)).await;
    assert_eq!(headers["x-failscope-truncated"], "false");
    let reader = arrow::ipc::reader::StreamReader::try_new(body.as_slice(), None).expect("arrow stream");
    let n_rows: usize = reader.map(|b| b.expect("batch").num_rows()).sum();
    assert_eq!(n_rows, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_result_past_the_byte_cap_is_refused_and_a_streamed_one_flows_in_small_pieces() {
    let lake = support::one_job_lake();
    let state = state_with(lake.path(), 4, Duration::from_secs(120)).await;
    // Five rows (within the row cap) of 100 kB each: past the 64 KiB cap.
    let wide = "SELECT repeat('x', 100000) AS filler FROM range(5)";
    let (status, _, body) = send(&state, post_sql(wide, Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(&body);
    assert_eq!(body["code"], "result_too_large");
    assert_eq!(body["max_result_bytes"], MAX_RESULT_BYTES);
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains("--max-result-bytes") && message.contains("application/x-ndjson"), "{message}");
    assert!(slots_free_within(&state, Duration::from_secs(1)).await, "the refused statement released its slot");

    // The same cap does not apply to a streamed format: 3 million rows, several hundred times
    // the cap, arrive piece by piece, each piece one batch, so that the server never holds
    // more than one. The body is read as a client reads it, frame by frame.
    let n_rows = 3_000_000;
    let sql = format!("SELECT value, value * 2 AS twice FROM range({n_rows})");
    let response = router(state.clone()).oneshot(post_sql(&sql, Some(TOKEN), "application/x-ndjson")).await;
    let response = response.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.into_body();
    let (mut n_bytes, mut largest, mut n_lines, mut n_frames) = (0usize, 0usize, 0usize, 0usize);
    let rss_before = resident_kib();
    let mut rss_peak = rss_before;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.expect("a frame").into_data() else { continue };
        rss_peak = rss_peak.max(resident_kib());
        n_frames += 1;
        n_bytes += data.len();
        largest = largest.max(data.len());
        n_lines += data.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(n_lines, n_rows, "every row streamed, none cut");
    assert!(n_bytes > 100 * MAX_RESULT_BYTES, "{n_bytes} bytes streamed");
    assert!(n_frames > 100, "{n_frames} pieces");
    assert!(largest < 1 << 20, "the largest piece is {largest} bytes: the server built more than a batch at once");
    // A figure, not a check: the test process runs other tests at the same time.
    println!(
        "streamed {n_rows} rows, {n_bytes} bytes in {n_frames} pieces, the largest {largest} bytes; \
         resident memory grew by {} KiB while streaming",
        rss_peak.saturating_sub(rss_before)
    );
    assert!(slots_free_within(&state, Duration::from_secs(1)).await, "the stream released its slot");
}

/// This process's resident memory, from `/proc/self/status`.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_result_is_cancelled_at_the_statement_timeout() {
    let lake = support::one_job_lake();
    let state = state_with(lake.path(), 1, Duration::from_millis(500)).await;
    // Rows arrive, then the stream outlives the timeout: the body ends in an error (the
    // client sees an incomplete transfer), never as if it were complete.
    let sql = format!("SELECT value FROM range(10) UNION ALL ({HEAVY})");
    let response = router(state.clone()).oneshot(post_sql(&sql, Some(TOKEN), "text/csv")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    let collected = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect()).await;
    let collected = collected.expect("the body ends within seconds");
    assert!(collected.is_err(), "the body of a timed-out statement ends in an error");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(slots_free_within(&state, Duration::from_secs(1)).await, "the cancelled stream released its slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_describes_named_queries() {
    let lake = support::one_job_lake();
    let state = state(lake.path()).await;
    let get = |uri: &str| {
        Request::get(uri).header("authorization", format!("Bearer {TOKEN}")).body(Body::empty()).expect("request")
    };
    let (status, _, body) = send(&state, get("/v1/queries")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<_> = json(&body)["queries"].as_array().expect("list").iter().map(|q| q["name"].clone()).collect();
    assert!(names.contains(&serde_json::json!("failures-by-region-hour")), "{names:?}");

    let (status, _, body) = send(&state, get("/v1/queries/top-causes")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(json(&body)["sql"].as_str().is_some_and(|s| s.contains("top_causes_by_region_day")));
    assert_eq!(send(&state, get("/v1/queries/nope")).await.0, StatusCode::NOT_FOUND);
}

/// Probes from `workers` workers of `region`, one a minute each over `[from_ms, to_ms)`, with
/// `per_minute` attempts a minute and `outcome`; `tag` keeps event ids apart between calls.
fn probes(
    region: &str,
    workers: u32,
    from_ms: i64,
    to_ms: i64,
    per_minute: u32,
    outcome: ConnectOutcome,
    tag: u32,
) -> Vec<failscope_schemas::ConnectAttempt<'static>> {
    let mut out = Vec::new();
    let mut n = tag * 1_000_000;
    let mut t = from_ms;
    while t < to_ms {
        for w in 0..workers {
            for i in 0..per_minute {
                n += 1;
                let mut c = support::probe(region, n, t + i64::from(i) * 1_000, outcome);
                c.worker_id = format!("worker-{w}-{region}").into();
                out.push(c);
            }
        }
        t += support::MINUTE;
    }
    out
}

async fn get_health(state: &ApiState, if_none_match: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::get("/v1/regions/health").header("authorization", format!("Bearer {TOKEN}"));
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    send(state, request.body(Body::empty()).expect("request")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_feed_follows_the_lake_within_a_tick_with_an_etag() {
    let lake = tempfile::tempdir().expect("temp dir");
    let now = failscope_schemas::Timestamp::now().as_millis();
    let history_from = now - 3 * 60 * support::MINUTE;
    let mut quiet = Vec::new();
    for region in ["us-east-2", "us-west-1", "fr-par"] {
        quiet.extend(probes(region, 4, history_from, now, 1, ConnectOutcome::Ok, 0));
    }
    support::write_lake(lake.path(), &[], &quiet, 0);
    let mut state = state(lake.path()).await;
    let interval = Duration::from_millis(300);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (feed, _task) = failscope_analyze::health::spawn_live(
        Arc::clone(&state.analyzer),
        failscope_analyze::health::DetectorConfig::default(),
        interval,
        None,
        shutdown.clone(),
    );
    state = state.with_health(feed);

    let region_status = |body: &[u8], region: &str| {
        let json = json(body);
        json["regions"].as_array().expect("regions").iter().find(|r| r["region"] == region).map(|r| r["status"].clone())
    };
    // The first tick replays the warm-up: until then the feed says when to come back.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (etag, body) = loop {
        let (status, headers, body) = get_health(&state, None).await;
        if status == StatusCode::OK {
            break (headers["etag"].to_str().expect("ascii").to_string(), body);
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{}", String::from_utf8_lossy(&body));
        assert!(headers.contains_key("retry-after"));
        assert!(std::time::Instant::now() < deadline, "no first tick within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(region_status(&body, "us-east-2"), Some("healthy".into()));
    assert!(etag.starts_with("W/\""), "{etag}");
    let (status, headers, body) = get_health(&state, Some(&etag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["etag"].to_str().expect("ascii"), etag);

    // us-east-2's connects start failing; the file lands in the lake and the next tick sees it.
    let failing =
        probes("us-east-2", 4, now - 2 * support::MINUTE, now + support::MINUTE, 12, ConnectOutcome::Timeout, 1);
    support::write_lake(lake.path(), &[], &failing, 1);
    let written = std::time::Instant::now();
    let changed = loop {
        let (status, headers, body) = get_health(&state, Some(&etag)).await;
        if status == StatusCode::OK {
            assert_ne!(headers["etag"].to_str().expect("ascii"), etag);
            break body;
        }
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(written.elapsed() < interval * 10, "the feed did not change within ten ticks");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let status = region_status(&changed, "us-east-2").expect("us-east-2 in the feed");
    assert!(status == "unhealthy" || status == "degraded", "{status}");
    assert_eq!(region_status(&changed, "us-west-1"), Some("healthy".into()));
    let json = json(&changed);
    let east = json["regions"].as_array().expect("regions").iter().find(|r| r["region"] == "us-east-2").expect("east");
    assert_eq!(east["kind"], "region_path");
    assert!(east["weight"].as_f64().is_some_and(|w| w < 1.0), "{east}");
    assert!(json["retry_advice"].as_array().is_some_and(|a| !a.is_empty()));
    shutdown.cancel();
}

#[tokio::test]
async fn without_the_detector_the_feed_is_not_found() {
    let lake = support::one_job_lake();
    let state = state(lake.path()).await;
    let (status, _, body) = get_health(&state, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json(&body)["code"], "disabled");
}

/// The compacted topic of the feed: every region's state keyed by region, then each change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_states_are_published_to_a_compacted_topic() {
    use rdkafka::ClientConfig;
    use rdkafka::consumer::{Consumer, StreamConsumer};
    use rdkafka::message::Message;

    let brokers = failscope_test_support::kafka::brokers();
    let topic_name = format!("region-health-{}", uuid::Uuid::now_v7().simple());
    let lake = tempfile::tempdir().expect("temp dir");
    let now = failscope_schemas::Timestamp::now().as_millis();
    let mut events = Vec::new();
    for region in ["us-east-2", "us-west-1", "fr-par"] {
        events.extend(probes(region, 4, now - 2 * 60 * support::MINUTE, now, 1, ConnectOutcome::Ok, 0));
    }
    events.extend(probes(
        "us-east-2",
        4,
        now - 2 * support::MINUTE,
        now + support::MINUTE,
        12,
        ConnectOutcome::Timeout,
        1,
    ));
    support::write_lake(lake.path(), &[], &events, 0);
    let analyzer = Arc::new(support::open(lake.path()).await);
    let topic = failscope_analyze::health::HealthTopic::open(&brokers, &topic_name).await.expect("topic set up");
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (_feed, _task) = failscope_analyze::health::spawn_live(
        analyzer,
        failscope_analyze::health::DetectorConfig::default(),
        Duration::from_millis(500),
        Some(topic),
        shutdown.clone(),
    );
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("reader-{topic_name}"))
        .set("auto.offset.reset", "earliest")
        .set("log_level", "3")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic_name]).expect("subscribe");
    let mut states = std::collections::BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !states.contains_key("us-east-2") || states.len() < 3 {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("states read within a minute: {states:?}"))
            .expect("a message");
        let key = String::from_utf8_lossy(message.key().expect("keyed by region")).into_owned();
        let state: serde_json::Value = serde_json::from_slice(message.payload().expect("payload")).expect("JSON");
        assert_eq!(state["region"], key.as_str());
        states.insert(key, state["status"].as_str().unwrap_or_default().to_string());
    }
    assert!(matches!(states["us-east-2"].as_str(), "degraded" | "unhealthy"), "{states:?}");
    assert_eq!(states["us-west-1"], "healthy");
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_whose_client_hangs_up_is_cancelled() {
    let lake = support::one_job_lake();
    let state = state_with(lake.path(), 1, Duration::from_secs(60)).await;
    // The server drops a request's future when its client disconnects: here, at 300 ms.
    let request = router(state.clone()).oneshot(post_sql(HEAVY, Some(TOKEN), "application/json"));
    assert!(tokio::time::timeout(Duration::from_millis(300), request).await.is_err(), "the statement is heavy");
    assert!(slots_free_within(&state, Duration::from_secs(1)).await, "the statement still runs after its client left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_answers_503_with_retry_after() {
    let lake = support::one_job_lake();
    let state = state_with(lake.path(), 1, Duration::from_secs(60)).await;
    let heavy = tokio::spawn(router(state.clone()).oneshot(post_sql(HEAVY, Some(TOKEN), "application/json")));
    while state.statements.available_permits() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, headers, body) = send(&state, post_sql("SELECT 1", Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(json(&body)["code"], "busy");
    heavy.abort();
    assert!(slots_free_within(&state, Duration::from_secs(1)).await, "the aborted request's statement stopped");
    let (status, _, _) = send(&state, post_sql("SELECT 1", Some(TOKEN), "application/json")).await;
    assert_eq!(status, StatusCode::OK, "a slot is free again");
}
