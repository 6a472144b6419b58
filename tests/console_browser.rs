//! The web console in a real browser. The April 2022 scenario's lake is served by the API's
//! router (the one `failscope serve` runs) with a token and the region-health feed frozen at
//! the scenario's end, as `failscope demo` serves it; headless Chromium, driven over the
//! DevTools protocol, is refused a wrong token, logs in, reads every region's state on the
//! board, draws the heatmap and timeline of the whole scenario, opens an incident's affected
//! jobs and a job's evidence, runs a SQL query and reads its first row, and downloads it as
//! CSV; a server without a token opens it without a login. No console message, exception,
//! failed or foreign request is allowed after the login; screenshots are saved under the
//! test's output directory.

use crate::support;
use crate::support::devtools::Page;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use failscope_analyze::health::{DetectorConfig, HealthSnapshot, PublishedHealth, decision_tag, replay};
use failscope_analyze::http::{ApiConfig, ApiState, router};
use failscope_analyze::{Analyzer, CatalogConfig};
use failscope_schemas::Timestamp;
use serde_json::Value;

const TOKEN: &str = "console-test-token";
const WAIT: Duration = Duration::from_secs(300);

/// Serves the lake's API and console on two loopback ports, one with `TOKEN` and one without;
/// returns their origins and the snapshot the board shows.
fn serve(
    runtime: &tokio::runtime::Runtime,
    scenario: &support::scenario::ScenarioLake,
) -> (String, String, HealthSnapshot) {
    let config = CatalogConfig {
        lake: scenario.lake.clone().into(),
        queries_dir: None,
        memory_limit_bytes: None,
        target_partitions: None,
    };
    let analyzer = Arc::new(runtime.block_on(Analyzer::open(&config)).expect("open the lake"));
    let replayed =
        runtime.block_on(replay(&analyzer, scenario.truth.starts_at, frozen_at(scenario), DetectorConfig::default()));
    let replayed = replayed.expect("replay");
    let snapshot = replayed.snapshot;
    let published = PublishedHealth {
        body: bytes::Bytes::from(serde_json::to_vec(&snapshot).expect("snapshot as JSON")),
        etag: decision_tag(&snapshot),
        snapshot: Arc::new(snapshot.clone()),
    };
    let (keep, feed) = tokio::sync::watch::channel(Some(published));
    let keep = Arc::new(keep);
    let mut origins = Vec::new();
    for token in [Some(TOKEN.to_string()), None] {
        let api = ApiConfig {
            token,
            statement_timeout: WAIT,
            row_cap: 10_000,
            max_result_bytes: 64 << 20,
            max_concurrent_statements: 4,
            queue_timeout: WAIT,
        };
        let state = ApiState::new(Arc::clone(&analyzer), api).with_health(feed.clone());
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind a loopback port");
        origins.push(format!("http://{}", listener.local_addr().expect("local address")));
        let keep = Arc::clone(&keep);
        runtime.spawn(async move {
            let _keep = keep;
            axum::serve(listener, router(state)).await
        });
    }
    let open = origins.pop().expect("the server without a token");
    let locked = origins.pop().expect("the server with a token");
    (locked, open, snapshot)
}

/// When the board's feed stops: four hours into us-east-1's incident (the detector calls it
/// about three hours in), while us-east-2's is still open, so the board has sick and healthy
/// regions.
fn frozen_at(scenario: &support::scenario::ScenarioLake) -> Timestamp {
    let incident = scenario.truth.incidents.iter().find(|i| i.region == Some("us-east-1"));
    incident.expect("april-2022 has an incident in us-east-1").starts_at.add_millis(4 * 3_600_000)
}

/// The text content of every element `selector` matches, as a JSON array of strings.
fn texts(selector: &str) -> String {
    format!("Array.from(document.querySelectorAll({selector:?})).map(e => e.textContent.trim())")
}

