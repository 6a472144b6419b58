//! Driving a page in headless Chromium over the DevTools protocol (a WebSocket on a loopback
//! port): navigate, evaluate script, type, wait on a condition in the page with a deadline,
//! save screenshots, and keep every console message, uncaught exception, browser log entry
//! and failed or foreign request the page caused, for the test to assert there were none.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::browser::{browser, chromium};

/// How long one DevTools command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A headless Chromium with one page, killed when dropped.
pub(crate) struct Page {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    events: Vec<Value>,
    out: PathBuf,
}

impl Page {
    /// Starts Chromium with its profile and log under `out`, a `width` × `height` viewport and
    /// an empty page whose console, log and network are watched.
    pub(crate) fn launch(out: &Path, width: u32, height: u32) -> Page {
        let profile = out.join("profile");
        if profile.exists() {
            std::fs::remove_dir_all(&profile).expect("remove the previous profile");
        }
        std::fs::create_dir_all(out).expect("output dir");
        let log = std::fs::File::create(out.join("chromium.log")).expect("chromium log");
        let child = browser(out)
            .args(["--remote-debugging-port=0", &format!("--window-size={width},{height}"), "about:blank"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} (scripts/test.sh installs Debian's chromium): {e}", chromium()));
        // Chromium writes its port and the browser's WebSocket path here once it listens.
        let port_file = profile.join("DevToolsActivePort");
        let started = Instant::now();
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let [port, path] = text.lines().collect::<Vec<_>>()[..]
            {
                break format!("ws://127.0.0.1:{port}{path}");
            }
            assert!(
                started.elapsed() < COMMAND_TIMEOUT,
                "chromium did not listen: {}",
                out.join("chromium.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let (socket, _) = tungstenite::connect(&endpoint).expect("connect to chromium's DevTools");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream.set_read_timeout(Some(COMMAND_TIMEOUT)).expect("read timeout");
        }
        let mut page =
            Page { child, socket, session: String::new(), next_id: 0, events: Vec::new(), out: out.to_path_buf() };
        let target = page.browser_command("Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().expect("a target id").to_string();
        let attached = page.browser_command("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true }));
        page.session = attached["sessionId"].as_str().expect("a session id").to_string();
        for domain in ["Runtime.enable", "Log.enable", "Network.enable", "Page.enable"] {
            page.command(domain, json!({}));
        }
        page.command(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        page
    }

    /// Loads `url` and waits until the document and its scripts have loaded.
    pub(crate) fn navigate(&mut self, url: &str) {
        self.command("Page.navigate", json!({ "url": url }));
        self.wait_for(&format!("{url} to load"), "document.readyState === 'complete'", COMMAND_TIMEOUT);
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON.
    pub(crate) fn eval(&mut self, expression: &str) -> Value {
        let result = self.command(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(details) = result.get("exceptionDetails") {
            panic!("{expression} threw: {details}");
        }
        result["result"]["value"].clone()
    }

    /// Polls `expression` until it is truthy, then returns its value; fails after `deadline`
    /// with what the page logged.
    pub(crate) fn wait_for(&mut self, what: &str, expression: &str, deadline: Duration) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(expression);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                started.elapsed() < deadline,
                "not within {deadline:?}: {what}\nconsole: {:?}\nrequests: {:?}",
                self.console(),
                self.failed_requests("")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Types `text` into the focused element, as a keyboard would.
    pub(crate) fn type_text(&mut self, text: &str) {
        self.command("Input.insertText", json!({ "text": text }));
    }

    /// Lets the page save downloads into `dir`.
    pub(crate) fn allow_downloads(&mut self, dir: &Path) {
        let path = dir.to_str().expect("a UTF-8 path");
        self.browser_command("Browser.setDownloadBehavior", json!({ "behavior": "allow", "downloadPath": path }));
    }

    /// Saves the viewport (or the whole page) as `name` under the output directory.
    pub(crate) fn screenshot(&mut self, name: &str, whole_page: bool) -> PathBuf {
        let mut params = json!({ "format": "png" });
        if whole_page {
            let metrics = self.command("Page.getLayoutMetrics", json!({}));
            let size = &metrics["cssContentSize"];
            params["clip"] = json!({ "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 });
            params["captureBeyondViewport"] = json!(true);
        }
        let shot = self.command("Page.captureScreenshot", params);
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("screenshot data"))
            .expect("base64 screenshot");
        let path = self.out.join(name);
        std::fs::write(&path, png).expect("write the screenshot");
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Forgets what the page logged and requested so far.
    pub(crate) fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Console messages, uncaught exceptions and browser log entries, one line each.
    pub(crate) fn console(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| {
                let p = &e["params"];
                match e["method"].as_str()? {
                    "Runtime.consoleAPICalled" => Some(format!("console.{}: {}", p["type"], p["args"])),
                    "Runtime.exceptionThrown" => Some(format!("exception: {}", p["exceptionDetails"])),
                    "Log.entryAdded" => {
                        Some(format!("log {}: {} ({})", p["entry"]["level"], p["entry"]["text"], p["entry"]["url"]))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// Requests answered with a status of 400 or more, requests that failed (but for those
    /// the page cancelled), and requests to anything but `origin` (unless `origin` is empty),
    /// one line each.
    pub(crate) fn failed_requests(&self, origin: &str) -> Vec<String> {
        let mut urls: HashMap<&str, &str> = HashMap::new();
        let mut failed = Vec::new();
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str() {
                Some("Network.requestWillBeSent") => {
                    let url = p["request"]["url"].as_str().unwrap_or("");
                    urls.insert(p["requestId"].as_str().unwrap_or(""), url);
                    let local = url.starts_with(&format!("{origin}/"))
                        || ["data:", "blob:", "about:"].iter().any(|s| url.starts_with(s));
                    if !origin.is_empty() && !local {
                        failed.push(format!("foreign request: {url}"));
                    }
                }
                Some("Network.responseReceived") if p["response"]["status"].as_u64().is_some_and(|s| s >= 400) => {
                    failed.push(format!("{}: {}", p["response"]["url"], p["response"]["status"]));
                }
                // A request the page itself aborted is no failure.
                Some("Network.loadingFailed") if p["canceled"] != Value::Bool(true) => {
                    let url = urls.get(p["requestId"].as_str().unwrap_or("")).copied().unwrap_or("?");
                    failed.push(format!("{url}: {}", p["errorText"]));
                }
                _ => {}
            }
        }
        failed
    }

    /// A command to the page's session; returns its result.
    fn command(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    /// A command to the browser itself.
    fn browser_command(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(message.to_string())).unwrap_or_else(|e| panic!("send {method}: {e}"));
        loop {
            let text = match self.socket.read().unwrap_or_else(|e| panic!("no answer to {method}: {e}")) {
                Message::Text(text) => text,
                _ => continue,
            };
            let value: Value = serde_json::from_str(text.as_str()).expect("DevTools messages are JSON");
            if value["id"].as_u64() == Some(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method} failed: {error}");
                }
                return value["result"].clone();
            }
            if value.get("method").is_some() {
                self.events.push(value);
            }
        }
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
