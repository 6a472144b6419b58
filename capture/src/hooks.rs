//! The exported functions that stand in for libc's: each calls the real one and reports what
//! it learned about a TCP connect, keeping the rules of the crate's documentation.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicU32, Ordering};

use crate::pending::Pending;
use crate::real::{self, CloseFn, ConnectFn, GetaddrinfoFn, GetsockoptFn, PollFn};
use crate::record::{self, Ending};
use crate::slots::{MAX_HOST, Start};
use crate::{channel, guard, names, pending, slots};

static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

macro_rules! real_or_enosys {
    ($symbol:expr, $type:ty) => {{
        let address = $symbol.address();
        if address == 0 {
            guard::set_errno(libc::ENOSYS);
            return -1;
        }
        // SAFETY: `address` is the next definition of this libc symbol, whose C signature is
        // `$type`; a non-zero dlsym result is a valid function pointer.
        unsafe { core::mem::transmute::<usize, $type>(address) }
    }};
}

/// `connect(2)`: the start kept in a slot before the call (it may hang until the job is
/// killed; a start record when no slot is free), an end record when the call itself says how
/// it ended, or a pending entry after `EINPROGRESS`.
///
/// # Safety
/// The caller's contract is libc's: `addr` points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: libc::c_int, addr: *const libc::sockaddr, len: libc::socklen_t) -> libc::c_int {
    let real = real_or_enosys!(real::CONNECT, ConnectFn);
    if guard::is_inside() || !channel::enabled() {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real(fd, addr, len) };
    }
    // SAFETY: libc's contract: `addr` points to `len` readable bytes.
    let target = unsafe { ip_target(addr, len) };
    let started = target.and_then(|(ip, port)| {
        guard::outside_hooks(|| {
            if !is_stream(fd) {
                return None;
            }
            let seq = NEXT_SEQ.fetch_add(1, Ordering::Relaxed).max(1);
            let mut start = Start { started_us: record::now_us(), addr: ip, port, host: [0; MAX_HOST], host_len: 0 };
            start.host_len = names::name_of(ip, &mut start.host);
            let slot = slots::begin(fd, seq, &start);
            if slot.is_none() {
                record::start(fd, seq, &start);
            }
            Some((Pending { seq, slot }, start))
        })
        .flatten()
    });
    // SAFETY: the program's arguments, passed on unchanged.
    let result = unsafe { real(fd, addr, len) };
    let Some((connect, start)) = started else { return result };
    let error = guard::errno();
    guard::outside_hooks(|| match (result, error) {
        (0, _) => finish(fd, connect, Ending::Connected, Some(&start)),
        (_, libc::EINPROGRESS | libc::EINTR | libc::EAGAIN) => pending::set(fd, connect),
        // A repeated connect on a socket already connecting is not an attempt of its own: the
        // first one's result is what counts.
        (_, libc::EALREADY) => release(connect),
        (_, libc::EISCONN) => {
            release(connect);
            if let Some(earlier) = pending::take(fd) {
                finish(fd, earlier, Ending::Connected, None);
            }
        }
        (_, error) => finish(fd, connect, Ending::Failed(error), Some(&start)),
    });
    result
}

/// Frees the slot of a call that turned out not to be an attempt.
fn release(connect: Pending) {
    if let Some(slot) = connect.slot {
        slots::end(slot);
    }
}

/// Sends the end of `connect` and frees its slot. `start` when the caller has it at hand;
/// otherwise it is read back from the slot.
fn finish(fd: libc::c_int, connect: Pending, ending: Ending, start: Option<&Start>) {
    let kept = match (start, connect.slot) {
        (Some(start), Some(_)) => Some(*start),
        (None, Some(slot)) => slots::read(slot),
        (_, None) => None,
    };
    record::end(fd, connect.seq, ending, kept.as_ref());
    if let Some(slot) = connect.slot {
        slots::end(slot);
    }
}

