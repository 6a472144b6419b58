//! The emitter every worker-side command uses: spool first, then produce, then forget, so an
//! event survives a broker outage and a crash, and is produced under one `event_id` only.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use failscope_schemas::{Event, decode};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use crate::loss::loss_marker;
use crate::spool::{Spool, SpoolError};
use crate::{KafkaError, ProducerConfig, Topics, WorkerIdentity, new_producer};

/// How many spooled events are produced concurrently during redelivery.
const REDELIVERY_BATCH: usize = 500;

/// Why an event could not be emitted (neither delivered nor spooled).
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("cannot serialize event")]
    Serialize(#[source] serde_json::Error),
    #[error("spool task failed")]
    Join(#[source] tokio::task::JoinError),
}

/// Where an emitted event is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Acknowledged by the broker.
    Delivered,
    /// Kept in the spool for a later redelivery.
    Spooled,
    /// Neither spooled (the spool could not be written) nor acknowledged: counted as a loss,
    /// which the next loss marker reports.
    Lost,
}

/// Everything the emitter needs, validated.
#[derive(Debug, Clone)]
pub struct EmitterConfig {
    pub brokers: String,
    pub topics: Topics,
    pub spool_dir: PathBuf,
    pub max_spool_bytes: u64,
    /// How long one produce may wait for acknowledgement before the event stays spooled.
    pub delivery_timeout: Duration,
    pub identity: WorkerIdentity,
}

/// Counters of one emitter, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitterStats {
    pub(crate) n_delivered: u64,
    /// Events currently in the spool.
    pub n_spooled: u64,
    /// Events dropped: the spool was full, an event could neither be spooled nor delivered,
    /// or a spooled entry no longer decoded.
    pub n_dropped: u64,
    /// Events produced without the spool because it could not be written (a full disk).
    pub n_unspooled: u64,
    /// Spooled entries that no longer decoded as events (counted in `n_dropped` too).
    pub n_undecodable: u64,
}

/// Produces contract events to Kafka through a durable spool.
#[derive(Clone)]
pub struct Emitter {
    producer: FutureProducer,
    topics: Topics,
    spool: Arc<Mutex<Spool>>,
    identity: WorkerIdentity,
    delivery_timeout: Duration,
    n_delivered: Arc<AtomicU64>,
    n_unspooled: Arc<AtomicU64>,
    n_undecodable: Arc<AtomicU64>,
}

impl Emitter {
    /// Opens the spool (adopting events of dead processes) and creates the producer. Does not
    /// contact the broker.
    pub fn open(config: EmitterConfig) -> Result<Emitter, EmitError> {
        let spool = Spool::open(&config.spool_dir, config.max_spool_bytes)?;
        let producer = new_producer(&ProducerConfig {
            brokers: config.brokers.clone(),
            delivery_timeout: config.delivery_timeout,
        })?;
        Ok(Emitter {
            producer,
            topics: config.topics,
            spool: Arc::new(Mutex::new(spool)),
            identity: config.identity,
            delivery_timeout: config.delivery_timeout,
            n_delivered: Arc::new(AtomicU64::new(0)),
            n_unspooled: Arc::new(AtomicU64::new(0)),
            n_undecodable: Arc::new(AtomicU64::new(0)),
        })
    }

    pub(crate) fn identity(&self) -> &WorkerIdentity {
        &self.identity
    }

