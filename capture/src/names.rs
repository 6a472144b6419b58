//! The names programs resolved, by address: `getaddrinfo` results remembered so that a later
//! connect to one of the addresses is reported with the name, as the program asked for it.

use crate::try_lock::TryLock;
use core::net::IpAddr;

const N_ENTRIES: usize = 64;
const MAX_NAME: usize = crate::slots::MAX_HOST;

struct Entry {
    addr: Option<IpAddr>,
    name: [u8; MAX_NAME],
    name_len: usize,
}

struct Names {
    entries: [Entry; N_ENTRIES],
    next: usize,
}

static NAMES: TryLock<Names> = TryLock::new(Names {
    entries: [const { Entry { addr: None, name: [0; MAX_NAME], name_len: 0 } }; N_ENTRIES],
    next: 0,
});

/// Remembers that `name` resolved to `addr`. Skipped, never waited for, when another thread
/// holds the table.
pub(crate) fn remember(addr: IpAddr, name: &[u8]) {
    let Some(mut names) = NAMES.try_lock() else { return };
    let len = name.len().min(MAX_NAME);
    let index = match names.entries.iter().position(|e| e.addr == Some(addr)) {
        Some(index) => index,
        None => {
            let index = names.next;
            names.next = (index + 1) % N_ENTRIES;
            index
        }
    };
    let entry = &mut names.entries[index];
    entry.addr = Some(addr);
    entry.name[..len].copy_from_slice(&name[..len]);
    entry.name_len = len;
}

/// Copies the name `addr` was resolved from into `out`; its length, 0 when unknown.
pub(crate) fn name_of(addr: IpAddr, out: &mut [u8; MAX_NAME]) -> usize {
    let Some(names) = NAMES.try_lock() else { return 0 };
    match names.entries.iter().find(|e| e.addr == Some(addr)) {
        Some(entry) => {
            out[..entry.name_len].copy_from_slice(&entry.name[..entry.name_len]);
            entry.name_len
        }
        None => 0,
    }
}
