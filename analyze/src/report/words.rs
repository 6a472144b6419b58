//! How the renderings write instants, shares, scopes and evidence, so that Markdown and HTML
//! say the same thing in the same words.

use failscope_schemas::Timestamp;

use super::model::Incident;
use crate::health::{Evidence, Scope};

/// `2022-04-05 23:46` (UTC).
pub(crate) fn time(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M").to_string()
}

/// `12.3 %`.
pub(crate) fn percent(share: f64) -> String {
    format!("{:.1} %", share * 100.0)
}

pub(crate) fn scope(scope: Scope) -> &'static str {
    match scope {
        Scope::Region => "region",
        Scope::Target => "target",
        Scope::Worker => "worker",
        Scope::Project => "project",
    }
}

/// The end of an incident, or that it is still open.
pub(crate) fn end(incident: &Incident) -> String {
    incident.end.map_or_else(|| "still open".to_string(), time)
}

/// One sentence of the numbers that decided a state.
pub(crate) fn evidence(scope: Scope, e: &Evidence) -> String {
    if scope == Scope::Project {
        return e.note.clone().unwrap_or_else(|| format!("{} of {} jobs failed", e.jobs.n_failed, e.jobs.n_jobs));
    }
    let mut line = format!(
        "{} of {} connects failed ({}, baseline {}",
        e.n_failed,
        e.n_attempts,
        percent(e.rate),
        percent(e.baseline_rate)
    );
    if let Some(peers) = e.peer_rate {
        line.push_str(&format!(", peers {}", percent(peers)));
    }
    line.push(')');
    let targets: Vec<&str> = e.targets.iter().take(4).map(|t| t.target.as_str()).collect();
    if !targets.is_empty() {
        line.push_str(&format!("; targets {}", targets.join(", ")));
    }
    if !e.involved.is_empty() {
        line.push_str(&format!("; involved {}", e.involved.iter().take(6).cloned().collect::<Vec<_>>().join(", ")));
    }
    if let Some(since) = e.since {
        line.push_str(&format!("; signal since {}", time(since)));
    }
    line
}
