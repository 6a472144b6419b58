//! Reads the preload library's records (`capture/src/record.rs` defines them) and pairs each
//! connect's start with its end. A start with no end when the job is over was still in flight:
//! `abandoned`, with the time it had been hanging.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use failscope_schemas::ConnectOutcome;

use super::slots::InFlight;
use crate::run::capture::record::{CapturedConnect, outcome_of_errno};

/// Connects started and not yet ended, and what each process said it dropped.
#[derive(Debug, Default)]
pub(crate) struct RecordMatcher {
    started: HashMap<(u32, i32, u32), Started>,
    /// Connects whose end arrived, so a slot not yet freed is not taken for one in flight.
    ended: HashSet<(u32, i32, u32)>,
    dropped_by_pid: HashMap<u32, u64>,
}

#[derive(Debug, Clone)]
struct Started {
    at_us: i64,
    addr: IpAddr,
    port: u16,
    host: Option<String>,
    phase: Option<String>,
}

impl RecordMatcher {
    /// Takes one record; appends the connect it completed, if any, to `out`. Malformed records
    /// are ignored and counted by the caller.
    pub(crate) fn feed(&mut self, record: &str, out: &mut Vec<CapturedConnect>) -> bool {
        let fields: Vec<&str> = record.trim_end().split(' ').collect();
        match fields.as_slice() {
            ["S", pid, fd, seq, at_us, addr, port, dropped, phase, host] => {
                let (Some(pid), Some(fd), Some(seq)) = (num(pid), num(fd), num(seq)) else { return false };
                let (Some(at_us), Ok(addr), Some(port)) = (num(at_us), addr.parse(), num(port)) else { return false };
                self.note_dropped(pid, dropped);
                let (host, phase) = (named(host), named(phase));
                self.started.insert((pid, fd, seq), Started { at_us, addr, port, host, phase });
                true
            }
            ["E", pid, fd, seq, at_us, kind, errno, dropped, phase, kept @ ..] => {
                let (Some(pid), Some(fd), Some(seq), Some(at_us)) = (num(pid), num(fd), num(seq), num::<i64>(at_us))
                else {
                    return false;
                };
                self.note_dropped(pid, dropped);
                self.ended.insert((pid, fd, seq));
                // The start came in its own record, or rides on this one (kept in a slot).
                let start = match kept {
                    [] => match self.started.remove(&(pid, fd, seq)) {
                        Some(start) => start,
                        None => return true,
                    },
                    [start_us, addr, port, host] => {
                        let (Some(at_us), Ok(addr), Some(port)) = (num(start_us), addr.parse(), num(port)) else {
                            return false;
                        };
                        Started { at_us, addr, port, host: named(host), phase: named(phase) }
                    }
                    _ => return false,
                };
                let errno: i32 = num(errno).unwrap_or(0);
                let (outcome, errno, note) = match *kind {
                    "ok" => (ConnectOutcome::Ok, None, None),
                    "closed" => (ConnectOutcome::Timeout, None, Some("closed before a result")),
                    _ => (outcome_of_errno(errno), Some(errno), None),
                };
                out.push(connect_of(&start, at_us, outcome, errno, note));
                true
            }
            ["D", pid, at_us, duration_us, port, eai, errno, dropped, phase, host] => {
                let (Some(pid), Some(at_us), Some(duration_us)) = (num(pid), num(at_us), num(duration_us)) else {
                    return false;
                };
                self.note_dropped(pid, dropped);
                let eai: i32 = num(eai).unwrap_or(0);
                let errno = num(errno).filter(|&e: &i32| e != 0);
                out.push(CapturedConnect {
                    started_at_us: at_us,
                    duration_us,
                    host: Some((*host).to_string()),
                    addr: None,
                    port: num(port).unwrap_or(0),
                    outcome: ConnectOutcome::DnsError,
                    errno,
                    note: Some(resolver_error_text(eai)),
                    phase: named(phase),
                });
                true
            }
            _ => false,
        }
    }

    /// Ends matching at `end_us`: every connect still started, by a record or in a slot
    /// (`in_flight`), is `abandoned`.
    pub(crate) fn finish(mut self, end_us: i64, in_flight: Vec<InFlight>, out: &mut Vec<CapturedConnect>) {
        for f in in_flight {
            let key = (f.pid, f.fd, f.seq);
            if !self.ended.contains(&key) {
                let (at_us, addr, port, host, phase) = (f.started_at_us, f.addr, f.port, f.host, f.phase);
                self.started.insert(key, Started { at_us, addr, port, host, phase });
            }
        }
        let mut left: Vec<Started> = self.started.into_values().collect();
        left.sort_by_key(|s| s.at_us);
        for start in left {
            out.push(connect_of(&start, end_us, ConnectOutcome::Abandoned, None, Some("in flight when the job ended")));
        }
    }

