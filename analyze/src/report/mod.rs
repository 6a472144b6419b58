//! Anomaly reports: what was anomalous in a period (incidents, flagged targets, quarantined
//! workers, user storms), with the charts behind it (infra-failure heatmap, connect failures
//! per target, the health timeline, top causes and signatures, the classifier's coverage).
//!
//! The report is analysis: [`build`] replays the detector and runs `queries/report/` into a
//! [`Report`] value, which [`render`] writes as Markdown, self-contained HTML or JSON. Reports
//! are deterministic: the same lake gives the same bytes but for the generated-at line.
//! `failscope report` and the schedules of `failscope serve` are front ends over it.

pub(crate) mod figures;
mod html;
mod incidents;
mod markdown;
mod model;
mod output;
mod rows;
pub mod schedule;
pub(crate) mod words;

pub use html::html;
pub use incidents::{Band, Episode};
pub use markdown::markdown;
pub use model::{
    CauseCount, Incident, RegionHour, RegionTimeline, Report, SignatureCount, Summary, TargetHour, UnknownHour, build,
    build_from_replay,
};
pub use output::{ReportFormat, render, write_atomically};
