//! The schedule file: `[[schedule]]` tables with a name, a cron expression (UTC), the period
//! each report covers, its formats, an output directory and an optional webhook.
//!
//! ```toml
//! [[schedule]]
//! name = "daily"
//! cron = "0 6 * * *"            # minute hour day month weekday, UTC
//! period = "24h"                # the report covers the period that ends at the cron time
//! formats = ["html", "md"]
//! output_dir = "/var/lib/failscope/reports"
//! webhook = "https://hooks.slack.com/services/…"   # optional
//! link_base = "https://reports.example.com/"       # optional: links instead of paths
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use croner::Cron;
use serde::Deserialize;

use crate::report::ReportFormat;

/// A schedule, validated.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub cron: Cron,
    pub period: Duration,
    pub formats: Vec<ReportFormat>,
    pub output_dir: PathBuf,
    pub webhook: Option<String>,
    /// Prefix of the link a webhook message carries; the file's path when absent.
    pub link_base: Option<String>,
}

/// Why a schedule file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot read the schedule file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid schedule file: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    schedule: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    cron: String,
    period: String,
    formats: Vec<ReportFormat>,
    output_dir: PathBuf,
    webhook: Option<String>,
    link_base: Option<String>,
}

/// Reads and validates the schedule file at `path`.
pub fn load(path: &Path) -> Result<Vec<Schedule>, ScheduleError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ScheduleError::Read { path: path.to_path_buf(), source })?;
    parse(&text)
}

/// Validates the text of a schedule file.
pub fn parse(text: &str) -> Result<Vec<Schedule>, ScheduleError> {
    let invalid = |message: String| ScheduleError::Invalid(message);
    let file: File = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
    let mut schedules: Vec<Schedule> = Vec::with_capacity(file.schedule.len());
    for entry in file.schedule {
        let name = entry.name;
        let ok_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok_name {
            return Err(invalid(format!(
                "schedule name {name:?}: use letters, digits, '-' and '_' (it names the files)"
            )));
        }
        if schedules.iter().any(|s| s.name == name) {
            return Err(invalid(format!("two schedules are named {name:?}")));
        }
        let cron: Cron =
            entry.cron.parse().map_err(|e| invalid(format!("schedule {name:?}: cron {:?}: {e}", entry.cron)))?;
        let period = humantime::parse_duration(&entry.period)
            .map_err(|e| invalid(format!("schedule {name:?}: period {:?}: {e}", entry.period)))?;
        if period.is_zero() {
            return Err(invalid(format!("schedule {name:?}: the period must be longer than 0s")));
        }
        if entry.formats.is_empty() {
            return Err(invalid(format!("schedule {name:?}: name at least one format (md, html, json)")));
        }
        if let Some(url) = &entry.webhook
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(invalid(format!("schedule {name:?}: webhook {url:?} is not an http(s) URL")));
        }
        schedules.push(Schedule {
            name,
            cron,
            period,
            formats: entry.formats,
            output_dir: entry.output_dir,
            webhook: entry.webhook,
            link_base: entry.link_base,
        });
    }
    Ok(schedules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [[schedule]]
        name = "daily"
        cron = "0 6 * * *"
        period = "24h"
        formats = ["html", "md"]
        output_dir = "/tmp/reports"
        webhook = "http://127.0.0.1:9/hook"
    "#;

    #[test]
    fn a_schedule_file_is_validated_once() {
        let schedules = parse(GOOD).expect("valid");
        assert_eq!(schedules.len(), 1);
        assert_eq!(schedules[0].period, Duration::from_secs(86_400));
        assert_eq!(schedules[0].formats, [ReportFormat::Html, ReportFormat::Md]);
        let cases = [
            (GOOD.replace("0 6 * * *", "61 6 * * *"), "cron"),
            (GOOD.replace("24h", "a day"), "period"),
            (GOOD.replace(r#"["html", "md"]"#, r#"["pdf"]"#), "pdf"),
            (GOOD.replace(r#"["html", "md"]"#, "[]"), "at least one format"),
            (GOOD.replace("http://127.0.0.1:9/hook", "ftp://x"), "not an http(s) URL"),
            (GOOD.replace("daily", "daily/../x"), "schedule name"),
            (format!("{GOOD}{GOOD}"), "two schedules"),
            (GOOD.replace("period", "perriod"), "perriod"),
        ];
        for (text, want) in cases {
            let error = parse(&text).expect_err(want).to_string();
            assert!(error.contains(want), "{want}: {error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
    }
}
