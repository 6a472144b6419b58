//! Tables in which every event counts once, however often a worker's spool delivered it.
//!
//! A re-delivered event is a byte-for-byte copy of the first delivery, so it has the same event
//! time and lands in the same `date=…/hour=…` directory of the lake. [`UniqueEvents`] wraps a
//! lake table and lets through the first copy of each `event_id` it meets while scanning, and
//! drops the others, with one hash set of ids per partition directory, shared by every
//! partition of one scan. Sets per directory stay small enough to be cache-friendly; one set
//! for a whole lake of 10 M attempts cost about 430 ns per row in cache misses.
//!
//! Because copies are identical, a filter keeps either all of them or none, so filters still
//! reach the Parquet scan below the deduplication (partition, row-group and row pruning), and a
//! hash join's dynamic filter too.
//!
//! Event ids in the canonical text form of a UUID (lowercase, hyphenated: what the workers
//! emit) are kept as 128-bit integers; any other id is kept as text. Both are exact.
//!
//! The set's memory is reserved from the session's memory pool; a scan whose ids do not fit
//! the session's memory limit fails with a "resources exhausted" error instead of taking the
//! process down.
//!
//! A directory's set is emptied and reused for a later directory once every partition of the
//! scan has moved past it, so a scan holds the sets of the few directories being read rather
//! than one per directory of the lake (`retirement.rs`). The sets of canonical UUIDs are in
//! `uuids.rs`.
//!
//! The parts, in the order a row meets them: the table (`table.rs`) plans a scan with the
//! columns deduplication needs, the plan node (`exec.rs`) runs one filter per partition
//! (`filter.rs`), which marks each row's id in the scan's sets of seen ids (`seen.rs`).

mod exec;
mod filter;
mod retirement;
mod seen;
mod table;
mod uuids;

pub(crate) use exec::DedupExec;
pub(crate) use table::{RepeatsHarmless, UniqueEvents};

/// The column that identifies an event.
pub(crate) const EVENT_ID: &str = "event_id";
