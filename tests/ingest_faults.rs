//! `failscope ingest` under injected faults, against the real test broker: a lake whose disk
//! fills up mid-run. Each test makes the fault really happen (a full tmpfs, not a mock) and
//! checks that nothing is lost or duplicated once it clears.

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::endpoints::{free_port, health, metric};
use support::lake::{
    IngestSetup, assert_clean_exit, assert_exactly_once, lake_rows, parquet_files, produce_range, signal,
    spawn_patient, wait_for_rows, wait_until,
};

/// A small tmpfs mounted for one test (the tests run as root), unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs to fill a disk for real and must run as root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the file system is full; panics unless the write failed with ENOSPC.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("create filler");
    let chunk = vec![0xa5_u8; 64 << 10];
    loop {
        if let Err(e) = file.write_all(&chunk).and_then(|()| file.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(nix::errno::Errno::ENOSPC as i32), "filling the disk: {e}");
            return;
        }
    }
}

fn rows_in(file: &Path) -> i64 {
    let reader = std::fs::File::open(file).expect("open parquet");
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader).expect("footer");
    builder.metadata().file_metadata().num_rows()
}

#[test]
fn a_full_disk_stalls_the_ingest_and_loses_nothing_once_freed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lake = dir.path().join("lake");
    let _disk = Tmpfs::mount(&lake, "16m");
    let setup = IngestSetup::new("enospc", &lake, 3);
    let log = dir.path().join("ingest.log");
    let port = free_port();
    let http = format!("127.0.0.1:{port}");
    let mut child = spawn_patient(&setup, &["--http-addr", &http, "--stall-timeout", "2s"], &log);
    let mut produced = HashMap::new();

    produce_range(&setup, 0..2_000, &mut produced);
    wait_for_rows(&lake, 2_000, Duration::from_secs(120), &[&log]);
    assert_eq!(health(port), Some(200), "healthy while flushes succeed");

    let filler = lake.join("filler");
    fill(&filler);
    produce_range(&setup, 2_000..5_000, &mut produced);
    wait_until("a failed flush is counted", Duration::from_secs(60), &log, || {
        metric(port, "failscope_ingest_flush_errors_total").is_some_and(|n| n >= 1.0)
    });
    wait_until("/healthz reports the stalled partitions", Duration::from_secs(30), &log, || health(port) == Some(503));
    assert!(lake_rows(&lake) < 5_000, "the disk was full, yet everything was published");

    std::fs::remove_file(&filler).expect("free the disk");
    wait_for_rows(&lake, 5_000, Duration::from_secs(120), &[&log]);
    wait_until("/healthz healthy again", Duration::from_secs(30), &log, || health(port) == Some(200));
    signal(&child, "TERM");
    assert_clean_exit(&mut child, Duration::from_secs(40), &log);

    assert_exactly_once(&lake, &produced);
    let empty: Vec<_> = parquet_files(&lake).into_iter().filter(|f| rows_in(f) == 0).collect();
    assert!(empty.is_empty(), "empty files published: {empty:?}");
}
