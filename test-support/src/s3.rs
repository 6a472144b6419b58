//! An S3-compatible server on loopback for the tests of object-store lakes: moto's server
//! (`python -m moto.server`, installed in the test venv by `scripts/duckdb-venv.sh`, whose
//! interpreter `scripts/test.sh` exports as `FAILSCOPE_TEST_PYTHON`), one per test on a free
//! port, killed when dropped. Nothing here reaches beyond 127.0.0.1: the credentials are
//! given, so no client looks for an instance-metadata service.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;

use crate::http::{free_port, get, request};
use crate::wait::tail;

const ACCESS_KEY: &str = "failscope-test";
const SECRET_KEY: &str = "failscope-test-secret";
const REGION: &str = "us-east-1";

/// A running moto server.
#[derive(Debug)]
pub struct S3Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl S3Server {
    /// Starts moto on a free loopback port, its output in `log`, and waits (30 s at most) until
    /// it answers.
    pub fn start(log: &Path) -> S3Server {
        let python = std::env::var("FAILSCOPE_TEST_PYTHON").unwrap_or_else(|_| {
            panic!("FAILSCOPE_TEST_PYTHON is not set: run the tests with scripts/test.sh, which installs moto")
        });
        let port = free_port();
        let output = std::fs::File::create(log).expect("moto log file");
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("moto log file"))
            .stderr(output)
            .spawn()
            .expect("start moto's server");
        let mut server = S3Server { child, port, log: log.to_path_buf() };
        let started = Instant::now();
        while get(port, "/").is_none_or(|(status, _)| status != 200) {
            if let Some(status) = server.child.try_wait().expect("try_wait") {
                panic!("moto's server exited ({status}):\n{}", tail(&server.log, 30));
            }
            assert!(started.elapsed() < Duration::from_secs(30), "moto's server did not answer:\n{}", tail(log, 30));
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The server's loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates a bucket (a name of 3 to 63 lowercase letters, digits and hyphens).
    pub fn create_bucket(&self, bucket: &str) {
        let answer = request(self.port, "PUT", &format!("/{bucket}"));
        assert!(matches!(answer, Some((200, _))), "create bucket {bucket}: {answer:?}");
    }

    /// The environment that points `failscope` at this server: credentials, region, the
    /// endpoint (`endpoint` overrides it, for a proxy in front), plain HTTP allowed.
    pub fn env(&self, endpoint: Option<&str>) -> Vec<(&'static str, String)> {
        let endpoint = endpoint.map_or_else(|| format!("http://127.0.0.1:{}", self.port), str::to_string);
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
    }

    /// A client of `bucket` on this server, configured explicitly (not from the environment,
    /// which tests in threads of one process must not change).
    pub fn store(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        let store = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(REGION)
            .with_endpoint(format!("http://127.0.0.1:{}", self.port))
            .with_allow_http(true)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .build()
            .expect("S3 client of the test server");
        Arc::new(store)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
