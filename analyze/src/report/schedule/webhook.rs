//! Announcing a report on a webhook: a POST of a Slack-compatible JSON body (`text`, plus the
//! report's location for other receivers), retried with a doubling back-off and logged; a
//! webhook that keeps failing costs a log line, never the server.

use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The body of the POST. Slack reads `text` (and ignores the rest); other receivers find the
/// report in `report` and `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookMessage {
    /// A short summary that names the report's link or path.
    pub text: String,
    pub schedule: String,
    pub since: String,
    pub until: String,
    /// Link or path of the first format written.
    pub report: String,
    /// Links or paths of every format written.
    pub files: Vec<String>,
}

/// How often and how patiently a POST is tried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Longest one request may take, on the wall clock.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// POSTs `message` to `url` until a 2xx answer, at most `policy.attempts` times; true when
/// delivered. Stops early, undelivered, when `shutdown` fires.
pub(crate) async fn deliver(
    url: &str,
    message: &WebhookMessage,
    policy: RetryPolicy,
    shutdown: &CancellationToken,
) -> bool {
    let body = match serde_json::to_vec(message) {
        Ok(body) => body,
        Err(e) => {
            warn!(error = %e, "cannot encode the webhook message");
            return false;
        }
    };
    let mut delay = policy.first_delay;
    for attempt in 1..=policy.attempts {
        let (url_owned, body) = (url.to_string(), body.clone());
        // The blocking client runs its own runtime, so its timeout is measured on the wall
        // clock even when the scheduler's clock is paused in a test.
        let sent = tokio::task::spawn_blocking(move || post(&url_owned, body, policy.request_timeout)).await;
        let failure = match sent {
            Ok(Ok(())) => {
                info!(schedule = %message.schedule, attempt, "report announced on the webhook");
                return true;
            }
            Ok(Err(reason)) => reason,
            Err(e) => format!("the sending task failed: {e}"),
        };
        if attempt == policy.attempts {
            warn!(schedule = %message.schedule, attempt, reason = %failure, "webhook failed; giving up on this report");
            break;
        }
        warn!(schedule = %message.schedule, attempt, reason = %failure, retry_in = ?delay, "webhook failed; retrying");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => return false,
        }
        delay = (delay * 2).min(policy.max_delay);
    }
    false
}

fn post(url: &str, body: Vec<u8>, timeout: Duration) -> Result<(), String> {
    let client = reqwest::blocking::Client::builder().timeout(timeout).build().map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .map_err(|e| format!("{e:#}"))?;
    let status = response.status();
    if status.is_success() { Ok(()) } else { Err(format!("answered {status}")) }
}
