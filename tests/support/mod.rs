//! Shared helpers for the end-to-end tests: the test broker's address, unique names, the
//! real `failscope` binary, and reading topics back.
//!
//! The broker is started once per test run by `scripts/test.sh` and its address passed in
//! `FAILSCOPE_TEST_BROKERS`; every test uses its own topics, so tests run in parallel.

#![allow(dead_code)]

pub mod endpoints;
pub mod lake;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};

/// The address of the shared test broker.
pub fn brokers() -> String {
    std::env::var("FAILSCOPE_TEST_BROKERS").unwrap_or_else(|_| {
        panic!("FAILSCOPE_TEST_BROKERS is not set: run the tests with scripts/test.sh, which starts the test broker")
    })
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// The real binary under test.
pub fn failscope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_failscope"))
}

/// A message read back from a topic.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// Reads `topic` from the beginning until `n_expected` messages arrived, then keeps reading
/// for `settle` to catch any extra. Panics at `deadline`.
pub fn consume_all(topic: &str, n_expected: usize, deadline: Duration, settle: Duration) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("test-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("log_level", "3")
        .create()
        .expect("consumer config is valid");
    consumer.subscribe(&[topic]).expect("subscribe");
    let started = Instant::now();
    let mut out = Vec::with_capacity(n_expected);
    let mut settle_until: Option<Instant> = None;
    loop {
        if let Some(until) = settle_until {
            if Instant::now() >= until {
                break;
            }
        } else if out.len() >= n_expected {
            settle_until = Some(Instant::now() + settle);
        }
        assert!(started.elapsed() < deadline, "read only {} of {n_expected} messages from {topic}", out.len());
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let headers = m
                    .headers()
                    .map(|hs| {
                        hs.iter()
                            .map(|h| {
                                (h.key.to_string(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Consumed {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    headers,
                });
            }
            Some(Err(e)) => panic!("consuming {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// Creates topics on the test broker.
pub fn create_topics(names: &[&str], n_partitions: i32) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(failscope_emit::create_topics(&brokers(), names, n_partitions)).expect("create topics");
}
