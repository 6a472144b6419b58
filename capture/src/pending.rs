//! Non-blocking connects waiting for their result, by descriptor: the connect's sequence
//! number and its slot (`slots.rs`), so its end record can name it and say where it went.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Descriptors at or above this are not followed after `EINPROGRESS` (they end `abandoned` at
/// the job's end); CI programs rarely have that many open.
const MAX_FDS: usize = 4096;

static PENDING: [AtomicU64; MAX_FDS] = [const { AtomicU64::new(0) }; MAX_FDS];
static N_PENDING: AtomicUsize = AtomicUsize::new(0);

/// A pending connect: its sequence number (never 0) and slot, if it has one.
#[derive(Clone, Copy)]
pub(crate) struct Pending {
    pub seq: u32,
    pub slot: Option<usize>,
}

/// Whether any connect is pending, so hooks skip the table when none is.
pub(crate) fn any() -> bool {
    N_PENDING.load(Ordering::Relaxed) > 0
}

/// Marks `pending` as waiting on `fd`.
pub(crate) fn set(fd: libc::c_int, pending: Pending) {
    let slot = pending.slot.map_or(0, |s| s as u64 + 1);
    if let Some(entry) = entry(fd)
        && entry.swap(slot << 32 | u64::from(pending.seq), Ordering::AcqRel) == 0
    {
        N_PENDING.fetch_add(1, Ordering::Relaxed);
    }
}

/// Takes the pending connect on `fd`, if any.
pub(crate) fn take(fd: libc::c_int) -> Option<Pending> {
    let value = entry(fd)?.swap(0, Ordering::AcqRel);
    if value == 0 {
        return None;
    }
    N_PENDING.fetch_sub(1, Ordering::Relaxed);
    let slot = (value >> 32).checked_sub(1).map(|s| s as usize);
    Some(Pending { seq: value as u32, slot })
}

fn entry(fd: libc::c_int) -> Option<&'static AtomicU64> {
    usize::try_from(fd).ok().and_then(|fd| PENDING.get(fd))
}
