//! The worker side's integration tests: one test binary, `cargo test -p failscope-emit --test
//! it`, whose tests run in parallel threads. Each former test file is a module here; a test's
//! name starts with its module (`cargo test -p failscope-emit --test it -- spool_e2e::`). The
//! test broker, a broker a test can stop and a disk that fills up come from
//! `failscope_test_support`; [`support`] holds the emitter these tests configure.

mod support;

mod probe_loopback;
mod run_wrapper;
mod simulate_scenarios;
mod spool_bounds;
mod spool_e2e;
mod spool_faults;
