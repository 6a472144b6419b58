//! The way to the wrapper: one non-blocking Unix datagram socket per process, sending to the
//! path in `FAILSCOPE_CAPTURE_SOCKET`. A datagram the wrapper has no room for is dropped and
//! counted; the count rides on every later record.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// The environment variable naming the wrapper's socket.
const SOCKET_ENV: &std::ffi::CStr = c"FAILSCOPE_CAPTURE_SOCKET";

static TARGET: OnceLock<Option<Target>> = OnceLock::new();
static SOCKET: AtomicI32 = AtomicI32::new(-1);
static SOCKET_PID: AtomicI32 = AtomicI32::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// This process's id, cached (getpid is a system call) and reset in a forked child.
static PID: AtomicI32 = AtomicI32::new(0);
static AT_FORK: std::sync::Once = std::sync::Once::new();

#[derive(Clone, Copy)]
struct Target {
    address: libc::sockaddr_un,
    length: libc::socklen_t,
}

/// Whether capture is on for this process (the wrapper named its socket).
pub(crate) fn enabled() -> bool {
    target().is_some()
}

/// The directory holding the wrapper's socket, where each process keeps its slots file.
pub(crate) fn directory() -> Option<&'static [u8]> {
    let target = TARGET.get()?.as_ref()?;
    let length = target.length as usize - std::mem::size_of::<libc::sa_family_t>() - 1;
    // SAFETY: sun_path holds `length` path bytes (copied in by target()); c_char and u8 have
    // the same size, and the static lives for the process.
    let path = unsafe { std::slice::from_raw_parts(target.address.sun_path.as_ptr().cast::<u8>(), length) };
    let slash = path.iter().rposition(|&b| b == b'/')?;
    Some(&path[..slash])
}

/// Records dropped so far by this process.
pub(crate) fn dropped() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Sends one record without waiting; counts it as dropped if it cannot go now.
pub(crate) fn send(record: &[u8]) {
    let Some(target) = target() else { return };
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

/// This process's id.
pub(crate) fn own_pid() -> libc::pid_t {
    let cached = PID.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler without arguments that only stores atomics, which is
        // async-signal-safe as a forked child's handlers must be.
        unsafe { libc::pthread_atfork(None, None, Some(forget_pid)) };
    });
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    PID.store(pid, Ordering::Relaxed);
    pid
}

extern "C" fn forget_pid() {
    PID.store(0, Ordering::Relaxed);
}

fn target() -> Option<Target> {
    *TARGET.get_or_init(|| {
        // SAFETY: getenv with a NUL-terminated name returns NULL or a NUL-terminated string that
        // stays valid while the environment is not modified; it is copied at once.
        let value = unsafe { libc::getenv(SOCKET_ENV.as_ptr()) };
        if value.is_null() {
            return None;
        }
        // SAFETY: non-null getenv results are NUL-terminated strings.
        let path = unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes();
        // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) value.
        let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        if path.is_empty() || path.len() >= address.sun_path.len() {
            return None;
        }
        address.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (slot, byte) in address.sun_path.iter_mut().zip(path) {
            *slot = *byte as libc::c_char;
        }
        let length = (std::mem::size_of::<libc::sa_family_t>() + path.len() + 1) as libc::socklen_t;
        Some(Target { address, length })
    })
}
