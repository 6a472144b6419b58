//! Non-blocking connects waiting for their result, by descriptor: the sequence number of the
//! connect's start record, so its end record can name it.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Descriptors at or above this are not followed after `EINPROGRESS` (they end `abandoned` at
/// the job's end); CI programs rarely have that many open.
const MAX_FDS: usize = 4096;

static PENDING: [AtomicU32; MAX_FDS] = [const { AtomicU32::new(0) }; MAX_FDS];
static N_PENDING: AtomicUsize = AtomicUsize::new(0);

/// Whether any connect is pending, so hooks skip the table when none is.
pub(crate) fn any() -> bool {
    N_PENDING.load(Ordering::Relaxed) > 0
}

/// Marks the connect `seq` (never 0) on `fd` as pending.
pub(crate) fn set(fd: libc::c_int, seq: u32) {
    if let Some(slot) = slot(fd)
        && slot.swap(seq, Ordering::AcqRel) == 0
    {
        N_PENDING.fetch_add(1, Ordering::Relaxed);
    }
}

/// Takes the pending connect on `fd`, if any.
pub(crate) fn take(fd: libc::c_int) -> Option<u32> {
    let seq = slot(fd)?.swap(0, Ordering::AcqRel);
    if seq == 0 {
        return None;
    }
    N_PENDING.fetch_sub(1, Ordering::Relaxed);
    Some(seq)
}

/// Puts a connect back (its result was not known yet after all).
pub(crate) fn restore(fd: libc::c_int, seq: u32) {
    set(fd, seq);
}

fn slot(fd: libc::c_int) -> Option<&'static AtomicU32> {
    usize::try_from(fd).ok().and_then(|fd| PENDING.get(fd))
}
