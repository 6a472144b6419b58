//! The analysis crate's integration tests: one test binary, `cargo test -p failscope-analyze
//! --test it`, whose tests run in parallel threads. Each former test file is a module here; a
//! test's name starts with its module (`cargo test -p failscope-analyze --test it -- views::`).
//! Fixture lakes come from `failscope_test_support`; [`support`] opens them.

mod support;

mod classification;
mod cli;
mod console;
mod dedup;
mod http;
mod http_named;
mod pg;
mod report;
mod s3_lake;
mod schedule;
mod views;
