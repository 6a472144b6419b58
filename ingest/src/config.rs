//! Validated ingest settings, built once from the command line.

use std::time::{Duration, Instant};

use failscope_kafka::Topics;

/// When a partition's buffered rows are written out as Parquet files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlushPolicy {
    /// Roll when a partition buffers this many rows.
    pub(crate) max_rows: usize,
    /// Roll when a partition buffers this many bytes of messages.
    pub(crate) max_bytes: usize,
    /// Roll when the oldest buffered row of a partition is this old, even on a quiet topic.
    pub(crate) max_age: Duration,
    /// Roll when a partition buffers rows of this many event hours: each is a builder now
    /// and a file at the flush.
    pub(crate) max_hours: usize,
    /// Memory for the whole ingest process. Buffered rows may use half of it, counted as the
    /// message bytes they came from (see [`FlushPolicy::rows_budget`]); the rest is headroom
    /// for what rows cost beyond their message bytes, for encoding and for the Kafka client.
    pub(crate) memory_budget: usize,
}

impl FlushPolicy {
    /// Message bytes all partitions may buffer; over it, the largest partitions roll first.
    ///
    /// Half the budget, from measurement (`cli/benches/ingest_drain.rs`, (d)): beyond its
    /// message bytes, a buffered row costs Arrow builder slack (they grow by doubling) and,
    /// while its file is encoded, the encoder's buffers; the Kafka client's fetch buffers and
    /// a fixed ~25 MiB come on top. With a 128 MiB budget the peak is 1.33 x the budget.
    pub(crate) fn rows_budget(&self) -> usize {
        self.memory_budget / 2
    }

    /// Which partitions must flush at `now`, given each one's key, when its oldest buffered
    /// row arrived (`None` when empty) and its buffered bytes: those whose oldest row reached
    /// [`Self::max_age`], and, when all of them buffer more than [`Self::rows_budget`], the
    /// largest first until what stays is at most half of it.
    pub(crate) fn due<K: PartialEq>(
        &self,
        now: Instant,
        buffers: impl Iterator<Item = (K, Option<Instant>, usize)>,
    ) -> Vec<K> {
        let buffers: Vec<(K, Option<Instant>, usize)> = buffers.collect();
        let mut total: usize = buffers.iter().map(|(_, _, n)| n).sum();
        let budget = self.rows_budget();
        let too_old = |since: &Option<Instant>| since.is_some_and(|t| now.duration_since(t) >= self.max_age);
        let mut by_size: Vec<(usize, usize)> = Vec::new();
        if total > budget {
            by_size = buffers.iter().enumerate().map(|(i, (_, _, n))| (i, *n)).collect();
            by_size.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        }
        let mut chosen: Vec<usize> =
            buffers.iter().enumerate().filter(|(_, (_, since, _))| too_old(since)).map(|(i, _)| i).collect();
        for (i, n) in by_size {
            if total <= budget / 2 {
                break;
            }
            if !chosen.contains(&i) {
                chosen.push(i);
            }
            total -= n;
        }
        let mut buffers: Vec<Option<K>> = buffers.into_iter().map(|(k, _, _)| Some(k)).collect();
        chosen.into_iter().filter_map(|i| buffers[i].take()).collect()
    }
}

/// The event times the ingest accepts, around its own clock; anything else is dead-lettered
/// as `out_of_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventWindow {
    /// How far in the past an event may be.
    pub max_age: Duration,
    /// How far in the future an event may be (workers' clocks drift).
    pub max_lead: Duration,
}

/// Everything `failscope ingest` needs, validated.
#[derive(Debug, Clone)]
pub(crate) struct IngestConfig {
    pub(crate) brokers: String,
    pub(crate) group: String,
    pub(crate) topics: Topics,
    /// A local directory or an object-store URL.
    pub(crate) lake: String,
    pub(crate) flush: FlushPolicy,
    pub(crate) window: EventWindow,
    pub(crate) session_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl IngestConfig {
    /// The dead-letter topic of a source topic.
    pub(crate) fn dead_letter_topic(topic: &str) -> String {
        failscope_kafka::dead_letter_topic(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition's key, when its oldest row arrived and its buffered bytes.
    type Buffer = (char, Option<Instant>, usize);

    #[test]
    fn due_partitions_are_the_old_ones_then_the_largest_over_budget() {
        const MIB: usize = 1 << 20;
        let policy = FlushPolicy {
            max_rows: 1_000,
            max_bytes: 64 * MIB,
            max_age: Duration::from_secs(60),
            max_hours: 100,
            memory_budget: 200 * MIB, // rows budget 100 MiB; over it, flush down to 50 MiB
        };
        let now = Instant::now();
        let ago = |secs: u64| Some(now - Duration::from_secs(secs));
        let cases: [(&str, Vec<Buffer>, &str); 7] = [
            ("nothing buffered", vec![], ""),
            ("young and small", vec![('a', ago(59), MIB), ('b', None, 0)], ""),
            ("at the age limit", vec![('a', ago(60), MIB), ('b', ago(10), MIB)], "a"),
            ("at the budget is not over it", vec![('a', ago(1), 60 * MIB), ('b', ago(1), 40 * MIB)], ""),
            (
                "over: largest first, to half",
                vec![('a', ago(1), 30 * MIB), ('b', ago(1), 45 * MIB), ('c', ago(1), 30 * MIB)],
                "ba",
            ),
            (
                "old ones count toward the half",
                vec![('a', ago(90), 30 * MIB), ('b', ago(1), 45 * MIB), ('c', ago(1), 30 * MIB)],
                "ab",
            ),
            ("one huge partition", vec![('a', ago(1), 10 * MIB), ('b', ago(1), 120 * MIB)], "b"),
        ];
        for (name, buffers, want) in cases {
            let due: String = policy.due(now, buffers.into_iter()).into_iter().collect();
            assert_eq!(due, want, "{name}");
        }
    }
}
