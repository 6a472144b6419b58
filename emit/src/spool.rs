//! The durable on-disk spool: every event is written here before it is produced and removed
//! once the broker acknowledged it, so a broker outage or a `kill -9` loses nothing.
//!
//! Layout: the spool root holds one directory per live process, named by a UUID and holding
//! an exclusively `flock`ed `lock` file. An entry is one file `<uuid-v7>.event` holding the
//! event's contract JSON, written to a temporary name, synced and renamed, so it is either
//! whole or absent. A process that opens the spool adopts the directories whose lock nobody
//! holds (their process died) by moving their entries into its own directory. Entries sort by
//! their UUID v7 name, which is the order they were spooled in.
//!
//! The spool is bounded: an append that would pass `max_bytes` first drops the oldest entries
//! not in flight and adds them to a persistent drop counter, which the emitter turns into a
//! loss-marker event (an entry named `<uuid>.loss-<n>`). Events lost outside the spool (not
//! spoolable and not delivered, or an entry that no longer decodes) join the same counter.
//!
//! Events can carry what a job printed, so the spool is private to its user: directories are
//! created `0700` and files `0600`; a spool root owned by another user is refused, and one of
//! ours that others can read is made private again.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

const EVENT_SUFFIX: &str = ".event";
const LOSS_SUFFIX: &str = ".loss-";
const LOCK_FILE: &str = "lock";
const DROPS_FILE: &str = "dropped";

/// Why the spool could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool i/o on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock spool directory {path}: {errno}")]
    Lock { path: PathBuf, errno: nix::errno::Errno },
    #[error("spool directory {path} is owned by uid {owner}, not by this user (uid {uid})")]
    NotOurs { path: PathBuf, owner: u32, uid: u32 },
    #[error("event of {n_bytes} bytes is larger than the whole spool ({max_bytes} bytes)")]
    TooLarge { n_bytes: u64, max_bytes: u64 },
}

/// One spooled event, read back for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledEvent {
    /// The entry's name in the spool; pass it to [`Spool::remove`] or [`Spool::release`].
    pub(crate) key: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    n_bytes: u64,
    /// Handed out for delivery and not yet removed or released.
    in_flight: bool,
    /// A loss marker standing for this many dropped events.
    n_lost: Option<u64>,
}

/// A bounded, crash-safe queue of event payloads on disk.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    _lock: Flock<File>,
    max_bytes: u64,
    entries: BTreeMap<String, Entry>,
    total_bytes: u64,
    n_unreported_drops: u64,
    n_dropped_total: u64,
}

impl Spool {
    /// Opens a spool under `root`, creating it if needed, and adopts the entries of dead
    /// processes. Evicts oldest entries if what was adopted passes `max_bytes`.
    pub fn open(root: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        create_dir(root)?;
        make_private(root)?;
        let name = uuid::Uuid::now_v7().simple().to_string();
        let staging = root.join(format!(".{name}.tmp"));
        create_dir(&staging)?;
        let lock = lock_dir(&staging)?.map_err(|errno| SpoolError::Lock { path: staging.clone(), errno })?;
        let dir = root.join(&name);
        fs::rename(&staging, &dir).map_err(io_at(&dir))?;
        sync_dir(root)?;
        let mut spool = Spool {
            dir,
            _lock: lock,
            max_bytes,
            entries: BTreeMap::new(),
            total_bytes: 0,
            n_unreported_drops: 0,
            n_dropped_total: 0,
        };
        spool.adopt_orphans(root)?;
        spool.evict_until_fits(0)?;
        Ok(spool)
    }

    /// Durably stores `payload` as the newest entry and returns its key. The entry is marked
    /// in flight: the caller is about to deliver it.
    pub fn append(&mut self, payload: &[u8]) -> Result<String, SpoolError> {
        self.append_entry(payload, None)
    }

    /// Stores a loss marker standing for `n_lost` dropped events and clears the drop counter.
    pub fn append_loss_marker(&mut self, payload: &[u8], n_lost: u64) -> Result<String, SpoolError> {
        let key = self.append_entry(payload, Some(n_lost))?;
        self.n_unreported_drops = self.n_unreported_drops.saturating_sub(n_lost);
        self.write_drops()?;
        Ok(key)
    }

