//! The preload library of `failscope run --capture-connects=preload`: injected with
//! `LD_PRELOAD` into every dynamically linked process of a job, it wraps libc's `connect`,
//! `getaddrinfo`, `getsockopt`, `poll` and `close` and tells the wrapper when each TCP connect
//! started and how it ended: the start in a slot of a file mapped shared with the wrapper
//! (`slots.rs`), the end in a datagram to the Unix socket named by `FAILSCOPE_CAPTURE_SOCKET`.
//!
//! Rules every hook keeps:
//! - the program sees exactly what libc returned: the same value, the same `errno`, the same
//!   descriptors (the library's own socket is close-on-exec and never handed out);
//! - nothing blocks on telemetry: a record the wrapper has no room for is counted as dropped
//!   (and the count travels with the next record), never waited for;
//! - a hook called from inside another hook (the resolver connecting to its server inside
//!   `getaddrinfo`, our own socket calls) passes straight through (`guard.rs`);
//! - state is per process: after a `fork` the child opens its own socket, after an `exec` the
//!   library starts afresh (the environment carries `LD_PRELOAD` to every descendant).
//!
//! Every process of a job loads the library, so loading it must cost little: built with the
//! `capture` profile (`panic = "abort"`, as shipped), it has no standard library and needs only
//! libc; nothing runs at load but reading the wrapper's socket and the process's phase from its
//! environment (`load.rs`). Other profiles build the same code with `std` (cargo cannot abort
//! on panic for one package alone).
//!
//! This crate is the one place for this kind of `unsafe` (calling C functions and reading C
//! structures handed to us by the program); each use says why it holds.
#![cfg_attr(all(panic = "abort", not(test)), no_std)]
#![allow(unsafe_code)]

mod channel;
mod guard;
/// The C functions the library exports in place of libc's: its whole interface, so public.
pub mod hooks;
mod load;
mod names;
#[cfg(all(panic = "abort", not(test)))]
mod no_std;
mod pending;
mod real;
mod record;
mod slots;
mod try_lock;
