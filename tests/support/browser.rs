//! Headless Chromium for the browser tests (Debian's `chromium`, installed by
//! `scripts/test.sh`; `FAILSCOPE_CHROMIUM` names another): the command with the flags that keep
//! it on loopback and quiet, what its net log says the page fetched from elsewhere, and the
//! markup of a chart in a page's DOM. [`super::devtools`] drives a page through it.

use std::path::Path;
use std::process::Command;

pub(crate) fn chromium() -> String {
    std::env::var("FAILSCOPE_CHROMIUM").unwrap_or_else(|_| "chromium".to_string())
}

/// Chromium with a profile under `out`, and flags that keep it on loopback and quiet: no
/// background requests, no name resolution.
pub(crate) fn browser(out: &Path) -> Command {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command.arg(format!("--user-data-dir={}", out.join("profile").display()));
    command
}

/// Requests the page itself (its origin as initiator) made to any other origin, from the net
/// log Chromium wrote with `--log-net-log`.
pub(crate) fn foreign_requests(net_log: &Path, origin: &str) -> Vec<String> {
    let text = std::fs::read_to_string(net_log).expect("chromium wrote its net log");
    // Chromium may leave the log's closing bracket out when it exits.
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .expect("the net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].as_u64();
    log["events"]
        .as_array()
        .expect("net log events")
        .iter()
        .filter(|e| e["type"].as_u64() == start_job && e["params"]["initiator"].as_str() == Some(origin))
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|url| !url.starts_with(&format!("{origin}/")))
        .map(str::to_string)
        .collect()
}

/// The markup of the first `<svg>` whose class list holds `class`.
pub(crate) fn chart<'a>(dom: &'a str, class: &str) -> &'a str {
    let start = dom.find(&format!("class=\"chart {class}\"")).unwrap_or_else(|| panic!("no {class} chart in the DOM"));
    let end = dom[start..].find("</svg>").map_or(dom.len(), |e| start + e);
    &dom[start..end]
}
