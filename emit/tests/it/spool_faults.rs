//! The worker side under faults: a spool that cannot be written (a full tmpfs, for real) falls
//! back to producing directly and counts what it loses; the spool is private to its user; a
//! spooled entry that no longer decodes is counted as lost, not deleted silently.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use failscope_emit::spool::{Spool, SpoolError};
use failscope_emit::{Delivery, Emitter, EmitterConfig, create_topics};
use failscope_schemas::Event;
use failscope_test_support::fs::{Tmpfs, fill};
use failscope_test_support::kafka::{brokers, consume_payloads, unique};

use crate::support::{connect_attempt, emitter_config};

fn config(brokers: String, topic: &str, spool_dir: &Path) -> EmitterConfig {
    emitter_config(brokers, topic, spool_dir, "w", Duration::from_secs(5))
}

fn attempt(id: &str) -> Event<'static> {
    Event::ConnectAttempt(connect_attempt(id, "w"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test]
async fn a_spool_that_cannot_be_written_falls_back_to_producing_directly_and_counts_losses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spool_dir = dir.path().join("spool");
    // Opening needs a little room (its own directory); the disk fills up afterwards.
    let _disk = Tmpfs::mount(&spool_dir, "256k");
    fill(&spool_dir.join("filler"));
    let topic = unique("spool-full");
    create_topics(&brokers(), &[&topic], 1).await.expect("create topic");

    let emitter = Emitter::open(config(brokers(), &topic, &spool_dir)).expect("open emitter");
    assert_eq!(emitter.emit(&attempt("direct-1")).await.expect("emit"), Delivery::Delivered);
    assert_eq!(emitter.stats().n_unspooled, 1);
    assert_eq!(emitter.stats().n_dropped, 0);
    let payloads = consume_payloads(&brokers(), &topic, 1, Duration::from_secs(60));
    assert!(String::from_utf8_lossy(&payloads[0]).contains("direct-1"));

    // Neither the spool nor the broker (nothing listens on port 1): the event is lost, counted.
    let mut unreachable = config("127.0.0.1:1".to_string(), &topic, &dir.path().join("spool"));
    unreachable.delivery_timeout = Duration::from_millis(500);
    let lonely = Emitter::open(unreachable).expect("open emitter");
    assert_eq!(lonely.emit(&attempt("lost-1")).await.expect("emit"), Delivery::Lost);
    let stats = lonely.stats();
    assert_eq!((stats.n_unspooled, stats.n_dropped), (1, 1), "{stats:?}");
}

#[test]
fn the_spool_is_private_to_its_user() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("spool");
    let mut spool = Spool::open(&root, 1 << 20).expect("open");
    spool.append(b"{}").expect("append");
    assert_eq!(mode(&root), 0o700);
    let own = std::fs::read_dir(&root).expect("list").next().expect("our directory").expect("entry").path();
    assert_eq!(mode(&own), 0o700);
    for file in std::fs::read_dir(&own).expect("list") {
        let file = file.expect("entry").path();
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(spool);

    // A root others can read is made private again.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    drop(Spool::open(&root, 1 << 20).expect("reopen"));
    assert_eq!(mode(&root), 0o700);

    // A root owned by another user is refused (the tests run as root, so chown works).
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).expect("mkdir");
    std::os::unix::fs::chown(&foreign, Some(65_534), Some(65_534)).expect("chown to nobody");
    match Spool::open(&foreign, 1 << 20) {
        Err(SpoolError::NotOurs { owner, .. }) => assert_eq!(owner, 65_534),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(std::fs::metadata(&foreign).expect("metadata").uid(), 65_534);
}

#[tokio::test]
async fn a_spooled_entry_that_does_not_decode_is_counted_as_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("spool");
    // The directory of a process that died with a corrupt entry in its spool.
    let orphan = root.join("0190aaaabbbbccccddddeeeeffff0000");
    std::fs::create_dir_all(&orphan).expect("orphan dir");
    std::fs::write(orphan.join("0190aaaabbbbccccddddeeeeffff0001.event"), b"\x00 not an event").expect("write");
    let emitter = Emitter::open(config("127.0.0.1:1".to_string(), "t", &root)).expect("open emitter");
    assert_eq!(emitter.stats().n_spooled, 1, "the orphan's entry is adopted");
    assert_eq!(emitter.redeliver().await.expect("redeliver"), 0);
    let stats = emitter.stats();
    assert_eq!((stats.n_undecodable, stats.n_dropped, stats.n_spooled), (1, 1, 0), "{stats:?}");
}
