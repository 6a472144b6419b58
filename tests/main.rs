//! The end-to-end tests of the real `failscope` binary against the real test broker: one test
//! binary, `cargo test -p failscope --test e2e`, whose tests run in parallel threads. Each
//! former test file is a module here; a test's name starts with its module
//! (`cargo test -p failscope --test e2e -- ingest_e2e::`). Helpers shared with the other
//! crates' tests are in `failscope_test_support`; those only these tests use, in [`support`].

mod support;

mod capture_e2e;
mod commands;
mod compose;
mod console_browser;
mod emit_e2e;
mod health_e2e;
mod ingest_e2e;
mod ingest_faults;
mod ingest_timestamps;
mod object_store_e2e;
mod report_browser;
