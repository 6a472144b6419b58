//! The live detector as a task: a tick every interval on the freshest lake, each new state
//! published (already encoded, with its entity tag) for the front ends to serve.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use failscope_schemas::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::config::DetectorConfig;
use super::feed::HealthSnapshot;
use super::replay::LiveDetector;
use super::topic::HealthTopic;
use crate::analyzer::Analyzer;

/// One published state of the feed.
#[derive(Debug, Clone)]
pub struct PublishedHealth {
    pub snapshot: Arc<HealthSnapshot>,
    /// The snapshot as JSON, encoded once for every reader.
    pub body: Bytes,
    /// A weak entity tag that changes when a decision changes: a region's status, weight or
    /// kind, or a flagged target, quarantined worker or storming project. Evidence numbers
    /// that move within one decision do not change it.
    pub etag: String,
}

/// What the front ends hold: the latest published state, `None` until the first tick.
pub type HealthFeed = watch::Receiver<Option<PublishedHealth>>;

/// Starts the feed: a channel to read, and the task that fills it until `shutdown`.
/// With a `topic`, every region's state is also produced to Kafka when it changes.
pub fn spawn_live(
    analyzer: Arc<Analyzer>,
    config: DetectorConfig,
    interval: Duration,
    topic: Option<HealthTopic>,
    shutdown: CancellationToken,
) -> (HealthFeed, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(None);
    let task = tokio::spawn(run_live(analyzer, config, interval, tx, topic, shutdown));
    (rx, task)
}

/// Ticks every `interval` until `shutdown`. A failed tick (the lake unreadable, a query out of
/// memory) is logged and retried at the next one; the feed keeps its last state, whose `at`
/// tells how old it is.
async fn run_live(
    analyzer: Arc<Analyzer>,
    config: DetectorConfig,
    interval: Duration,
    tx: watch::Sender<Option<PublishedHealth>>,
    mut topic: Option<HealthTopic>,
    shutdown: CancellationToken,
) {
    let mut live: Option<LiveDetector> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        let now = Timestamp::now();
        let ticked = match live.as_mut() {
            Some(detector) => detector.tick(&analyzer, now).await,
            None => match LiveDetector::start(&analyzer, now, config.clone()).await {
                Ok((detector, changes)) => {
                    live = Some(detector);
                    Ok(changes)
                }
                Err(e) => Err(e),
            },
        };
        match ticked {
            Ok(changes) => {
                for c in &changes {
                    info!(scope = ?c.scope, name = %c.name, status = c.status.as_str(), previous = c.previous.as_str(),
                        kind = c.kind.map(|k| k.as_str()), at = %c.at, "health state changed");
                }
                if let Some(detector) = &live {
                    let snapshot = detector.snapshot();
                    if let Some(topic) = topic.as_mut() {
                        topic.publish(&snapshot, &changes).await;
                    }
                    tx.send_replace(publish(snapshot));
                }
            }
            Err(e) => warn!(error = %format!("{e:#}"), "detector tick failed; retrying at the next"),
        }
    }
}

fn publish(snapshot: HealthSnapshot) -> Option<PublishedHealth> {
    let body = match serde_json::to_vec(&snapshot) {
        Ok(body) => Bytes::from(body),
        Err(e) => {
            warn!(error = %e, "cannot encode the health snapshot");
            return None;
        }
    };
    let etag = decision_tag(&snapshot);
    Some(PublishedHealth { snapshot: Arc::new(snapshot), body, etag })
}

/// The weak entity tag of a snapshot's decisions.
pub fn decision_tag(snapshot: &HealthSnapshot) -> String {
    let mut h = DefaultHasher::new();
    for r in &snapshot.regions {
        (&r.region, r.status.as_str(), r.kind.map(|k| k.as_str()), r.steer_away, r.since).hash(&mut h);
        r.weight.to_bits().hash(&mut h);
    }
    for flags in [&snapshot.flagged_targets, &snapshot.quarantined_workers, &snapshot.user_storms] {
        for f in flags {
            (&f.name, f.status.as_str(), f.since).hash(&mut h);
        }
        0u8.hash(&mut h);
    }
    format!("W/\"{:016x}\"", h.finish())
}
