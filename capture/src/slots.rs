//! Connects in flight, in memory the wrapper can read: one file per process in the capture
//! directory (`starts.<pid>`), mapped shared, one slot per connect from its start to its end.
//! Filling a slot costs no system call, so a connect sends one datagram (its end, which carries
//! the start) instead of two; a slot still in use when the job is over is a connect the job
//! was killed in or left hanging, which the wrapper reports as `abandoned`.
//!
//! Slot layout (304 bytes, native endianness, read by `emit/src/run/capture/preload/slots.rs`):
//! `state u32` (0 free, 1 being written, 2 in flight), `fd i32`, `seq u32`, `port u16`,
//! `family u8` (4 or 6), `host_len u8`, `started_us i64`, `addr [u8; 16]`, `host [u8; 200]`,
//! `phase_len u8`, `phase [u8; 63]` (the process's phase, `load.rs`).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};

use crate::channel;
use crate::load::{self, MAX_PHASE};

const N_SLOTS: usize = 256;
pub(crate) const MAX_HOST: usize = 200;

#[repr(C)]
struct Slot {
    state: AtomicU32,
    fd: i32,
    seq: u32,
    port: u16,
    family: u8,
    host_len: u8,
    started_us: i64,
    addr: [u8; 16],
    host: [u8; MAX_HOST],
    phase_len: u8,
    phase: [u8; MAX_PHASE],
}

const _: () = assert!(core::mem::size_of::<Slot>() == 304);

/// What a connect's start record would have said.
#[derive(Clone, Copy)]
pub(crate) struct Start {
    pub started_us: i64,
    pub addr: IpAddr,
    pub port: u16,
    pub host: [u8; MAX_HOST],
    pub host_len: usize,
}

static MAP: AtomicPtr<Slot> = AtomicPtr::new(core::ptr::null_mut());
static MAP_PID: AtomicI32 = AtomicI32::new(0);

/// Takes a slot for `start`; `None` when none is free or the file cannot be mapped (the caller
/// then sends a start record instead).
pub(crate) fn begin(fd: libc::c_int, seq: u32, start: &Start) -> Option<usize> {
    let slots = slots()?;
    let (index, slot) = slots
        .iter()
        .enumerate()
        .find(|(_, s)| s.state.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_ok())?;
    let (family, addr) = match start.addr {
        IpAddr::V4(a) => {
            let mut bytes = [0u8; 16];
            bytes[..4].copy_from_slice(&a.octets());
            (4, bytes)
        }
        IpAddr::V6(a) => (6, a.octets()),
    };
    let phase = load::settings().map_or(&[][..], |s| s.phase.as_bytes());
    let mut phase_bytes = [0u8; MAX_PHASE];
    phase_bytes[..phase.len()].copy_from_slice(phase);
    let slot_ptr = core::ptr::from_ref(slot).cast_mut();
    // SAFETY: state 1, won by the compare-exchange above, makes this thread the slot's only
    // writer until it stores state 2; the mapping lives as long as the process.
    unsafe {
        (*slot_ptr).fd = fd;
        (*slot_ptr).seq = seq;
        (*slot_ptr).port = start.port;
        (*slot_ptr).family = family;
        (*slot_ptr).host_len = start.host_len as u8;
        (*slot_ptr).started_us = start.started_us;
        (*slot_ptr).addr = addr;
        (*slot_ptr).host = start.host;
        (*slot_ptr).phase_len = phase.len() as u8;
        (*slot_ptr).phase = phase_bytes;
    }
    slot.state.store(2, Ordering::Release);
    Some(index)
}

/// The start kept in slot `index`.
pub(crate) fn read(index: usize) -> Option<Start> {
    let slot = slots()?.get(index)?;
    if slot.state.load(Ordering::Acquire) != 2 {
        return None;
    }
    let slot_ptr = core::ptr::from_ref(slot);
    // SAFETY: a slot in state 2 is only written again after this process frees it, which only
    // the connect's end (the caller) does.
    let (family, addr, port, started_us, host, host_len) = unsafe {
        (
            (*slot_ptr).family,
            (*slot_ptr).addr,
            (*slot_ptr).port,
            (*slot_ptr).started_us,
            (*slot_ptr).host,
            (*slot_ptr).host_len,
        )
    };
    let addr = if family == 4 {
        IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(addr))
    };
    Some(Start { started_us, addr, port, host, host_len: usize::from(host_len).min(MAX_HOST) })
}

/// Frees slot `index` once the connect's end is sent.
pub(crate) fn end(index: usize) {
    if let Some(slot) = slots().and_then(|s| s.get(index)) {
        slot.state.store(0, Ordering::Release);
    }
}

fn slots() -> Option<&'static [Slot]> {
    let pid = channel::own_pid();
    let mut map = MAP.load(Ordering::Acquire);
    if map.is_null() || MAP_PID.load(Ordering::Acquire) != pid {
        map = map_file(pid)?;
        MAP.store(map, Ordering::Release);
        MAP_PID.store(pid, Ordering::Release);
    }
    // SAFETY: `map` is this process's mapping of N_SLOTS slots, never unmapped.
    Some(unsafe { core::slice::from_raw_parts(map, N_SLOTS) })
}

fn map_file(pid: libc::pid_t) -> Option<*mut Slot> {
    let dir = channel::directory()?;
    let mut digits = [0u8; 10];
    let mut path = [0u8; 160];
    let mut len = 0;
    for part in [dir, b"/starts.", decimal(pid.unsigned_abs(), &mut digits)] {
        path.get_mut(len..len + part.len())?.copy_from_slice(part);
        len += part.len();
    }
    *path.get_mut(len)? = 0;
    let size = N_SLOTS * core::mem::size_of::<Slot>();
    // SAFETY: `path` is NUL-terminated; the descriptor is closed once mapped, the mapping
    // stays for the life of the process.
    unsafe {
        let fd = libc::open(path.as_ptr().cast(), libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600);
        if fd < 0 {
            return None;
        }
        let map = if libc::ftruncate(fd, size as libc::off_t) == 0 {
            libc::mmap(core::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        } else {
            libc::MAP_FAILED
        };
        libc::close(fd);
        (map != libc::MAP_FAILED).then_some(map.cast())
    }
}

/// `n` in decimal, written at the end of `out`.
fn decimal(mut n: u32, out: &mut [u8; 10]) -> &[u8] {
    let mut start = out.len();
    loop {
        start -= 1;
        out[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &out[start..];
        }
    }
}
