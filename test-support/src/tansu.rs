//! A tansu broker owned by one test, which it can stop and restart (the shared test broker
//! must stay up for the others). `scripts/test.sh` passes the binary in `FAILSCOPE_TANSU`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::free_port;

/// A tansu broker owned by one test, storing into its own directory; stopped when dropped.
#[derive(Debug)]
pub struct OwnBroker {
    dir: PathBuf,
    port: u16,
    process: Option<Child>,
}

impl OwnBroker {
    /// Starts a broker storing into `dir` (created if need be) on a free loopback port, and
    /// waits until it listens.
    pub fn start(dir: &Path) -> OwnBroker {
        std::fs::create_dir_all(dir).expect("broker directory");
        let mut broker = OwnBroker { dir: dir.to_path_buf(), port: free_port(), process: None };
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
