//! The way to the wrapper: one non-blocking Unix datagram socket per process, sending to the
//! path in `FAILSCOPE_CAPTURE_SOCKET` (read at load, `load.rs`). A datagram the wrapper has no
//! room for is dropped and counted; the count rides on every later record.

use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::load;

static SOCKET: AtomicI32 = AtomicI32::new(-1);
static SOCKET_PID: AtomicI32 = AtomicI32::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// This process's id, cached (getpid is a system call) and reset in a forked child.
static PID: AtomicI32 = AtomicI32::new(0);

/// Whether capture is on for this process (the wrapper named its socket).
pub(crate) fn enabled() -> bool {
    load::settings().is_some()
}

/// The directory holding the wrapper's socket, where each process keeps its slots file.
pub(crate) fn directory() -> Option<&'static [u8]> {
    let target = &load::settings()?.target;
    let length = target.length as usize - core::mem::size_of::<libc::sa_family_t>() - 1;
    // SAFETY: sun_path holds `length` path bytes (copied in at load); c_char and u8 have the
    // same size, and the settings live for the process.
    let path = unsafe { core::slice::from_raw_parts(target.address.sun_path.as_ptr().cast::<u8>(), length) };
    let slash = path.iter().rposition(|&b| b == b'/')?;
    Some(&path[..slash])
}

/// Records dropped so far by this process.
pub(crate) fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Sends one record without waiting; counts it as dropped if it cannot go now.
pub(crate) fn send(record: &[u8]) {
    let Some(settings) = load::settings() else { return };
    let target = &settings.target;
    let Some(fd) = socket() else {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return;
    };
    // SAFETY: `record` is a live buffer of its length; `target.address` is a sockaddr_un of
    // `target.length` bytes; MSG_DONTWAIT makes the call return at once.
    let sent = unsafe {
        libc::sendto(
            fd,
            record.as_ptr().cast(),
            record.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            (&raw const target.address).cast(),
            target.length,
        )
    };
    if sent < 0 {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether `fd` is this process's socket to the wrapper; the program closing it (some close
/// every descriptor) makes the next record open a new one.
pub(crate) fn forget_if_own(fd: libc::c_int) {
    if fd >= 0 && SOCKET.load(Ordering::Relaxed) == fd && SOCKET_PID.load(Ordering::Relaxed) == own_pid() {
        SOCKET.store(-1, Ordering::Relaxed);
    }
}

fn socket() -> Option<libc::c_int> {
    let pid = own_pid();
    let fd = SOCKET.load(Ordering::Relaxed);
    if fd >= 0 && SOCKET_PID.load(Ordering::Relaxed) == pid {
        return Some(fd);
    }
    // SAFETY: socket() takes plain integers. Close-on-exec keeps it from the programs this
    // process executes; they open their own.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    SOCKET.store(fd, Ordering::Relaxed);
    SOCKET_PID.store(pid, Ordering::Relaxed);
    Some(fd)
}

/// Asks to be told of a fork, so that the child learns its own id; called once, at load.
pub(crate) fn watch_forks() {
    // SAFETY: registers a handler without arguments that only stores an atomic, which is
    // async-signal-safe as a forked child's handlers must be.
    unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
}

/// This process's id.
pub(crate) fn own_pid() -> libc::pid_t {
    let cached = PID.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    PID.store(pid, Ordering::Relaxed);
    pid
}

extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}
