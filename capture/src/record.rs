//! The records sent to the wrapper, one datagram each, as a line of space-separated fields
//! (read by `emit/src/run/capture/preload/records.rs`):
//!
//! - `S pid fd seq time_us addr port dropped phase host` — a TCP connect starts (`host` is `-`
//!   when the address was not resolved by this process); sent only when the connect found no
//!   slot (`slots.rs`), which otherwise keeps its start;
//! - `E pid fd seq time_us ok|err|closed errno dropped phase [start_us addr port host]` — it
//!   ended: connected, failed with `errno`, or closed by the program before any result; with
//!   its start when that was kept in a slot;
//! - `D pid time_us duration_us port eai_code errno dropped phase host` — a name did not
//!   resolve.
//!
//! `dropped` is how many records this process could not send so far; `phase` is the process's
//! `FAILSCOPE_PHASE` (`load.rs`), `-` when it has none.

use core::fmt::Write;

use crate::slots::Start;
use crate::{channel, load};

/// How a connect ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending {
    Connected,
    Failed(i32),
    Closed,
}

pub(crate) fn start(fd: libc::c_int, seq: u32, start: &Start) {
    let mut line = Line::new();
    let (at_us, addr, port) = (start.started_us, start.addr, start.port);
    let _ = write!(line, "S {} {fd} {seq} {at_us} {addr} {port} {} ", pid(), channel::dropped());
    line.push_phase();
    line.push_name(&start.host[..start.host_len]);
    channel::send(line.bytes());
}

/// The end of connect `seq`; `start` when it was kept in a slot rather than sent.
pub(crate) fn end(fd: libc::c_int, seq: u32, ending: Ending, start: Option<&Start>) {
    let (kind, errno) = match ending {
        Ending::Connected => ("ok", 0),
        Ending::Failed(errno) => ("err", errno),
        Ending::Closed => ("closed", 0),
    };
    let mut line = Line::new();
    let _ = write!(line, "E {} {fd} {seq} {} {kind} {errno} {} ", pid(), now_us(), channel::dropped());
    line.push_phase();
    if let Some(start) = start {
        let _ = write!(line, "{} {} {} ", start.started_us, start.addr, start.port);
        line.push_name(&start.host[..start.host_len]);
    }
    channel::send(line.trimmed());
}

pub(crate) fn resolution_failed(started_us: i64, port: u16, eai_code: i32, errno: i32, host: &[u8]) {
    let mut line = Line::new();
    let duration_us = now_us() - started_us;
    let _ = write!(line, "D {} {started_us} {duration_us} {port} {eai_code} {errno} {} ", pid(), channel::dropped());
    line.push_phase();
    line.push_name(host);
    channel::send(line.bytes());
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    // SAFETY: timespec is plain data; clock_gettime writes it whole for a valid clock id.
    let mut now: libc::timespec = unsafe { core::mem::zeroed() };
    // SAFETY: `now` is a live, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    now.tv_sec * 1_000_000 + now.tv_nsec / 1_000
}

fn pid() -> libc::pid_t {
    channel::own_pid()
}

/// A record being written, on the stack: no allocation in a hook.
struct Line {
    buffer: [u8; 512],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line { buffer: [0; 512], len: 0 }
    }

    fn bytes(&self) -> &[u8] {
        &self.buffer[..self.len]
    }

    /// The record without a trailing space.
    fn trimmed(&self) -> &[u8] {
        self.bytes().strip_suffix(b" ").unwrap_or(self.bytes())
    }

    /// Appends the process's phase (`-` when it has none) and a space.
    fn push_phase(&mut self) {
        let phase = load::settings().map_or(&[][..], |s| s.phase.as_bytes());
        self.push_name(phase);
        let _ = self.write_str(" ");
    }

    /// Appends a name, `-` when empty, with anything but printable ASCII replaced.
    fn push_name(&mut self, name: &[u8]) {
        if name.is_empty() {
            let _ = self.write_str("-");
        }
        for &byte in name {
            let byte = if byte.is_ascii_graphic() { byte } else { b'?' };
            if self.len < self.buffer.len() {
                self.buffer[self.len] = byte;
                self.len += 1;
            }
        }
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buffer.len() {
            return Err(core::fmt::Error);
        }
        self.buffer[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