/// `getsockopt(2)`: `SO_ERROR` on a pending connect is its result, once the socket is
/// connected or failed (a program may ask while it is still in progress).
///
/// # Safety
/// libc's contract: `optval` and `optlen` as for `getsockopt`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockopt(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    value: *mut libc::c_void,
    len: *mut libc::socklen_t,
) -> libc::c_int {
    let real = real_or_enosys!(real::GETSOCKOPT, GetsockoptFn);
    // SAFETY: the program's arguments, passed on unchanged.
    let result = unsafe { real(fd, level, name, value, len) };
    if result != 0 || level != libc::SOL_SOCKET || name != libc::SO_ERROR || !pending::any() || guard::is_inside() {
        return result;
    }
    // SAFETY: the call succeeded, so `value` holds the int SO_ERROR writes (libc's contract
    // gave at least an int's room); read unaligned in case the program's buffer is not.
    let so_error = unsafe { value.cast::<libc::c_int>().read_unaligned() };
    guard::outside_hooks(|| settle_from_so_error(fd, so_error));
    result
}

/// `close(2)`: a connect still pending on the descriptor was given up by the program.
#[unsafe(no_mangle)]
pub extern "C" fn close(fd: libc::c_int) -> libc::c_int {
    let real = real_or_enosys!(real::CLOSE, CloseFn);
    if pending::any() && !guard::is_inside() {
        guard::outside_hooks(|| {
            if let Some(connect) = pending::take(fd) {
                finish(fd, connect, Ending::Closed, None);
            }
        });
    }
    channel::forget_if_own(fd);
    // SAFETY: the program's argument, passed on unchanged.
    unsafe { real(fd) }
}

/// `poll(2)`: a pending descriptor reported writable has connected; one reported in error has
/// failed, with the errno `SO_ERROR` gives.
///
/// # Safety
/// libc's contract: `fds` points to `n` pollfd structures.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn poll(fds: *mut libc::pollfd, n: libc::nfds_t, timeout_ms: libc::c_int) -> libc::c_int {
    let real = real_or_enosys!(real::POLL, PollFn);
    // SAFETY: the program's arguments, passed on unchanged.
    let result = unsafe { real(fds, n, timeout_ms) };
    if result <= 0 || !pending::any() || guard::is_inside() || fds.is_null() {
        return result;
    }
    // SAFETY: libc's contract: `fds` points to `n` pollfd, which poll has just filled in.
    let polled = unsafe { core::slice::from_raw_parts(fds, n as usize) };
    guard::outside_hooks(|| {
        for p in polled.iter().filter(|p| p.revents != 0) {
            if p.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                if let Some(so_error) = so_error_of(p.fd) {
                    settle_from_so_error(p.fd, so_error);
                }
            } else if p.revents & libc::POLLOUT != 0
                && let Some(connect) = pending::take(p.fd)
            {
                finish(p.fd, connect, Ending::Connected, None);
            }
        }
    });
    result
}

/// `getaddrinfo(3)`: a name that does not resolve is recorded; the addresses of one that does
/// are remembered, so its connects carry the name. The resolver's own calls pass through.
///
/// # Safety
/// libc's contract for `getaddrinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const libc::c_char,
    service: *const libc::c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> libc::c_int {
    let real = real_or_enosys!(real::GETADDRINFO, GetaddrinfoFn);
    if guard::is_inside() || !channel::enabled() || node.is_null() {
        // SAFETY: the program's arguments, passed on unchanged.
        return unsafe { real(node, service, hints, res) };
    }
    let started_us = record::now_us();
    // SAFETY: the program's arguments, passed on unchanged.
    let result = guard::while_inside(|| unsafe { real(node, service, hints, res) });
    let error = guard::errno();
    guard::outside_hooks(|| {
        // SAFETY: libc's contract: `node` is a NUL-terminated string.
        let name = unsafe { core::ffi::CStr::from_ptr(node) }.to_bytes();
        if result == 0 {
            // SAFETY: on success `*res` is the list getaddrinfo returned.
            unsafe { remember_addresses(*res, name) };
            return;
        }
        // SAFETY: libc's contract: `service` is NULL or a NUL-terminated string.
        let port = unsafe { numeric_port(service) };
        let is_address = core::str::from_utf8(name).is_ok_and(|n| n.parse::<IpAddr>().is_ok());
        let resolution_failure =
            matches!(result, libc::EAI_NONAME | libc::EAI_AGAIN | libc::EAI_FAIL | libc::EAI_NODATA | libc::EAI_SYSTEM);
        if resolution_failure && !is_address {
            let errno = if result == libc::EAI_SYSTEM { error } else { 0 };
            record::resolution_failed(started_us, port, result, errno, name);
        }
    });
    result
}

