//! The re-entrancy guard and `errno` preservation around the library's own work.
//!
//! Whether a thread is inside a hook is a thread-specific value of a `pthread` key, created
//! once at load (`load.rs`): the library has no standard library, hence no `thread_local!`.
//! For the first 32 keys of a process glibc keeps the values in the thread's own descriptor,
//! so reading and setting one is a few instructions, with no allocation and no system call.

use core::sync::atomic::{AtomicU32, Ordering};

/// No key yet (before load has run, or when none could be created): every hook passes through.
const NO_KEY: u32 = u32::MAX;

static KEY: AtomicU32 = AtomicU32::new(NO_KEY);

/// Creates the key; false when the process has none left (capture then stays off).
pub(crate) fn init() -> bool {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: `key` is a live local; no destructor: the value is a flag, not an allocation.
    if unsafe { libc::pthread_key_create(&mut key, None) } != 0 || key == NO_KEY {
        return false;
    }
    KEY.store(key, Ordering::Release);
    true
}

/// Runs `work` unless this thread is already inside a hook; `errno` is the same afterwards.
/// `None` when re-entered (or before the key exists).
pub(crate) fn outside_hooks<T>(work: impl FnOnce() -> T) -> Option<T> {
    let key = key()?;
    if inside(key) {
        return None;
    }
    let saved = errno();
    set_inside(key, true);
    let result = work();
    set_inside(key, false);
    set_errno(saved);
    Some(result)
}

/// Whether this thread is inside a hook, so a nested call must only pass through.
pub(crate) fn is_inside() -> bool {
    key().is_none_or(inside)
}

/// Marks this thread as inside a hook for the duration of `work` (the real call of a hook whose
/// inner calls are not the program's, e.g. `getaddrinfo`). `errno` is what `work` left.
pub(crate) fn while_inside<T>(work: impl FnOnce() -> T) -> T {
    let Some(key) = key() else { return work() };
    let was = inside(key);
    set_inside(key, true);
    let result = work();
    let error = errno();
    set_inside(key, was);
    set_errno(error);
    result
}

pub(crate) fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot, valid for the thread's life.
    unsafe { *libc::__errno_location() }
}

pub(crate) fn set_errno(value: i32) {
    // SAFETY: as in errno(): the slot is this thread's and writable.
    unsafe { *libc::__errno_location() = value }
}

fn key() -> Option<libc::pthread_key_t> {
    let key = KEY.load(Ordering::Acquire);
    (key != NO_KEY).then_some(key)
}

fn inside(key: libc::pthread_key_t) -> bool {
    // SAFETY: `key` was created by init() and is never deleted.
    !unsafe { libc::pthread_getspecific(key) }.is_null()
}

fn set_inside(key: libc::pthread_key_t, inside: bool) {
    let value: *const libc::c_void = if inside { core::ptr::dangling() } else { core::ptr::null() };
    // SAFETY: `key` was created by init() and is never deleted; the value is a flag, never
    // dereferenced. For a key below 32 glibc stores it in the thread descriptor.
    unsafe { libc::pthread_setspecific(key, value) };
}