    /// Records the processes said they could not send.
    pub(super) fn n_dropped(&self) -> u64 {
        self.dropped_by_pid.values().sum()
    }

    fn note_dropped(&mut self, pid: u32, dropped: &str) {
        if let Some(n) = num::<u64>(dropped) {
            let seen = self.dropped_by_pid.entry(pid).or_default();
            *seen = (*seen).max(n);
        }
    }
}

fn connect_of(
    start: &Started,
    end_us: i64,
    outcome: ConnectOutcome,
    errno: Option<i32>,
    note: Option<&'static str>,
) -> CapturedConnect {
    CapturedConnect {
        started_at_us: start.at_us,
        duration_us: (end_us - start.at_us).max(0),
        host: start.host.clone(),
        addr: Some(start.addr),
        port: start.port,
        outcome,
        errno,
        note,
        phase: start.phase.clone(),
    }
}

/// `getaddrinfo`'s error codes (glibc) as short text.
fn resolver_error_text(eai: i32) -> &'static str {
    match eai {
        -2 => "name not known (EAI_NONAME)",
        -3 => "temporary resolver failure (EAI_AGAIN)",
        -4 => "resolver failure (EAI_FAIL)",
        -5 => "no address for the name (EAI_NODATA)",
        -11 => "resolver system error (EAI_SYSTEM)",
        _ => "name resolution failed",
    }
}

/// A host name or phase field: `-` when the library had none.
fn named(field: &str) -> Option<String> {
    (field != "-").then(|| field.to_string())
}

fn num<T: std::str::FromStr>(text: &str) -> Option<T> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_starts_with_ends_and_abandons_the_rest() {
        let records = [
            "S 10 5 1 1000000 127.0.0.1 8080 0 checkout localhost",
            "E 10 5 1 1000250 ok 0 0 checkout",
            "S 10 6 2 2000000 ::1 5432 0 - -",
            "E 10 6 2 2000100 err 111 0 -",
            "S 11 5 1 3000000 192.0.2.1 443 2 - registry.example.com",
            "E 11 5 1 4000000 closed 0 3 -",
            "D 12 5000000 700 443 -3 0 0 deps nothing.invalid",
            "S 13 4 9 6000000 192.0.2.2 80 0 - -",
            "E 99 4 9 6000001 ok 0 0 -",
            "S 13 4",
            "E 14 3 1 7000300 err 110 0 test 7000000 192.0.2.3 443 mirror.example.org",
        ];
        let mut matcher = RecordMatcher::default();
        let mut out = Vec::new();
        let accepted: Vec<bool> = records.iter().map(|r| matcher.feed(r, &mut out)).collect();
        assert_eq!(accepted, [true, true, true, true, true, true, true, true, true, false, true]);
        assert_eq!(matcher.n_dropped(), 3);
        let slot = |pid, fd, seq, port| InFlight {
            pid,
            fd,
            seq,
            started_at_us: 6_200_000,
            addr: "192.0.2.4".parse().expect("ip"),
            port,
            host: None,
            phase: Some("test".into()),
        };
        // One slot of a connect whose end already arrived, one of a connect killed in flight.
        matcher.finish(6_500_000, vec![slot(14, 3, 1, 443), slot(15, 3, 1, 8443)], &mut out);
        let got: Vec<_> = out
            .iter()
            .map(|c| (c.outcome, c.host.as_deref(), c.port, c.errno, c.duration_us, c.phase.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (ConnectOutcome::Ok, Some("localhost"), 8080, None, 250, Some("checkout")),
                (ConnectOutcome::Refused, None, 5432, Some(111), 100, None),
                (ConnectOutcome::Timeout, Some("registry.example.com"), 443, None, 1_000_000, None),
                (ConnectOutcome::DnsError, Some("nothing.invalid"), 443, None, 700, Some("deps")),
                (ConnectOutcome::Timeout, Some("mirror.example.org"), 443, Some(110), 300, Some("test")),
                (ConnectOutcome::Abandoned, None, 80, None, 500_000, None),
                (ConnectOutcome::Abandoned, None, 8443, None, 300_000, Some("test")),
            ]
        );
    }
}
