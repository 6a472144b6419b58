//! Reads the preload library's slot files (`capture/src/slots.rs` defines them): one
//! `starts.<pid>` file per process of the job, 304-byte slots, each a connect in flight.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

const SLOT_SIZE: usize = 304;
const MAX_HOST: usize = 200;
const MAX_PHASE: usize = 63;
const IN_FLIGHT: u32 = 2;

/// A connect a process had started and not ended when its slots were read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InFlight {
    pub(crate) pid: u32,
    pub(crate) fd: i32,
    pub(crate) seq: u32,
    pub(crate) started_at_us: i64,
    pub(crate) addr: IpAddr,
    pub(crate) port: u16,
    pub(crate) host: Option<String>,
    /// The process's `FAILSCOPE_PHASE`.
    pub(crate) phase: Option<String>,
}

/// Every connect in flight in the slot files of `dir`.
pub(crate) fn in_flight(dir: &Path) -> Vec<InFlight> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("starts.")).and_then(|p| p.parse().ok()) else {
            continue;
        };
        if let Ok(bytes) = std::fs::read(entry.path()) {
            found.extend(bytes.chunks_exact(SLOT_SIZE).filter_map(|slot| parse_slot(pid, slot)));
        }
    }
    found
}

fn parse_slot(pid: u32, slot: &[u8]) -> Option<InFlight> {
    let u32_at = |at: usize| u32::from_ne_bytes(slot[at..at + 4].try_into().expect("4 bytes"));
    if u32_at(0) != IN_FLIGHT {
        return None;
    }
    let fd = i32::from_ne_bytes(slot[4..8].try_into().expect("4 bytes"));
    let seq = u32_at(8);
    let port = u16::from_ne_bytes(slot[12..14].try_into().expect("2 bytes"));
    let (family, host_len) = (slot[14], usize::from(slot[15]).min(MAX_HOST));
    let started_at_us = i64::from_ne_bytes(slot[16..24].try_into().expect("8 bytes"));
    let addr: [u8; 16] = slot[24..40].try_into().expect("16 bytes");
    let addr = match family {
        4 => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
        6 => IpAddr::V6(Ipv6Addr::from(addr)),
        _ => return None,
    };
    let host = (host_len > 0).then(|| String::from_utf8_lossy(&slot[40..40 + host_len]).into_owned());
    let phase_len = usize::from(slot[240]).min(MAX_PHASE);
    let phase = (phase_len > 0).then(|| String::from_utf8_lossy(&slot[241..241 + phase_len]).into_owned());
    Some(InFlight { pid, fd, seq, started_at_us, addr, port, host, phase })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f` as the library writes it, in state `state`.
    fn slot(state: u32, f: &InFlight) -> Vec<u8> {
        let host = f.host.as_deref().unwrap_or_default();
        let phase = f.phase.as_deref().unwrap_or_default();
        let (family, addr) = match f.addr {
            IpAddr::V4(a) => (4, a.octets().to_vec()),
            IpAddr::V6(a) => (6, a.octets().to_vec()),
        };
        let mut s = vec![0u8; SLOT_SIZE];
        s[0..4].copy_from_slice(&state.to_ne_bytes());
        s[4..8].copy_from_slice(&f.fd.to_ne_bytes());
        s[8..12].copy_from_slice(&f.seq.to_ne_bytes());
        s[12..14].copy_from_slice(&f.port.to_ne_bytes());
        s[14] = family;
        s[15] = host.len() as u8;
        s[16..24].copy_from_slice(&f.started_at_us.to_ne_bytes());
        s[24..24 + addr.len()].copy_from_slice(&addr);
        s[40..40 + host.len()].copy_from_slice(host.as_bytes());
        s[240] = phase.len() as u8;
        s[241..241 + phase.len()].copy_from_slice(phase.as_bytes());
        s
    }

    #[test]
    fn reads_the_slots_in_flight() {
        let dir = tempfile::tempdir().expect("temp dir");
        let v4 = InFlight {
            pid: 42,
            fd: 5,
            seq: 7,
            started_at_us: 1_000,
            addr: "192.0.2.1".parse().expect("ip"),
            port: 443,
            host: Some("registry.example.com".into()),
            phase: Some("checkout".into()),
        };
        let freed = InFlight { seq: 8, port: 80, host: None, ..v4.clone() };
        let v6 = InFlight {
            fd: 7,
            seq: 9,
            started_at_us: 3_000,
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            port: 5432,
            host: None,
            phase: None,
            ..v4.clone()
        };
        let file = [slot(2, &v4), slot(0, &freed), slot(2, &v6)].concat();
        std::fs::write(dir.path().join("starts.42"), file).expect("write");
        std::fs::write(dir.path().join("records.sock"), b"").expect("write");
        let mut got = in_flight(dir.path());
        got.sort_by_key(|f| f.seq);
        let want = [v4, v6];
        assert_eq!(got, want);
    }
}