    /// Spools `event`, then produces it. An event the broker does not acknowledge within the
    /// delivery timeout stays spooled and goes out with [`Emitter::redeliver`]. If the spool
    /// cannot be written (a full disk), the event is produced directly, without the spool's
    /// guarantee: counted in `n_unspooled`, and as a loss if it is not acknowledged either.
    pub async fn emit(&self, event: &Event<'_>) -> Result<Delivery, EmitError> {
        let payload = match event {
            Event::ConnectAttempt(e) => serde_json::to_vec(e),
            Event::JobOutcome(e) => serde_json::to_vec(e),
        }
        .map_err(EmitError::Serialize)?;
        let spool = self.spool.clone();
        let spooled = {
            let payload = payload.clone();
            tokio::task::spawn_blocking(move || lock(&spool).append(&payload)).await.map_err(EmitError::Join)?
        };
        match spooled {
            Ok(key) => self.deliver(Some(key), payload).await,
            Err(e @ SpoolError::Io { .. }) => {
                self.n_unspooled.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %format!("{:#}", anyhow::Error::from(e)), "cannot spool an event; producing it directly");
                self.deliver(None, payload).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Produces everything in the spool, oldest first, preceded by a loss marker if events
    /// were dropped. Stops at the first batch with a failure (the broker is likely down) and
    /// returns how many events are still spooled.
    pub async fn redeliver(&self) -> Result<usize, EmitError> {
        let spool = self.spool.clone();
        let identity = self.identity.clone();
        tokio::task::spawn_blocking(move || {
            let mut spool = lock(&spool);
            let n_lost = spool.n_unreported_drops();
            if n_lost == 0 {
                return Ok(());
            }
            let payload = serde_json::to_vec(&loss_marker(&identity, n_lost)).map_err(EmitError::Serialize)?;
            let key = spool.append_loss_marker(&payload, n_lost)?;
            spool.release(&key);
            Ok::<_, EmitError>(())
        })
        .await
        .map_err(EmitError::Join)??;
        loop {
            let spool = self.spool.clone();
            let batch = tokio::task::spawn_blocking(move || lock(&spool).claim_pending(REDELIVERY_BATCH))
                .await
                .map_err(EmitError::Join)??;
            if batch.is_empty() {
                break;
            }
            let mut in_flight: FuturesUnordered<_> =
                batch.into_iter().map(|entry| self.deliver(Some(entry.key), entry.payload)).collect();
            let mut all_delivered = true;
            while let Some(result) = in_flight.next().await {
                // A lost (undecodable) entry is gone; only one still spooled means the broker is away.
                all_delivered &= result? != Delivery::Spooled;
            }
            if !all_delivered {
                break;
            }
        }
        Ok(lock(&self.spool).len())
    }

    pub fn stats(&self) -> EmitterStats {
        let spool = lock(&self.spool);
        EmitterStats {
            n_delivered: self.n_delivered.load(Ordering::Relaxed),
            n_spooled: spool.len() as u64,
            n_dropped: spool.n_dropped_total(),
            n_unspooled: self.n_unspooled.load(Ordering::Relaxed),
            n_undecodable: self.n_undecodable.load(Ordering::Relaxed),
        }
    }

    /// Produces `payload`; `key` is its spool entry, `None` for an event the spool could not
    /// take.
    async fn deliver(&self, key: Option<String>, payload: Vec<u8>) -> Result<Delivery, EmitError> {
        let event = match decode(&payload) {
            Ok(event) => event,
            Err(e) => {
                // Only a spooled entry can fail here (emit serialized a valid event): a
                // corrupt or foreign file. It is a lost event, reported by the loss marker.
                tracing::warn!(key, error = %e, "dropping a spooled entry that is not a valid event; counted as lost");
                self.n_undecodable.fetch_add(1, Ordering::Relaxed);
                let spool = self.spool.clone();
                tokio::task::spawn_blocking(move || {
                    let mut spool = lock(&spool);
                    spool.record_loss(1);
                    key.map_or(Ok(()), |key| spool.remove(&key))
                })
                .await
                .map_err(EmitError::Join)??;
                return Ok(Delivery::Lost);
            }
        };
        let topic = self.topics.of(event.event_type());
        let record =
            FutureRecord::to(topic).key(event.worker_id()).payload(&payload).timestamp(event.event_time().as_millis());
        let result = self.producer.send(record, Timeout::After(self.delivery_timeout)).await;
        let spool = self.spool.clone();
        match (result, key) {
            (Ok(_), key) => {
                self.n_delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(key) = key {
                    tokio::task::spawn_blocking(move || lock(&spool).remove(&key)).await.map_err(EmitError::Join)??;
                }
                Ok(Delivery::Delivered)
            }
            (Err((e, _)), Some(key)) => {
                tracing::debug!(key, error = %e, "event not acknowledged; it stays spooled");
                lock(&spool).release(&key);
                Ok(Delivery::Spooled)
            }
            (Err((e, _)), None) => {
                tracing::warn!(error = %e, "an event that could not be spooled was not acknowledged either; counted as lost");
                lock(&spool).record_loss(1);
                Ok(Delivery::Lost)
            }
        }
    }
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("topics", &self.topics)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The spool's state stays consistent even if a thread panicked while holding the lock:
/// every mutation updates memory only after the disk.
fn lock(spool: &Mutex<Spool>) -> MutexGuard<'_, Spool> {
    spool.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
