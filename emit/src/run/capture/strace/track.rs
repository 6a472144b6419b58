//! Follows the traced calls of every process of the job and turns them into connect records.
//!
//! A blocking `connect` is complete on its own line (or on its `resumed` line). A non-blocking
//! one returns `EINPROGRESS` and stays pending on its descriptor until one of:
//! `getsockopt(SO_ERROR)` (its errno, or success), a `poll` that reports the descriptor
//! writable (success) or in error (the errno comes from the `getsockopt` that follows), a new
//! socket or connect reusing the descriptor number, or the process's end. A connect the program
//! gave up on (the descriptor reused, the process exiting) ends as `timeout` at the last moment
//! the program was seen waiting for it; one whose process was killed, or still pending when
//! the job ends, is `abandoned`. Threads share their parent's descriptors (`CLONE_FILES`), so
//! pending connects are kept per descriptor table, not per thread.

use std::collections::HashMap;
use std::net::IpAddr;

use failscope_schemas::ConnectOutcome;

use super::args::{self, Destination, SocketKind};
use super::parse::{CallResult, LineKind, TraceLine};
use crate::run::capture::record::{CapturedConnect, errno_of_name, outcome_of_errno};

/// The port of a DNS server: a failed connect to it is a failed name resolution.
const DNS_PORT: u16 = 53;

/// The state of every traced process, fed one line at a time.
#[derive(Debug, Default)]
pub(crate) struct ConnectTracker {
    /// Task id -> id of the task whose descriptor table it uses.
    tables: HashMap<u32, u32>,
    kinds: HashMap<(u32, i32), SocketKind>,
    pending: HashMap<(u32, i32), Pending>,
    /// Calls shown as `<unfinished ...>`: start time, name and arguments so far.
    in_call: HashMap<u32, (i64, String, String)>,
    /// Connects whose process died inside the call (`= ?`); they end at the next line.
    dying: Vec<Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    started_at_us: i64,
    addr: IpAddr,
    port: u16,
    /// The last moment the program was seen waiting for this connect.
    last_seen_us: i64,
    /// When a poll reported the descriptor in error.
    failed_at_us: Option<i64>,
}

impl ConnectTracker {
    /// Takes one line and appends the connects it completed to `out`.
    pub(crate) fn feed(&mut self, line: &TraceLine<'_>, out: &mut Vec<CapturedConnect>) {
        for dying in self.dying.drain(..) {
            out.push(ended(&dying, line.at_us, ConnectOutcome::Abandoned, None, Some("process died in connect")));
        }
        let pid = line.pid;
        match &line.kind {
            LineKind::Call { name, args, result, duration_us } => {
                let end_us = line.at_us + duration_us.unwrap_or(0);
                self.call(pid, line.at_us, end_us, name, args, result, out);
            }
            LineKind::Unfinished { name, args } => {
                self.in_call.insert(pid, (line.at_us, (*name).to_string(), (*args).to_string()));
            }
            LineKind::Resumed { name, rest, result, duration_us } => {
                if let Some((started_at_us, started_name, mut args)) = self.in_call.remove(&pid)
                    && started_name == *name
                {
                    args.push_str(rest);
                    let end_us = duration_us.map_or(line.at_us, |d| started_at_us + d);
                    self.call(pid, started_at_us, end_us, name, &args, result, out);
                }
            }
            LineKind::NoReturn { name, args } => {
                if *name == "connect"
                    && let Some((_, Destination::Ip { addr, port })) = args::connect_args(args)
                {
                    self.dying.push(Pending {
                        started_at_us: line.at_us,
                        addr,
                        port,
                        last_seen_us: line.at_us,
                        failed_at_us: None,
                    });
                }
            }
            LineKind::Exited { .. } => self.process_ended(pid, line.at_us, false, out),
            LineKind::Killed { .. } => self.process_ended(pid, line.at_us, true, out),
        }
    }

