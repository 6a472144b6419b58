//! What the library does once, when a process starts with it (at load, and again after each
//! `exec`): read the wrapper's socket and the process's phase from the environment, create the
//! re-entrancy guard's key and ask to be told of forks. Nothing more: a process that never connects pays only for the
//! dynamic linker mapping the library, and without `FAILSCOPE_CAPTURE_SOCKET` not even this.

use core::cell::UnsafeCell;
use core::ffi::CStr;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::{channel, guard};

/// The environment variable naming the wrapper's socket.
const SOCKET_ENV: &CStr = c"FAILSCOPE_CAPTURE_SOCKET";
/// The environment variable naming the CI step (phase) the process's connects belong to.
const PHASE_ENV: &CStr = c"FAILSCOPE_PHASE";
/// The longest phase kept, in bytes; the wrapper cuts `--phase` at the same length.
pub(crate) const MAX_PHASE: usize = 63;

/// What the process's environment said at load.
pub(crate) struct Settings {
    /// The wrapper's socket.
    pub target: Target,
    pub phase: Phase,
}

/// The value of `FAILSCOPE_PHASE` when the process started, as printable ASCII without spaces
/// (other bytes become `?`, as in host names), at most `MAX_PHASE` bytes; empty when unset.
#[derive(Clone, Copy)]
pub(crate) struct Phase {
    bytes: [u8; MAX_PHASE],
    len: u8,
}

impl Phase {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    fn of(value: &[u8]) -> Phase {
        let mut phase = Phase { bytes: [0; MAX_PHASE], len: 0 };
        for (slot, &byte) in phase.bytes.iter_mut().zip(value) {
            *slot = if byte.is_ascii_graphic() { byte } else { b'?' };
            phase.len += 1;
        }
        phase
    }
}

/// A Unix socket address.
#[derive(Clone, Copy)]
pub(crate) struct Target {
    pub address: libc::sockaddr_un,
    pub length: libc::socklen_t,
}

struct Written(UnsafeCell<Option<Settings>>);

// SAFETY: written only by the load constructor, before READY is set; read only after.
unsafe impl Sync for Written {}

static SETTINGS: Written = Written(UnsafeCell::new(None));
static READY: AtomicBool = AtomicBool::new(false);

/// Run by the dynamic linker when the library is loaded, before the program's `main`.
#[used]
#[unsafe(link_section = ".init_array")]
static AT_LOAD: extern "C" fn() = at_load;

/// The settings, once capture is on for this process.
pub(crate) fn settings() -> Option<&'static Settings> {
    if !READY.load(Ordering::Acquire) {
        return None;
    }
    // SAFETY: written once by at_load before READY was set, never again.
    unsafe { (*SETTINGS.0.get()).as_ref() }
}

extern "C" fn at_load() {
    let Some(target) = target_from_env() else { return };
    if !guard::init() {
        return;
    }
    channel::watch_forks();
    let phase = with_env(PHASE_ENV, Phase::of).unwrap_or(Phase::of(b""));
    // SAFETY: the only write, before READY is set; settings() reads only after it is.
    unsafe { *SETTINGS.0.get() = Some(Settings { target, phase }) };
    READY.store(true, Ordering::Release);
}

fn target_from_env() -> Option<Target> {
    with_env(SOCKET_ENV, socket_address).flatten()
}

fn socket_address(path: &[u8]) -> Option<Target> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid (empty) value.
    let mut address: libc::sockaddr_un = unsafe { core::mem::zeroed() };
    if path.is_empty() || path.len() >= address.sun_path.len() {
        return None;
    }
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, byte) in address.sun_path.iter_mut().zip(path) {
        *slot = *byte as libc::c_char;
    }
    let length = (core::mem::size_of::<libc::sa_family_t>() + path.len() + 1) as libc::socklen_t;
    Some(Target { address, length })
}

/// `read` applied to the value of environment variable `name`, if it is set.
fn with_env<T>(name: &CStr, read: impl FnOnce(&[u8]) -> T) -> Option<T> {
    // SAFETY: getenv with a NUL-terminated name returns NULL or a NUL-terminated string that
    // stays valid while the environment is not changed, which nothing does during `read`.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: non-null getenv results are NUL-terminated strings.
    Some(read(unsafe { CStr::from_ptr(value) }.to_bytes()))
}
