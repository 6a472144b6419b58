//! Report schedules: `failscope serve --report-schedules FILE` makes reports at cron times,
//! writes them atomically into a directory, and announces each on a webhook.
//!
//! The schedule file is TOML, validated once at start-up ([`load`]); each schedule runs as a
//! task of the server ([`spawn_schedules`]) that stops on the shutdown token. A report that
//! cannot be built or written, or a webhook that keeps failing, is logged and the schedule
//! carries on with its next time: a schedule never stops the server.

mod config;
mod runner;
mod webhook;

pub use config::{Schedule, ScheduleError, load, parse};
pub use runner::{Clock, spawn_schedules};
pub use webhook::{RetryPolicy, WebhookMessage};
