//! The ids in the canonical UUID form: their parse into 128 bits, and the set that holds them.

use std::hash::BuildHasher;

use foldhash::fast::FixedState;

use super::seen::ID_HASH_SEED;

/// How many rows ahead of the one being inserted [`UuidSet::prefetch`] reaches: enough misses
/// in flight to cover a trip to memory, few enough that the lines are still cached when used.
pub(super) const PREFETCH_DISTANCE: usize = 16;

/// The canonical UUIDs a shard has let through: open addressing with linear probing over
/// 16-byte slots, kept at most 3/4 full. All ones ([`FREE`]) marks a free slot; that id itself
/// is flagged apart.
///
/// Free slots are all ones rather than zeros so that a new table is written when it is
/// allocated: each page then faults in once, on that write. Zeroed memory from the OS would be
/// mapped to the shared zero page when first read (by a probe or a prefetch) and copied on the
/// first insertion, a second fault that also flushes every core's TLB.
///
/// A directory's set is larger than the CPU's cache, so nearly every insertion misses it.
/// Inserting a shard's rows of a batch prefetches the slot of the row
/// [`PREFETCH_DISTANCE`] places ahead, so those misses overlap instead of queueing.
#[derive(Default)]
pub(super) struct UuidSet {
    slots: Vec<u128>,
    len: usize,
    has_free_marker: bool,
}

/// The value of a free slot in a [`UuidSet`].
pub(super) const FREE: u128 = u128::MAX;

impl UuidSet {
    pub(super) fn with_capacity(ids: usize) -> Self {
        let mut set = Self::default();
        set.reserve(ids);
        set
    }

    pub(super) fn allocation_size(&self) -> usize {
        self.slots.capacity() * size_of::<u128>()
    }

    /// Empties the set and keeps its slots.
    pub(super) fn clear(&mut self) {
        self.slots.fill(FREE);
        self.len = 0;
        self.has_free_marker = false;
    }

    /// Makes room for `more` ids beyond those held, so that inserting them cannot pass 3/4 full.
    pub(super) fn reserve(&mut self, more: usize) {
        let needed = (self.len + more).saturating_mul(4) / 3 + 1;
        if needed <= self.slots.len() {
            return;
        }
        let old = std::mem::replace(&mut self.slots, vec![FREE; needed.next_power_of_two().max(64)]);
        let hasher = FixedState::with_seed(ID_HASH_SEED);
        self.len = 0;
        for id in old.into_iter().filter(|&id| id != FREE) {
            self.insert(hasher.hash_one(id), id);
        }
    }

    /// Asks the CPU to start loading the slot where the id of `hash` would be looked up.
    pub(super) fn prefetch(&self, hash: u64) {
        if let Some(slot) = self.slots.get(hash as usize & self.slots.len().wrapping_sub(1)) {
            prefetch(slot);
        }
    }

    /// Inserts `id`, whose hash is `hash`, and tells whether it was not there yet. Room must
    /// have been made with [`UuidSet::reserve`].
    pub(super) fn insert(&mut self, hash: u64, id: u128) -> bool {
        if id == FREE {
            return !std::mem::replace(&mut self.has_free_marker, true);
        }
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot == id {
                return false;
            }
            if slot == FREE {
                self.slots[at] = id;
                self.len += 1;
                return true;
            }
            at = (at + 1) & mask;
        }
    }
}

/// Starts loading the cache line of `slot`; it changes nothing else.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn prefetch(slot: &u128) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is only a hint to the cache; it reads nothing and cannot fault, and
    // SSE, which provides it, is part of every x86-64 CPU.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast()) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch(_slot: &u128) {}

/// The 128 bits of a UUID written in canonical form (`8-4-4-4-12` lowercase hex digits), or
/// `None` for any other text. Only one spelling maps to each value, so this is exact.
///
/// It runs once per row of every deduplicated scan, so it avoids a branch per character: a
/// table lookup per digit, with any invalid character flagging the result.
pub(super) fn uuid_bits(id: &str) -> Option<u128> {
    /// Positions of the 32 hex digits in the canonical form.
    const DIGITS: [usize; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
        34, 35,
    ];
    /// A lowercase hex digit's value, or 0x10 (invalid) for any other byte.
    const HEX: [u8; 256] = {
        let mut table = [0x10u8; 256];
        let mut i = 0;
        while i < 10 {
            table[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            table[b'a' as usize + i] = 10 + i as u8;
            i += 1;
        }
        table
    };
    let bytes: &[u8; 36] = id.as_bytes().try_into().ok()?;
    if bytes[8] != b'-' || bytes[13] != b'-' || bytes[18] != b'-' || bytes[23] != b'-' {
        return None;
    }
    let (mut high, mut low, mut invalid) = (0u64, 0u64, 0u8);
    for &at in &DIGITS[..16] {
        let digit = HEX[usize::from(bytes[at])];
        invalid |= digit;
        high = (high << 4) | u64::from(digit & 0xF);
    }
    for &at in &DIGITS[16..] {
        let digit = HEX[usize::from(bytes[at])];
        invalid |= digit;
        low = (low << 4) | u64::from(digit & 0xF);
    }
    (invalid & 0x10 == 0).then_some((u128::from(high) << 64) | u128::from(low))
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use foldhash::fast::FixedState;

    use super::super::seen::ID_HASH_SEED;
    use super::*;

    #[test]
    fn canonical_uuids_are_numbers_and_other_ids_are_not() {
        assert_eq!(uuid_bits("00000000-0000-0000-0000-000000000001"), Some(1));
        assert_eq!(uuid_bits("0190a1b2-0000-7000-8000-00000000000f"), Some(0x0190a1b2_0000_7000_8000_00000000000f));
        // Upper case is another spelling of the same number: kept as text, so it stays distinct.
        assert_eq!(uuid_bits("0190A1B2-0000-7000-8000-00000000000F"), None);
        assert_eq!(uuid_bits("0190a1b2000070008000000000000000000f"), None);
        assert_eq!(uuid_bits("e1"), None);
        assert_eq!(uuid_bits("0190a1b2-0000-7000-8000-00000000000g"), None);
        assert_eq!(uuid_bits("0190a1b2-0000-7000-8000-00000000000/"), None);
        assert_eq!(uuid_bits("0190a1b2-0000-7000-8000-00000000000:"), None);
        assert_eq!(uuid_bits("ffffffff-ffff-ffff-ffff-ffffffffffff"), Some(u128::MAX));
        // Multi-byte characters are bytes outside the table, whatever their length.
        assert_eq!(uuid_bits("0190a1b2-0000-7000-8000-0000000000é"), None);
    }

    #[test]
    fn uuid_set_keeps_each_id_once_as_it_grows() {
        let hasher = FixedState::with_seed(ID_HASH_SEED);
        let mut set = UuidSet::default();
        // 5000 ids, the free-slot value among them, each offered three times; the table grows
        // several times on the way.
        let ids = || (0..4_999u128).chain([FREE]);
        for round in 0..3 {
            for id in ids() {
                set.reserve(1);
                assert_eq!(set.insert(hasher.hash_one(id), id), round == 0, "id {id}, round {round}");
            }
        }
        assert_eq!(set.len, 4_999, "the free-slot value is flagged apart");
        assert!(set.has_free_marker);
        assert!(set.len * 4 <= set.slots.len() * 3);
        // A shared hash (a collision) still tells the ids apart.
        let mut set = UuidSet::with_capacity(8);
        assert!(set.insert(7, 1) && set.insert(7, 2) && !set.insert(7, 1) && !set.insert(7, 2));
    }
}
