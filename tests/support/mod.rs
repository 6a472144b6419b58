//! What the end-to-end tests share beyond `failscope_test_support`: the real `failscope`
//! binary, `failscope sql` over a lake, running `failscope ingest` and reading its lake back
//! ([`lake`]), a proxy that makes an object store flaky ([`flaky_proxy`]), the April 2022
//! scenario's lake ([`scenario`]), and headless Chromium ([`browser`], driven over the
//! DevTools protocol by [`devtools`]).

pub(crate) mod browser;
pub(crate) mod devtools;
pub(crate) mod flaky_proxy;
pub(crate) mod lake;
pub(crate) mod scenario;

use std::path::Path;
use std::process::Command;

/// The real binary under test.
pub(crate) fn failscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_failscope"))
}

/// Runs `failscope sql -c` over `lake` with the repository's queries and returns the CSV rows
/// after the header.
pub(crate) fn sql(lake: &Path, query: &str) -> Vec<Vec<String>> {
    let queries = concat!(env!("CARGO_MANIFEST_DIR"), "/../queries");
    let out = failscope()
        .args(["sql", "--format", "csv", "--queries", queries, "--lake"])
        .arg(lake)
        .args(["-c", query])
        .output()
        .expect("run failscope sql");
    assert!(out.status.success(), "failscope sql: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect()
}