    /// Up to `max` entries not in flight, oldest first, now marked in flight.
    pub fn claim_pending(&mut self, max: usize) -> Result<Vec<SpooledEvent>, SpoolError> {
        let keys: Vec<String> =
            self.entries.iter().filter(|(_, e)| !e.in_flight).take(max).map(|(k, _)| k.clone()).collect();
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let path = self.path_of(&key);
            match fs::read(&path) {
                Ok(payload) => {
                    if let Some(entry) = self.entries.get_mut(&key) {
                        entry.in_flight = true;
                    }
                    out.push(SpooledEvent { key, payload });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.forget(&key),
                Err(source) => return Err(SpoolError::Io { path, source }),
            }
        }
        Ok(out)
    }

    /// The entry was delivered: delete it.
    pub(crate) fn remove(&mut self, key: &str) -> Result<(), SpoolError> {
        let path = self.path_of(key);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SpoolError::Io { path, source }),
        }
        self.forget(key);
        Ok(())
    }

    /// Delivery of the entry failed: keep it for a later attempt.
    pub fn release(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.in_flight = false;
        }
    }

    /// Entries stored, in flight or not.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Dropped events not yet covered by a loss marker.
    pub fn n_unreported_drops(&self) -> u64 {
        self.n_unreported_drops
    }

    /// Counts `n` events lost outside the spool (neither spooled nor delivered, or an entry
    /// that no longer decodes), so that the next loss marker covers them. Counting cannot
    /// fail: on a full disk the count lives in memory until it can be written.
    pub(crate) fn record_loss(&mut self, n: u64) {
        if let Err(e) = self.count_drops(n) {
            tracing::warn!(error = %e, "cannot persist the spool's drop counter; kept in memory");
        }
    }

    /// Events this process dropped (adopted drop counts included).
    pub(crate) fn n_dropped_total(&self) -> u64 {
        self.n_dropped_total
    }

    fn append_entry(&mut self, payload: &[u8], n_lost: Option<u64>) -> Result<String, SpoolError> {
        let n_bytes = payload.len() as u64;
        if n_bytes > self.max_bytes {
            self.count_drops(1)?;
            return Err(SpoolError::TooLarge { n_bytes, max_bytes: self.max_bytes });
        }
        self.evict_until_fits(n_bytes)?;
        let key = uuid::Uuid::now_v7().simple().to_string();
        let file_name = entry_file_name(&key, n_lost);
        let staging = self.dir.join(format!("{key}.tmp"));
        write_synced(&staging, payload)?;
        let path = self.dir.join(&file_name);
        fs::rename(&staging, &path).map_err(io_at(&path))?;
        sync_dir(&self.dir)?;
        self.entries.insert(file_name.clone(), Entry { n_bytes, in_flight: true, n_lost });
        self.total_bytes += n_bytes;
        Ok(file_name)
    }

    fn evict_until_fits(&mut self, n_bytes: u64) -> Result<(), SpoolError> {
        let mut n_dropped = 0;
        while self.total_bytes + n_bytes > self.max_bytes {
            let oldest = self.entries.iter().find(|(_, e)| !e.in_flight).or_else(|| self.entries.iter().next());
            let Some((key, entry)) = oldest.map(|(k, e)| (k.clone(), *e)) else { break };
            self.remove(&key)?;
            n_dropped += entry.n_lost.unwrap_or(1);
        }
        if n_dropped > 0 {
            tracing::warn!(n_dropped, max_bytes = self.max_bytes, "spool full: dropped oldest events");
            self.count_drops(n_dropped)?;
        }
        Ok(())
    }

    fn count_drops(&mut self, n: u64) -> Result<(), SpoolError> {
        self.n_unreported_drops += n;
        self.n_dropped_total += n;
        self.write_drops()
    }

    fn write_drops(&self) -> Result<(), SpoolError> {
        let staging = self.dir.join(format!("{DROPS_FILE}.tmp"));
        write_synced(&staging, self.n_unreported_drops.to_string().as_bytes())?;
        let path = self.dir.join(DROPS_FILE);
        fs::rename(&staging, &path).map_err(io_at(&path))
    }

    fn forget(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.total_bytes -= entry.n_bytes;
        }
    }

    fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// Moves the entries of every directory whose lock is free (its process died) into ours.
    fn adopt_orphans(&mut self, root: &Path) -> Result<(), SpoolError> {
        let mut n_adopted_drops = 0;
        for dir in list_dir(root)? {
            // Dot-directories are processes still opening their spool.
            let hidden = dir.file_name().and_then(|n| n.to_str()).is_none_or(|n| n.starts_with('.'));
            if dir == self.dir || hidden || !dir.is_dir() {
                continue;
            }
            let Ok(Ok(_orphan_lock)) = lock_dir(&dir) else { continue };
            for path in list_dir(&dir)? {
                let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
                if let Some(n_lost) = parse_entry_name(&name) {
                    let target = self.dir.join(&name);
                    fs::rename(&path, &target).map_err(io_at(&target))?;
                    let n_bytes = fs::metadata(&target).map_err(io_at(&target))?.len();
                    self.entries.insert(name, Entry { n_bytes, in_flight: false, n_lost });
                    self.total_bytes += n_bytes;
                } else if name == DROPS_FILE {
                    let text = fs::read_to_string(&path).map_err(io_at(&path))?;
                    n_adopted_drops += text.trim().parse::<u64>().unwrap_or(0);
                }
            }
            fs::remove_dir_all(&dir).map_err(io_at(&dir))?;
        }
        sync_dir(&self.dir)?;
        if n_adopted_drops > 0 {
            self.count_drops(n_adopted_drops)?;
        }
        if !self.entries.is_empty() {
            tracing::info!(n_entries = self.entries.len(), n_bytes = self.total_bytes, "adopted spooled events");
        }
        Ok(())
    }
}

