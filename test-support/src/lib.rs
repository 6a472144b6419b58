//! What the failscope test suites and benchmarks share, so that no test tree keeps a copy of
//! its own: the test broker and topics ([`kafka`]), a broker a test can stop ([`tansu`]),
//! sample events ([`events`]), fixture lakes written like the ingest writes them
//! ([`fixtures`], [`generator`]), the ingest's `/metrics` and `/healthz` ([`http`]), a disk
//! that fills up ([`fs`]), an S3-compatible server on loopback ([`s3`]), waiting on a real
//! condition ([`wait`]), running one test in a process of its own ([`process`]), and sizes
//! from the environment and the benchmarks' median ([`mod@bench`]).
//!
//! A dev-dependency only: nothing in the product links it.

pub mod bench;
pub mod events;
pub mod fixtures;
pub mod fs;
pub mod generator;
pub mod http;
pub mod kafka;
pub mod process;
pub mod s3;
pub mod tansu;
pub mod wait;
