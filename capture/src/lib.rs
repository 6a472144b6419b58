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
//! This crate is the one place for this kind of `unsafe` (calling C functions and reading C
//! structures handed to us by the program); each use says why it holds.
#![allow(unsafe_code)]

mod channel;
mod guard;
/// The C functions the library exports in place of libc's: its whole interface, so public.
pub mod hooks;
mod names;
mod pending;
mod real;
mod record;
mod slots;
