//! Region health: a detector that says which region is sick, since when, where the fault is
//! (the region's path, a target everyone fails to reach, a few bad hosts, a resolver, or the
//! users' own storm), how much traffic each region should get, and the timeline of it all.
//!
//! It reads per-minute counts from the lake (`queries/health/`), once for a replay (judging
//! the minutes read while it reads on) or for the last minutes on every live tick, and steps
//! through event time one minute at a time with the same code in both cases. It is analysis only: it knows nothing of HTTP; the feed and
//! the `failscope health` command are front ends over it.

mod assess;
mod baseline;
mod config;
mod connect_read;
mod detector;
mod feed;
mod hour_fold;
mod live;
mod observations;
mod reading;
mod replay;
mod state;
mod stats;
mod timeline;
mod topic;
mod windows;

pub use config::DetectorConfig;
pub use detector::Detector;
pub use feed::{
    Evidence, Flag, HealthChange, HealthSnapshot, JobEvidence, Kind, Outcomes, RegionHealth, RetryAdvice, Scope,
    Status, TargetEvidence,
};
pub use live::{HealthFeed, PublishedHealth, decision_tag, spawn_live};
pub use observations::Observations;
pub use replay::{LiveDetector, Replay, replay};
pub use timeline::{FUNCTION_NAME as TIMELINE_FUNCTION, HealthChanges};
pub use topic::{HealthTopic, TopicError};