impl Drop for Spool {
    /// An empty spool directory is removed so idle processes leave nothing behind; one that
    /// still holds events stays for the next process to adopt.
    fn drop(&mut self) {
        if self.entries.is_empty() && self.n_unreported_drops == 0 {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn entry_file_name(key: &str, n_lost: Option<u64>) -> String {
    match n_lost {
        Some(n) => format!("{key}{LOSS_SUFFIX}{n}"),
        None => format!("{key}{EVENT_SUFFIX}"),
    }
}

/// `Some(n_lost)` for an entry file name, `None` for anything else.
fn parse_entry_name(name: &str) -> Option<Option<u64>> {
    if name.ends_with(EVENT_SUFFIX) {
        return Some(None);
    }
    let (_, n) = name.split_once(LOSS_SUFFIX)?;
    n.parse().ok().map(Some)
}

fn lock_dir(dir: &Path) -> Result<Result<Flock<File>, nix::errno::Errno>, SpoolError> {
    let path = dir.join(LOCK_FILE);
    let file =
        OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(&path).map_err(io_at(&path))?;
    Ok(Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| errno))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
    let mut file =
        OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(path).map_err(io_at(path))?;
    file.write_all(bytes).map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_at(dir))
}

fn create_dir(dir: &Path) -> Result<(), SpoolError> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_at(dir))
}

/// Refuses a spool root that belongs to another user; takes group and other access away from
/// one of ours (an older version, or a directory made by hand, may have left it open).
fn make_private(root: &Path) -> Result<(), SpoolError> {
    let meta = fs::metadata(root).map_err(io_at(root))?;
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(SpoolError::NotOurs { path: root.to_path_buf(), owner: meta.uid(), uid });
    }
    if meta.mode() & 0o077 != 0 {
        tracing::warn!(path = %root.display(), mode = format!("{:o}", meta.mode() & 0o777), "spool directory was readable by others; made private");
        fs::set_permissions(root, fs::Permissions::from_mode(0o700)).map_err(io_at(root))?;
    }
    Ok(())
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, SpoolError> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        paths.push(entry.map_err(io_at(dir))?.path());
    }
    paths.sort();
    Ok(paths)
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io { path: path.to_path_buf(), source }
}
