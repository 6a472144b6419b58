//! The ids one scan has let through: a set per scope (a `date`/`hour` directory), each split
//! into shards locked apart, with canonical UUIDs as 128-bit integers ([`UuidSet`]) and any
//! other id as text. Sets of scopes every partition has left are emptied and reused.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::execution::memory_pool::MemoryReservation;
use hashbrown::HashTable;

use super::EVENT_ID;
use super::retirement::Retirement;
use super::uuids::UuidSet;

/// Any fixed seed: the hashes never leave the process.
pub(super) const ID_HASH_SEED: u64 = 0x05EE_D1D5;

/// Number of independently locked parts of a scope's set, so partitions reading the same
/// directory rarely wait for each other.
pub(super) const SHARDS: usize = 16;

/// The ids one scan has let through, over all its partitions, by scope.
#[derive(Default)]
pub(super) struct SeenIds {
    scopes: Mutex<Scopes>,
    /// The most ids any scope holds so far.
    pub(super) largest_scope: AtomicUsize,
    pub(super) reservation: OnceLock<MemoryReservation>,
    /// When sets can be reused; `None` when the plan does not tell the order of the scopes.
    pub(super) retirement: OnceLock<Option<Retirement>>,
}

#[derive(Default)]
struct Scopes {
    live: HashMap<Vec<ScalarValue>, Arc<ScopeIds>>,
    /// Sets of retired scopes, emptied, waiting to be reused.
    spare: Vec<ScopeIds>,
}

impl SeenIds {
    /// The set of a scope, created on first use: a retired scope's set, emptied, or a new one
    /// with room for as many ids as the largest scope so far (directories of one lake hold
    /// similar numbers of events), which saves growing it step by step. Tells whether the set
    /// was reused.
    pub(super) fn scope(&self, key: Vec<ScalarValue>) -> Result<(Arc<ScopeIds>, bool)> {
        let mut scopes = self.scopes.lock().map_err(|_| poisoned())?;
        if let Some(ids) = scopes.live.get(&key) {
            return Ok((Arc::clone(ids), false));
        }
        if let Some(mut ids) = scopes.spare.pop() {
            ids.clear()?;
            let ids = Arc::new(ids);
            scopes.live.insert(key, Arc::clone(&ids));
            return Ok((ids, true));
        }
        let ids = Arc::new(ScopeIds::with_capacity(self.largest_scope.load(Ordering::Relaxed)));
        let allocated = ids.shards.iter().map(|s| s.lock().map(|s| s.allocated()).unwrap_or(0)).sum();
        if let Some(reservation) = self.reservation.get() {
            reservation.try_grow(allocated)?;
        }
        scopes.live.insert(key, Arc::clone(&ids));
        Ok((ids, false))
    }

    /// Records that `partition` reads the scope `key` from now on (`None`: it has read all its
    /// input), and retires the scopes that every partition has left.
    pub(super) fn advance(&self, partition: usize, key: Option<&[ScalarValue]>) -> Result<()> {
        let Some(Some(retirement)) = self.retirement.get() else {
            return Ok(());
        };
        let rank = match key {
            Some(key) => match retirement.rank(key) {
                Some(rank) => rank,
                None => return Ok(()),
            },
            None => usize::MAX,
        };
        let left = retirement.moved_to(partition, rank)?;
        if left.is_empty() {
            return Ok(());
        }
        let mut scopes = self.scopes.lock().map_err(|_| poisoned())?;
        for key in left {
            if let Some(ids) = scopes.live.remove(key) {
                // The last holder: no partition reads the scope any more.
                if let Ok(ids) = Arc::try_unwrap(ids) {
                    scopes.spare.push(ids);
                }
            }
        }
        Ok(())
    }
}

/// The ids let through in one scope.
#[derive(Default)]
pub(super) struct ScopeIds {
    pub(super) shards: [Mutex<Shard>; SHARDS],
    pub(super) len: AtomicUsize,
}

impl ScopeIds {
    /// Empties the set and keeps its memory.
    fn clear(&mut self) -> Result<()> {
        for shard in &mut self.shards {
            let shard = shard.get_mut().map_err(|_| poisoned())?;
            shard.uuids.clear();
            shard.others.clear();
            shard.text.clear();
        }
        *self.len.get_mut() = 0;
        Ok(())
    }

    fn with_capacity(ids: usize) -> Self {
        let shards = std::array::from_fn(|_| {
            Mutex::new(Shard { uuids: UuidSet::with_capacity(ids / SHARDS), ..Shard::default() })
        });
        Self { shards, len: AtomicUsize::new(0) }
    }
}

pub(super) fn poisoned() -> DataFusionError {
    DataFusionError::Internal("a deduplicating scan panicked".into())
}

impl fmt::Debug for SeenIds {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("SeenIds").finish_non_exhaustive()
    }
}

#[derive(Default)]
pub(super) struct Shard {
    pub(super) uuids: UuidSet,
    /// Ids of any other form: (hash, start, length) of their bytes in `text`.
    others: HashTable<(u64, u32, u32)>,
    text: Vec<u8>,
}

impl Shard {
    pub(super) fn allocated(&self) -> usize {
        self.uuids.allocation_size() + self.others.allocation_size() + self.text.capacity()
    }

    /// Inserts a text id, and tells whether it was not there yet.
    pub(super) fn insert_text(&mut self, hash: u64, id: &str) -> Result<bool> {
        let Shard { others, text, .. } = self;
        let stored = |&(_, start, len): &(u64, u32, u32)| &text[start as usize..start as usize + len as usize];
        if others.find(hash, |k| stored(k) == id.as_bytes()).is_some() {
            return Ok(false);
        }
        let too_long = || DataFusionError::Execution(format!("{EVENT_ID}s take more than 4 GiB in one scope"));
        let start = u32::try_from(text.len()).map_err(|_| too_long())?;
        let len = u32::try_from(id.len()).map_err(|_| too_long())?;
        others.insert_unique(hash, (hash, start, len), |&(h, _, _)| h);
        text.extend_from_slice(id.as_bytes());
        Ok(true)
    }
}

/// The shard of a hash. Its bits 40–43: the tables themselves use the low bits to find a bucket
/// and the top seven as a tag, so the shard takes neither.
pub(super) fn shard_of(hash: u64) -> usize {
    ((hash >> 40) as usize) % SHARDS
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use foldhash::fast::FixedState;

    use super::*;

    #[test]
    fn shards_spread_hashes() {
        let hasher = FixedState::with_seed(ID_HASH_SEED);
        let mut counts = [0usize; SHARDS];
        for i in 0..16_000u128 {
            counts[shard_of(hasher.hash_one(i))] += 1;
        }
        assert!(counts.iter().all(|&c| (700..1300).contains(&c)), "{counts:?}");
    }
}
