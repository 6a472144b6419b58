//! The libc functions the hooks wrap, found with `dlsym(RTLD_NEXT)` once per process.

use core::ffi::CStr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A lazily resolved pointer to the next definition of a symbol.
pub(crate) struct NextSymbol {
    name: &'static CStr,
    address: AtomicUsize,
}

impl NextSymbol {
    pub(crate) const fn new(name: &'static CStr) -> NextSymbol {
        NextSymbol { name, address: AtomicUsize::new(0) }
    }

    /// The address of the definition after ours (libc's), or 0 if there is none.
    pub(crate) fn address(&self) -> usize {
        let cached = self.address.load(Ordering::Acquire);
        if cached != 0 {
            return cached;
        }
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no preconditions; racing
        // threads resolve the same address.
        let found = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) } as usize;
        self.address.store(found, Ordering::Release);
        found
    }
}

pub(crate) static CONNECT: NextSymbol = NextSymbol::new(c"connect");
pub(crate) static GETSOCKOPT: NextSymbol = NextSymbol::new(c"getsockopt");
pub(crate) static CLOSE: NextSymbol = NextSymbol::new(c"close");
pub(crate) static POLL: NextSymbol = NextSymbol::new(c"poll");
pub(crate) static GETADDRINFO: NextSymbol = NextSymbol::new(c"getaddrinfo");

pub(crate) type ConnectFn = unsafe extern "C" fn(libc::c_int, *const libc::sockaddr, libc::socklen_t) -> libc::c_int;
pub(crate) type GetsockoptFn =
    unsafe extern "C" fn(libc::c_int, libc::c_int, libc::c_int, *mut libc::c_void, *mut libc::socklen_t) -> libc::c_int;
pub(crate) type CloseFn = unsafe extern "C" fn(libc::c_int) -> libc::c_int;
pub(crate) type PollFn = unsafe extern "C" fn(*mut libc::pollfd, libc::nfds_t, libc::c_int) -> libc::c_int;
pub(crate) type GetaddrinfoFn = unsafe extern "C" fn(
    *const libc::c_char,
    *const libc::c_char,
    *const libc::addrinfo,
    *mut *mut libc::addrinfo,
) -> libc::c_int;