    /// Ends the trace at `end_us` (the job ended or was killed): everything still in flight
    /// is `abandoned`.
    pub(crate) fn finish(mut self, end_us: i64, out: &mut Vec<CapturedConnect>) {
        for dying in self.dying.drain(..) {
            out.push(ended(&dying, end_us, ConnectOutcome::Abandoned, None, Some("process died in connect")));
        }
        let in_call: Vec<u32> = self.in_call.keys().copied().collect();
        for pid in in_call {
            self.abandon_call(pid, end_us, "in flight when the job ended", out);
        }
        let mut pending: Vec<Pending> = self.pending.into_values().collect();
        pending.sort_by_key(|p| p.started_at_us);
        for p in pending {
            out.push(ended(&p, end_us, ConnectOutcome::Abandoned, None, Some("in flight when the job ended")));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        pid: u32,
        at_us: i64,
        end_us: i64,
        name: &str,
        call_args: &str,
        result: &CallResult<'_>,
        out: &mut Vec<CapturedConnect>,
    ) {
        let table = self.table(pid);
        match (name, result) {
            ("socket", CallResult::Value { value, .. }) => {
                let Ok(fd) = i32::try_from(*value) else { return };
                self.descriptor_reused(table, fd, out);
                self.kinds.insert((table, fd), args::socket_kind(call_args));
            }
            ("connect", _) => self.connect(table, at_us, end_us, call_args, result, out),
            ("getsockopt", CallResult::Value { .. }) => {
                let Some((fd, error)) = args::so_error_args(call_args) else { return };
                let Some(p) = self.pending.remove(&(table, fd)) else { return };
                let end_us = p.failed_at_us.unwrap_or(end_us);
                match error.and_then(|name| errno_of_name(name).map(|errno| (name, errno))) {
                    None if error.is_none() => out.push(ended(&p, end_us, ConnectOutcome::Ok, None, None)),
                    None => out.push(ended(&p, end_us, ConnectOutcome::Other, None, Some("unknown SO_ERROR value"))),
                    Some((_, errno)) => out.push(ended(&p, end_us, outcome_of_errno(errno), Some(errno), None)),
                }
            }
            ("poll" | "ppoll", CallResult::Value { detail, .. }) => {
                for fd in args::polled_fds(call_args) {
                    if let Some(p) = self.pending.get_mut(&(table, fd)) {
                        p.last_seen_us = end_us;
                    }
                }
                for (fd, failed) in args::poll_revents(detail) {
                    if failed {
                        if let Some(p) = self.pending.get_mut(&(table, fd)) {
                            p.failed_at_us.get_or_insert(end_us);
                        }
                    } else if let Some(p) = self.pending.remove(&(table, fd)) {
                        out.push(ended(&p, end_us, ConnectOutcome::Ok, None, None));
                    }
                }
            }
            ("clone" | "clone3" | "vfork" | "fork", CallResult::Value { value, .. }) => {
                if let Ok(child) = u32::try_from(*value)
                    && child != 0
                    && args::clone_shares_files(call_args)
                {
                    self.tables.insert(child, table);
                }
            }
            _ => {}
        }
    }

    fn connect(
        &mut self,
        table: u32,
        at_us: i64,
        end_us: i64,
        call_args: &str,
        result: &CallResult<'_>,
        out: &mut Vec<CapturedConnect>,
    ) {
        let Some((fd, Destination::Ip { addr, port })) = args::connect_args(call_args) else { return };
        let key = (table, fd);
        let attempt = Pending { started_at_us: at_us, addr, port, last_seen_us: end_us, failed_at_us: None };
        if self.kinds.get(&key) == Some(&SocketKind::Udp) {
            // A UDP connect sends nothing; only the resolver's failing to reach its server says
            // something about the network.
            if port == DNS_PORT
                && let CallResult::Error { errno_name } = result
            {
                let errno = errno_of_name(errno_name);
                out.push(ended(&attempt, end_us, ConnectOutcome::DnsError, errno, Some("name server unreachable")));
            }
            return;
        }
        match result {
            CallResult::Value { .. } => out.push(ended(&attempt, end_us, ConnectOutcome::Ok, None, None)),
            CallResult::Error { errno_name: "EINPROGRESS" | "EINTR" | "EAGAIN" } => {
                self.descriptor_reused(table, fd, out);
                self.pending.insert(key, attempt);
            }
            CallResult::Error { errno_name: "EALREADY" } => {
                if let Some(p) = self.pending.get_mut(&key) {
                    p.last_seen_us = end_us;
                }
            }
            CallResult::Error { errno_name: "EISCONN" } => {
                if let Some(p) = self.pending.remove(&key) {
                    out.push(ended(&p, end_us, ConnectOutcome::Ok, None, None));
                }
            }
            CallResult::Error { errno_name } => {
                self.descriptor_reused(table, fd, out);
                match errno_of_name(errno_name) {
                    Some(errno) => out.push(ended(&attempt, end_us, outcome_of_errno(errno), Some(errno), None)),
                    None => out.push(ended(&attempt, end_us, ConnectOutcome::Other, None, Some("unknown errno"))),
                }
            }
        }
    }

    /// A descriptor number came back into use: a connect still pending on it was closed by the
    /// program before any result.
    fn descriptor_reused(&mut self, table: u32, fd: i32, out: &mut Vec<CapturedConnect>) {
        if let Some(p) = self.pending.remove(&(table, fd)) {
            out.push(ended(&p, p.last_seen_us, ConnectOutcome::Timeout, None, Some("closed before a result")));
        }
    }

    fn process_ended(&mut self, pid: u32, at_us: i64, killed: bool, out: &mut Vec<CapturedConnect>) {
        self.abandon_call(pid, at_us, "in flight when the process ended", out);
        let table = self.table(pid);
        self.tables.remove(&pid);
        if table != pid {
            return;
        }
        let mut ended_here: Vec<Pending> = Vec::new();
        self.pending.retain(|(t, _), p| {
            if *t == table {
                ended_here.push(p.clone());
            }
            *t != table
        });
        self.kinds.retain(|(t, _), _| *t != table);
        ended_here.sort_by_key(|p| p.started_at_us);
        for p in ended_here {
            out.push(if killed {
                ended(&p, at_us, ConnectOutcome::Abandoned, None, Some("process killed while connecting"))
            } else {
                ended(&p, p.last_seen_us, ConnectOutcome::Timeout, None, Some("process exited before a result"))
            });
        }
    }

    fn abandon_call(&mut self, pid: u32, at_us: i64, note: &'static str, out: &mut Vec<CapturedConnect>) {
        if let Some((started_at_us, name, call_args)) = self.in_call.remove(&pid)
            && name == "connect"
            && let Some((_, Destination::Ip { addr, port })) = args::connect_args(&call_args)
        {
            let p = Pending { started_at_us, addr, port, last_seen_us: started_at_us, failed_at_us: None };
            out.push(ended(&p, at_us, ConnectOutcome::Abandoned, None, Some(note)));
        }
    }

    fn table(&self, pid: u32) -> u32 {
        self.tables.get(&pid).copied().unwrap_or(pid)
    }
}

fn ended(
    p: &Pending,
    end_us: i64,
    outcome: ConnectOutcome,
    errno: Option<i32>,
    note: Option<&'static str>,
) -> CapturedConnect {
    CapturedConnect {
        started_at_us: p.started_at_us,
        duration_us: (end_us - p.started_at_us).max(0),
        host: None,
        addr: Some(p.addr),
        port: p.port,
        outcome,
        errno,
        note,
        // strace does not see the environment of the processes it traces.
        phase: None,
    }
}