fn settle_from_so_error(fd: libc::c_int, so_error: libc::c_int) {
    let Some(connect) = pending::take(fd) else { return };
    if so_error != 0 {
        finish(fd, connect, Ending::Failed(so_error), None);
    } else if is_connected(fd) {
        finish(fd, connect, Ending::Connected, None);
    } else {
        pending::set(fd, connect);
    }
}

fn so_error_of(fd: libc::c_int) -> Option<libc::c_int> {
    socket_option(fd, libc::SO_ERROR)
}

fn is_stream(fd: libc::c_int) -> bool {
    socket_option(fd, libc::SO_TYPE) == Some(libc::SOCK_STREAM)
}

/// An integer `SOL_SOCKET` option of `fd`, read through libc's getsockopt (not our hook).
fn socket_option(fd: libc::c_int, name: libc::c_int) -> Option<libc::c_int> {
    let real = real::GETSOCKOPT.address();
    if real == 0 {
        return None;
    }
    // SAFETY: the address of libc's getsockopt, whose signature GetsockoptFn is.
    let real = unsafe { core::mem::transmute::<usize, GetsockoptFn>(real) };
    let mut value: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live locals of the sizes passed.
    let result = unsafe { real(fd, libc::SOL_SOCKET, name, (&raw mut value).cast(), &mut len) };
    (result == 0).then_some(value)
}

fn is_connected(fd: libc::c_int) -> bool {
    // SAFETY: sockaddr_storage is plain data, large enough for any peer address.
    let mut peer: libc::sockaddr_storage = unsafe { core::mem::zeroed() };
    let mut len = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `peer` and `len` are live locals of the sizes passed.
    unsafe { libc::getpeername(fd, (&raw mut peer).cast(), &mut len) == 0 }
}

/// The IP address and port of an `AF_INET`/`AF_INET6` socket address.
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
unsafe fn ip_target(addr: *const libc::sockaddr, len: libc::socklen_t) -> Option<(IpAddr, u16)> {
    if addr.is_null() || (len as usize) < core::mem::size_of::<libc::sa_family_t>() {
        return None;
    }
    // SAFETY: at least the family field is readable (checked above).
    let family = i32::from(unsafe { (*addr).sa_family });
    match family {
        libc::AF_INET if len as usize >= core::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: an AF_INET address of at least sockaddr_in's size; read unaligned.
            let v4 = unsafe { addr.cast::<libc::sockaddr_in>().read_unaligned() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some((IpAddr::V4(ip), u16::from_be(v4.sin_port)))
        }
        libc::AF_INET6 if len as usize >= core::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: an AF_INET6 address of at least sockaddr_in6's size; read unaligned.
            let v6 = unsafe { addr.cast::<libc::sockaddr_in6>().read_unaligned() };
            Some((IpAddr::V6(Ipv6Addr::from(v6.sin6_addr.s6_addr)), u16::from_be(v6.sin6_port)))
        }
        _ => None,
    }
}

/// # Safety
/// `list` is a list returned by a successful `getaddrinfo`.
unsafe fn remember_addresses(mut list: *const libc::addrinfo, name: &[u8]) {
    while !list.is_null() {
        // SAFETY: a node of getaddrinfo's list, valid until freeaddrinfo.
        let entry = unsafe { &*list };
        // SAFETY: ai_addr points to ai_addrlen bytes of the node's address.
        if let Some((ip, _)) = unsafe { ip_target(entry.ai_addr, entry.ai_addrlen) } {
            names::remember(ip, name);
        }
        list = entry.ai_next;
    }
}

/// The port of a numeric service string, 0 otherwise.
///
/// # Safety
/// `service` is null or a NUL-terminated string.
unsafe fn numeric_port(service: *const libc::c_char) -> u16 {
    if service.is_null() {
        return 0;
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    let text = unsafe { core::ffi::CStr::from_ptr(service) };
    text.to_str().ok().and_then(|t| t.parse().ok()).unwrap_or(0)
}
