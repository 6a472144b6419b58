//! The April 2022 anomaly report in a real browser: the scenario runs through the embedded
//! broker and the ingest into a lake (shared with the console's test), the real `failscope report` writes the HTML, and headless
//! Chromium (Debian's `chromium`, installed by `scripts/test.sh`) loads it from a loopback
//! server. The test fails on any console message or failed request, checks the DOM for the
//! heatmap, the timeline and every region's name, and saves screenshots under the test's
//! output directory. A broken page goes through the same checks first, so that they are
//! known to catch what they look for.

use crate::support;
use crate::support::browser::{browser, chart, chromium, foreign_requests};

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the browser did with a page.
#[derive(Debug)]
struct Visit {
    dom: String,
    console: Vec<String>,
    /// Requests the loopback server answered with anything but 200, and requests the page made
    /// to any other origin.
    failed_requests: Vec<String>,
}

/// The requests a loopback server answered: path and status.
type Served = Arc<Mutex<Vec<(String, u16)>>>;

/// Serves `page` at `/report.html` on a loopback port, answering 404 to anything else and
/// recording every request with its status.
fn serve(page: Vec<u8>) -> (String, Served) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let origin = format!("http://{}", listener.local_addr().expect("local address"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            // A preconnected socket closed unused sends no request line.
            if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
                continue;
            }
            // Read the headers to their end before answering.
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let (status, body): (u16, &[u8]) = if path == "/report.html" { (200, &page) } else { (404, b"not found") };
            seen.lock().expect("log lock").push((path, status));
            let head = format!(
                "HTTP/1.1 {status} {}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                if status == 200 { "OK" } else { "Not Found" },
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
        }
    });
    (origin, log)
}

fn visit(page: &[u8], out: &Path, screenshots: &[(&str, u32, u32)]) -> Visit {
    std::fs::create_dir_all(out).expect("output dir");
    let (origin, served) = serve(page.to_vec());
    let url = format!("{origin}/report.html");
    let net_log = out.join("net-log.json");
    let output = browser(out)
        .arg(format!("--log-net-log={}", net_log.display()))
        .args(["--dump-dom", &url])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (scripts/test.sh installs Debian's chromium): {e}", chromium()));
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let console: Vec<String> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    let mut failed_requests: Vec<String> = served
        .lock()
        .expect("log lock")
        .iter()
        .filter(|(_, status)| *status != 200)
        .map(|(path, status)| format!("{origin}{path}: {status}"))
        .collect();
    failed_requests.extend(foreign_requests(&net_log, &origin));
    for (name, width, height) in screenshots {
        let path = out.join(name);
        let shot = browser(out)
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--screenshot={}", path.display()))
            .arg(&url)
            .output()
            .expect("run chromium for a screenshot");
        assert!(shot.status.success() && path.exists(), "no screenshot: {}", String::from_utf8_lossy(&shot.stderr));
        eprintln!("screenshot: {}", path.display());
    }
    Visit { dom: String::from_utf8_lossy(&output.stdout).into_owned(), console, failed_requests }
}

#[test]
fn the_checks_catch_a_broken_page() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_browser/broken");
    let page = br#"<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>
        <img src="missing.png"><img src="http://cdn.example.com/chart.js">
        <script>console.error("boom")</script></body></html>"#;
    let visit = visit(page, &out, &[]);
    assert!(visit.console.iter().any(|l| l.contains("boom")), "{:?}", visit.console);
    assert!(visit.failed_requests.iter().any(|r| r.ends_with("/missing.png: 404")), "{:?}", visit.failed_requests);
    assert!(visit.failed_requests.iter().any(|r| r.contains("cdn.example.com")), "{:?}", visit.failed_requests);
}

#[test]
fn the_april_2022_report_renders_in_a_browser() {
    let scenario = support::scenario::april_2022();
    let lake = &scenario.lake;
    let regions: BTreeSet<&str> = scenario.truth.jobs.iter().map(|j| j.region).collect();
    assert!(regions.len() >= 3, "{regions:?}");

    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_browser/april-2022");
    std::fs::create_dir_all(&out).expect("output dir");
    let html = out.join("report.html");
    let report = support::failscope()
        .args(["report", "--format", "html", "--lake"])
        .arg(lake)
        .args(["--since", &scenario.truth.starts_at.to_string(), "--until", &scenario.truth.ends_at.to_string()])
        .arg("--out")
        .arg(&html)
        .output()
        .expect("run failscope report");
    assert!(report.status.success(), "{}", String::from_utf8_lossy(&report.stderr));
    let page = std::fs::read(&html).expect("the report was written");

    let visit = visit(&page, &out, &[("laptop.png", 1366, 768), ("full.png", 1366, 3900)]);
    assert_eq!(visit.console, Vec::<String>::new(), "console messages");
    assert_eq!(visit.failed_requests, Vec::<String>::new(), "failed or foreign requests");
    let (heatmap, timeline) = (chart(&visit.dom, "heatmap"), chart(&visit.dom, "timeline"));
    for region in &regions {
        let label = format!(">{region}</text>");
        assert!(heatmap.contains(&label), "{region} is not named in the heatmap");
        assert!(timeline.contains(&label), "{region} is not named in the timeline");
    }
    assert!(timeline.contains("<title>us-east-2: unhealthy from 04-05 23:"), "us-east-2's unhealthy band");
    assert!(heatmap.matches("<rect").count() > 100, "the heatmap has its cells");
    for id in ["incidents", "connect-failures", "top-causes", "unknown-rate"] {
        assert!(visit.dom.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
}
