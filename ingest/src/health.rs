//! Whether the ingest is making progress: for each assigned partition, since when its oldest
//! message not yet in the lake has waited, shared with `/healthz`; and the back-off between
//! retries of a partition's failed flush.
//!
//! A stalled partition (a full disk, an object store that refuses writes, a dead-letter topic
//! that cannot be written) keeps its rows and retries, so nothing is lost, but nothing is
//! committed either: `/healthz` turns unhealthy once a partition has waited longer than the
//! stall timeout, so that an operator or orchestrator hears of it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::pipeline::TopicPartition;

/// Since when each partition has had messages waiting to be published. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    waiting: Arc<Mutex<HashMap<TopicPartition, Instant>>>,
    stall_timeout: Duration,
}

impl Health {
    /// A partition is stalled once its oldest unpublished message has waited `stall_timeout`.
    pub(crate) fn new(stall_timeout: Duration) -> Health {
        Health { waiting: Arc::default(), stall_timeout }
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<TopicPartition, Instant>> {
        // The map is replaced entry by entry; a panic elsewhere cannot leave it half-written.
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records that `tp` has a message waiting since `since`, unless an older one waits.
    pub(crate) fn pending_since(&self, tp: &TopicPartition, since: Instant) {
        self.waiting().entry(tp.clone()).or_insert(since);
    }

    /// Sets (or with `None`, clears) since when `tp`'s oldest unpublished message waits.
    pub(crate) fn waiting_since(&self, tp: &TopicPartition, since: Option<Instant>) {
        match since {
            Some(since) => self.waiting().insert(tp.clone(), since),
            None => self.waiting().remove(tp),
        };
    }

    /// The partitions that have waited longer than the stall timeout at `now`, with how long.
    pub(crate) fn stalled(&self, now: Instant) -> Vec<(TopicPartition, Duration)> {
        let mut stalled: Vec<_> = self
            .waiting()
            .iter()
            .map(|(tp, since)| (tp.clone(), now.saturating_duration_since(*since)))
            .filter(|(_, waited)| *waited > self.stall_timeout)
            .collect();
        stalled.sort();
        stalled
    }
}

/// The wait before a failed flush of a partition is tried again: doubling from
/// [`Backoff::FIRST`] up to [`Backoff::MAX`], reset by a success.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    n_failures: u32,
    retry_at: Option<Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(10);

    /// True while the partition should not be tried again.
    pub(crate) fn is_waiting(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|at| now < at)
    }

    /// Records a failure at `now`; returns the wait before the next try.
    pub(crate) fn failed(&mut self, now: Instant) -> Duration {
        let wait = Self::FIRST.saturating_mul(1 << self.n_failures.min(16)).min(Self::MAX);
        self.n_failures += 1;
        self.retry_at = Some(now + wait);
        wait
    }

    pub(crate) fn succeeded(&mut self) {
        *self = Backoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap_and_a_success_resets_it() {
        let now = Instant::now();
        let mut backoff = Backoff::default();
        assert!(!backoff.is_waiting(now));
        let waits: Vec<Duration> = (0..8).map(|_| backoff.failed(now)).collect();
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000]);
        assert!(backoff.is_waiting(now + Duration::from_secs(9)));
        assert!(!backoff.is_waiting(now + Duration::from_secs(10)));
        backoff.succeeded();
        assert_eq!(backoff.failed(now), Duration::from_millis(200));
    }

    #[test]
    fn a_partition_is_stalled_once_its_oldest_message_waited_past_the_timeout() {
        let health = Health::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let (a, b) = (("t".to_string(), 0), ("t".to_string(), 1));
        health.pending_since(&a, t0);
        health.pending_since(&a, t0 + Duration::from_secs(3));
        health.pending_since(&b, t0 + Duration::from_secs(2));
        assert!(health.stalled(t0 + Duration::from_secs(5)).is_empty());
        assert_eq!(health.stalled(t0 + Duration::from_secs(6)), [(a.clone(), Duration::from_secs(6))]);
        health.waiting_since(&a, None);
        health.waiting_since(&b, Some(t0 + Duration::from_secs(4)));
        assert!(health.stalled(t0 + Duration::from_secs(8)).is_empty());
    }
}
