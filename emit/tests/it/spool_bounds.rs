//! The spool without a broker: bounded size with oldest-first drops counted, entries kept
//! across a process's end and adopted by the next one, never by a live one.

use failscope_emit::spool::Spool;
use failscope_emit::{LOSS_JOB_KIND, WorkerIdentity, loss_marker};
use failscope_schemas::{Event, decode};

fn payload(i: usize) -> Vec<u8> {
    format!("{{\"n\":{i:04}}}").into_bytes()
}

#[test]
fn a_full_spool_drops_oldest_first_and_counts_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let entry_bytes = payload(0).len() as u64;
    let mut spool = Spool::open(dir.path(), entry_bytes * 4).expect("open");
    for i in 0..10 {
        let key = spool.append(&payload(i)).expect("append");
        spool.release(&key);
    }
    assert_eq!(spool.len(), 4);
    assert_eq!(spool.n_unreported_drops(), 6);
    let kept: Vec<Vec<u8>> = spool.claim_pending(100).expect("claim").into_iter().map(|e| e.payload).collect();
    assert_eq!(kept, (6..10).map(payload).collect::<Vec<_>>());

    let identity = WorkerIdentity { worker_id: "w".into(), region: "r".into(), provider: "p".into(), zone: None };
    let marker = serde_json::to_vec(&loss_marker(&identity, 6)).expect("serialize");
    let Event::JobOutcome(decoded) = decode(&marker).expect("the marker is a contract event") else {
        panic!("a loss marker is a job outcome")
    };
    assert_eq!(decoded.job_kind, LOSS_JOB_KIND);
    assert_eq!(decoded.labels.expect("labels")["n_dropped"], "6");
}

#[test]
fn evicting_a_loss_marker_keeps_its_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut spool = Spool::open(dir.path(), 12).expect("open");
    let key = spool.append_loss_marker(b"marker:0005", 5).expect("marker");
    spool.release(&key);
    let key = spool.append(b"event:00001").expect("append");
    spool.release(&key);
    assert_eq!(spool.len(), 1);
    assert_eq!(spool.n_unreported_drops(), 5, "dropping a marker re-counts the events it stood for");
}

#[test]
fn entries_outlive_their_process_and_are_adopted_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = Spool::open(dir.path(), 1 << 20).expect("open");
    for i in 0..3 {
        first.append(&payload(i)).expect("append");
    }
    let live_neighbour = Spool::open(dir.path(), 1 << 20).expect("open beside a live spool");
    assert!(live_neighbour.is_empty(), "a live process's entries are not adopted");
    drop(live_neighbour);
    drop(first);
    let mut second = Spool::open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(second.len(), 3);
    let adopted: Vec<Vec<u8>> = second.claim_pending(100).expect("claim").into_iter().map(|e| e.payload).collect();
    assert_eq!(adopted, (0..3).map(payload).collect::<Vec<_>>());
    let third = Spool::open(dir.path(), 1 << 20).expect("open beside the adopter");
    assert!(third.is_empty(), "entries are adopted by one process only");
}
