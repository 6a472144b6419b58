//! The Kafka side of a test: the shared test broker, names no other test uses, topics,
//! producing test data and reading a topic back.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

/// The address of the test broker. `scripts/test.sh` starts it once per run and passes it in
/// `FAILSCOPE_TEST_BROKERS`; every test uses topics of its own, so tests share it in parallel.
pub fn brokers() -> String {
    std::env::var("FAILSCOPE_TEST_BROKERS").unwrap_or_else(|_| {
        panic!("FAILSCOPE_TEST_BROKERS is not set: run the tests with scripts/test.sh, which starts the test broker")
    })
}

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// Creates topics on `brokers`, from a test that is not async.
pub fn create_topics(brokers: &str, names: &[&str], n_partitions: i32) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(failscope_kafka::create_topics(brokers, names, n_partitions)).expect("create topics");
}

/// An idempotent producer for test data.
pub fn producer(brokers: &str) -> ThreadedProducer<DefaultProducerContext> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        .set("linger.ms", "20")
        .set("log_level", "3")
        .create()
        .expect("producer config is valid")
}

/// Sends one message, waiting while the local queue is full.
pub fn send(producer: &ThreadedProducer<DefaultProducerContext>, topic: &str, key: &str, payload: &[u8]) {
    let mut record = BaseRecord::to(topic).key(key).payload(payload);
    loop {
        match producer.send(record) {
            Ok(()) => return,
            Err((_, back)) => {
                record = back;
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

/// Waits until the broker acknowledged every message sent so far.
pub fn flush(producer: &ThreadedProducer<DefaultProducerContext>) {
    producer.flush(Duration::from_secs(60)).expect("every test message acknowledged");
}

/// A message read back from a topic.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// Reads `topic` from the beginning until `n_expected` messages arrived, then keeps reading
/// for `settle` to catch any extra. Panics at `deadline`.
pub fn consume_all(
    brokers: &str,
    topic: &str,
    n_expected: usize,
    deadline: Duration,
    settle: Duration,
) -> Vec<Consumed> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
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
        match settle_until {
            Some(until) if Instant::now() >= until => break,
            None if out.len() >= n_expected => settle_until = Some(Instant::now() + settle),
            _ => {}
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

/// The payloads of [`consume_all`], reading on for two seconds after the last expected one.
pub fn consume_payloads(brokers: &str, topic: &str, n_expected: usize, deadline: Duration) -> Vec<Vec<u8>> {
    let messages = consume_all(brokers, topic, n_expected, deadline, Duration::from_secs(2));
    messages.into_iter().map(|m| m.payload).collect()
}
