//! The re-entrancy guard and `errno` preservation around the library's own work.

use std::cell::Cell;

thread_local! {
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` unless this thread is already inside a hook; `errno` is the same afterwards.
/// `None` when re-entered (or when the thread's storage is being torn down).
pub(crate) fn outside_hooks<T>(work: impl FnOnce() -> T) -> Option<T> {
    let entered = INSIDE.try_with(|inside| !inside.replace(true)).unwrap_or(false);
    if !entered {
        return None;
    }
    let saved = errno();
    let result = work();
    set_errno(saved);
    let _ = INSIDE.try_with(|inside| inside.set(false));
    Some(result)
}

/// Whether this thread is inside a hook, so a nested call must only pass through.
pub(crate) fn is_inside() -> bool {
    INSIDE.try_with(Cell::get).unwrap_or(true)
}

/// Marks this thread as inside a hook for the duration of `work` (the real call of a hook whose
/// inner calls are not the program's, e.g. `getaddrinfo`).
pub(crate) fn while_inside<T>(work: impl FnOnce() -> T) -> T {
    let was = INSIDE.try_with(|inside| inside.replace(true)).unwrap_or(true);
    let result = work();
    let _ = INSIDE.try_with(|inside| inside.set(was));
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
