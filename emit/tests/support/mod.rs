//! Helpers for the emit crate's tests: a tansu broker of the test's own that can be stopped
//! and restarted, the shared test broker, and reading a topic back.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

/// A name no other test (or earlier run) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

/// The address of the shared test broker started by `scripts/test.sh`.
pub fn shared_brokers() -> String {
    std::env::var("FAILSCOPE_TEST_BROKERS").expect("FAILSCOPE_TEST_BROKERS is set: run the tests with scripts/test.sh")
}

/// A tansu broker owned by one test, storing into its own directory.
#[derive(Debug)]
pub struct OwnBroker {
    dir: PathBuf,
    port: u16,
    process: Option<Child>,
}

impl OwnBroker {
    /// Starts a broker on a free loopback port and waits until it listens.
    pub fn start(dir: &Path) -> OwnBroker {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut broker = OwnBroker { dir: dir.to_path_buf(), port, process: None };
        broker.restart();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "broker already running");
        let tansu =
            std::env::var("FAILSCOPE_TANSU").expect("FAILSCOPE_TANSU is set: run the tests with scripts/test.sh");
        let url = format!("tcp://{}", self.address());
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("broker.log")).expect("log");
        let child = Command::new(tansu)
            .current_dir(&self.dir)
            .args(["broker", "--storage-engine", "sqlite://tansu.db", "--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.process = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.address()).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {} within 30 s", self.address());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the broker and waits until it exited.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits"));
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().expect("wait").is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads `topic` from the beginning until `n_expected` payloads arrived, then `settle` more
/// for extras. Panics at `deadline`.
pub fn consume_payloads(brokers: &str, topic: &str, n_expected: usize, deadline: Duration) -> Vec<Vec<u8>> {
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
    let settle = Duration::from_secs(2);
    let mut settle_until: Option<Instant> = None;
    let mut out = Vec::new();
    loop {
        match settle_until {
            Some(until) if Instant::now() >= until => break,
            None if out.len() >= n_expected => settle_until = Some(Instant::now() + settle),
            _ => {}
        }
        assert!(started.elapsed() < deadline, "read only {} of {n_expected} messages from {topic}", out.len());
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push(m.payload().unwrap_or_default().to_vec()),
            Some(Err(e)) => panic!("consuming {topic}: {e}"),
            None => {}
        }
    }
    out
}