#[test]
fn the_console_logs_in_and_shows_the_april_2022_incident() {
    let scenario = support::scenario::april_2022();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (origin, open_origin, snapshot) = serve(&runtime, scenario);
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console_browser/april-2022");
    if out.exists() {
        std::fs::remove_dir_all(&out).expect("remove the previous run's output");
    }
    let mut page = Page::launch(&out, 1366, 900);

    // The checks see what they look for: a console message and a refused request.
    page.navigate(&format!("{origin}/no-such-page"));
    page.eval("console.error('probe')");
    page.wait_for("the probe's console message", "true", WAIT);
    assert!(page.console().iter().any(|l| l.contains("probe")), "{:?}", page.console());
    assert!(
        page.failed_requests(&origin).iter().any(|r| r.contains("/no-such-page")),
        "{:?}",
        page.failed_requests(&origin)
    );

    // A wrong token is refused and the login form says so.
    page.navigate(&format!("{origin}/"));
    page.wait_for("the login form", "!document.getElementById('login').hidden", WAIT);
    assert_eq!(
        page.eval("document.getElementById('console').hidden"),
        Value::Bool(true),
        "the console shows before login"
    );
    page.screenshot("login.png", false);
    page.eval("document.getElementById('token').focus()");
    page.type_text("not-the-token");
    page.eval("document.querySelector('#login-form button').click()");
    page.wait_for(
        "the refusal",
        "document.getElementById('login-message').textContent.includes('refused') && !document.getElementById('login').hidden",
        WAIT,
    );
    assert_eq!(page.eval("sessionStorage.getItem('failscope.token')"), Value::Null, "a refused token is forgotten");

    // From here on, nothing may go wrong.
    page.clear_events();
    page.navigate(&format!("{origin}/"));
    page.wait_for("the login form", "!document.getElementById('login').hidden", WAIT);
    page.eval("document.getElementById('token').focus()");
    page.type_text(TOKEN);
    page.eval("document.querySelector('#login-form button').click()");
    let n_regions = snapshot.regions.len();
    assert!(n_regions >= 3, "the snapshot has {n_regions} regions");
    let sick: Vec<&str> =
        snapshot.regions.iter().filter(|r| r.status.as_str() == "unhealthy").map(|r| r.region.as_str()).collect();
    assert!(sick.contains(&"us-east-2"), "the frozen feed has us-east-2 unhealthy: {sick:?}");
    let cards = page.wait_for(
        "every region's card",
        &format!(
            "(() => {{ const c = Array.from(document.querySelectorAll('.region-card')).map(e => [e.dataset.region, e.dataset.status]); return c.length >= {n_regions} ? c : null }})()"
        ),
        WAIT,
    );
    assert_eq!(
        page.eval("sessionStorage.getItem('failscope.token')"),
        Value::from(TOKEN),
        "the token is kept in the session"
    );
    for region in &snapshot.regions {
        let shown = cards.as_array().expect("cards").iter().find(|c| c[0] == region.region.as_str());
        assert_eq!(
            shown.and_then(|c| c[1].as_str()),
            Some(region.status.as_str()),
            "{}'s state on the board",
            region.region
        );
    }
    let evidence = page.eval(&texts(".region-card .evidence"));
    assert_eq!(evidence.as_array().map(Vec::len), Some(n_regions), "each region's evidence: {evidence}");
    page.screenshot("board.png", false);

    // The whole scenario's heatmap and timeline, and its incidents (the default period, the
    // day before the feed's instant, may still be loading: the page drops it).
    let (since, until) = (scenario.truth.starts_at.to_string(), scenario.truth.ends_at.to_string());
    page.eval(&format!(
        "document.getElementById('period-since').value = {since:?}; document.getElementById('period-until').value = {until:?}; document.querySelector('#period-form button').click()"
    ));
    let since_shown = format!("{} UTC", &since[..16].replace('T', " "));
    page.wait_for(
        "the scenario's period",
        &format!("document.getElementById('period-message').textContent.startsWith({since_shown:?}) && document.querySelector('#incidents table')"),
        WAIT,
    );
    let heatmap_rows = page.eval(&texts("#heatmap svg.heatmap text.row-name"));
    let timeline_rows = page.eval(&texts("#timeline svg.timeline text.row-name"));
    for region in &snapshot.regions {
        let name = Value::from(region.region.as_str());
        assert!(
            heatmap_rows.as_array().is_some_and(|r| r.contains(&name)),
            "{} not in the heatmap: {heatmap_rows}",
            region.region
        );
        assert!(timeline_rows.as_array().is_some_and(|r| r.contains(&name)), "{} not in the timeline", region.region);
    }
    let n_cells = page.eval("document.querySelectorAll('#heatmap svg.heatmap rect title').length");
    assert!(n_cells.as_u64().is_some_and(|n| n > 100), "heatmap cells: {n_cells}");
    let bands = page.eval(&texts("#timeline svg.timeline rect.band title"));
    assert!(
        bands.as_array().is_some_and(|b| b
            .iter()
            .any(|t| t.as_str().is_some_and(|t| t.starts_with("us-east-2: unhealthy from 04-05 23:")))),
        "us-east-2's unhealthy band: {bands}"
    );
    page.eval("document.getElementById('period-section').scrollIntoView()");
    page.screenshot("period.png", false);

    // us-east-2's incident: its evidence, its affected jobs, and one job's evidence.
    let incident = page.eval(
        "(() => { const row = Array.from(document.querySelectorAll('#incidents tr.incident')).find(r => r.cells[0].textContent === 'region' && r.cells[1].textContent === 'us-east-2'); if (!row) return null; row.querySelector('button').click(); return row.cells[8].textContent })()",
    );
    assert!(
        incident.as_str().is_some_and(|e| e.contains("connects failed")),
        "us-east-2's incident evidence: {incident}"
    );
    let affected = page.wait_for("the incident's affected jobs", &texts("#incidents a.job-link"), WAIT);
    // The list and the report's count of affected jobs are two statements: they agree.
    let counted = page.eval(
        "Number(Array.from(document.querySelectorAll('#incidents tr.incident')).find(r => r.cells[1].textContent === 'us-east-2').cells[6].textContent)",
    );
    let listed = affected.as_array().map_or(0, Vec::len) as u64;
    assert_eq!(counted.as_u64().map(|n| n.min(100)), Some(listed), "affected jobs counted and listed");
    page.eval("document.getElementById('incidents').scrollIntoView()");
    page.screenshot("incident.png", false);
    let first_affected = affected[0].as_str().expect("a job id").to_string();
    page.eval("document.querySelector('#incidents a.job-link').click()");
    page.wait_for(
        "the affected job's evidence",
        &format!("document.querySelector('#job-result .classification[data-job={first_affected:?}]')"),
        WAIT,
    );
    let attribution = page.eval("document.querySelector('#job-result .classification .badge').textContent");
    assert_eq!(attribution, Value::from("infra"), "an affected job of a region incident is infra");

    // The SQL console: its first row is the one `failscope sql` gives.
    let query = "SELECT job_id, region, cause, rule_id FROM job_classifications WHERE region = 'us-east-2' AND attribution = 'infra' AND n_failed_connects > 0 ORDER BY finished_at, job_id LIMIT 5";
    page.eval(&format!(
        "document.getElementById('sql-text').value = {query:?}; document.getElementById('sql-run').click()"
    ));
    let said = page.wait_for(
        "the query's result",
        "(() => { const m = document.getElementById('sql-message').textContent; return m.startsWith('Running') ? null : m })()",
        WAIT,
    );
    assert_eq!(said, Value::from("5 rows"), "the SQL console's message");
    let first_row = page.eval(&texts("#sql-result tbody tr:first-child td"));
    let expected = support::sql(&scenario.lake, query);
    assert_eq!(first_row, Value::from(expected[0].clone()), "the first row");
    let columns = page.eval(&texts("#sql-result thead th"));
    assert_eq!(columns, serde_json::json!(["job_id", "region", "cause", "rule_id"]));
    page.eval("document.getElementById('sql-section').scrollIntoView()");
    page.screenshot("sql.png", false);

    // The same rows as CSV, downloaded.
    let downloads = out.join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads dir");
    page.allow_downloads(&downloads);
    page.eval("document.getElementById('sql-csv').click()");
    page.wait_for("the CSV download", "document.getElementById('sql-message').textContent.startsWith('Saved')", WAIT);
    let csv_path = downloads.join("failscope-result.csv");
    failscope_test_support::wait::wait_until("the CSV file", WAIT, &out.join("chromium.log"), || csv_path.exists());
    let csv = std::fs::read_to_string(&csv_path).expect("read the CSV");
    assert_eq!(csv.lines().next(), Some("job_id,region,cause,rule_id"), "{csv}");
    assert_eq!(
        csv.lines().nth(1).map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>()),
        Some(expected[0].clone())
    );

    // The first row's job, opened from the job form: its classification and its connects.
    let job_id = expected[0][0].clone();
    page.eval(&format!(
        "document.getElementById('job-id').value = {job_id:?}; document.querySelector('#job-form button').click()"
    ));
    page.wait_for(
        "the job's evidence",
        &format!("document.querySelector('#job-result .classification[data-job={job_id:?}]') && document.querySelector('#job-connects tbody tr')"),
        WAIT,
    );
    let facts = page.eval(&texts("#job-result .classification table.facts td"));
    let facts = facts.as_array().expect("facts");
    assert!(facts.contains(&Value::from(expected[0][3].as_str())), "the rule {} in {facts:?}", expected[0][3]);
    let heading = page.eval("document.querySelector('#job-result .classification h3').textContent");
    assert!(heading.as_str().is_some_and(|h| h.contains(&expected[0][2])), "the cause {} in {heading}", expected[0][2]);
    let failed_connects = page.eval("document.querySelectorAll('#job-connects tr.failed').length");
    assert!(failed_connects.as_u64().is_some_and(|n| n > 0), "a job with failed connects shows them");
    page.screenshot("job.png", false);
    page.eval("window.scrollTo(0, 0)");
    page.screenshot("full.png", true);

    assert_eq!(page.console(), Vec::<String>::new(), "console messages");
    assert_eq!(page.failed_requests(&origin), Vec::<String>::new(), "failed or foreign requests");

    // A server without a token (loopback only) opens the console without a login.
    page.clear_events();
    page.navigate(&format!("{open_origin}/"));
    page.wait_for(
        "the board without a login",
        &format!("document.querySelectorAll('.region-card').length >= {n_regions}"),
        WAIT,
    );
    let shown = page.eval(
        "[document.getElementById('login').hidden, document.getElementById('logout').hidden, sessionStorage.getItem('failscope.token')]",
    );
    assert_eq!(shown, serde_json::json!([true, true, null]), "login form, log-out button, stored token");
    assert_eq!(page.console(), Vec::<String>::new(), "console messages without a token");
    assert_eq!(page.failed_requests(&open_origin), Vec::<String>::new(), "failed or foreign requests without a token");
}
