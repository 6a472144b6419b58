//! A lake in an object store reads like the same lake on disk: a generated lake uploaded to an
//! S3-compatible server on loopback (moto), opened through the catalog as `s3://bucket/prefix`,
//! gives the same rows as the local copy for the classification summary and the deduplicated
//! tables; a query on one `date`/`hour` lists only that directory of the bucket; a wrong
//! bucket fails at open with the store's error.

use std::path::Path;
use std::sync::{Arc, Mutex};

use arrow::util::pretty::pretty_format_batches;
use async_trait::async_trait;
use failscope_analyze::{AnalyzeError, Analyzer, CatalogConfig};
use failscope_lake_store::{LakeLocation, StoreLake};
use failscope_test_support::generator::{LakeSize, generated};
use failscope_test_support::s3::S3Server;
use futures::stream::BoxStream;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

const BUCKET: &str = "failscope-it";
const SIZE: LakeSize = LakeSize { n_jobs: 3_000, connects_per_job: 3, hours: 4 };

/// Counts by region, hour and rule: no floating-point sums, so both lakes give the same text.
const CLASSIFICATION_SUMMARY: &str = "SELECT region, date, hour, attribution, rule_id, COUNT(*) AS jobs \
    FROM job_classifications GROUP BY region, date, hour, attribution, rule_id \
    ORDER BY region, date, hour, attribution, rule_id";
const UNIQUE_COUNTS: &str = "SELECT (SELECT COUNT(*) FROM connect_attempts_unique) AS attempts, \
    (SELECT COUNT(*) FROM connect_attempts_raw) AS attempts_raw, \
    (SELECT COUNT(*) FROM job_outcomes_unique) AS jobs, (SELECT COUNT(*) FROM job_outcomes_raw) AS jobs_raw";

async fn open(lake: LakeLocation) -> Result<Analyzer, AnalyzeError> {
    Analyzer::open(&CatalogConfig { lake, queries_dir: None, memory_limit_bytes: None, target_partitions: Some(2) })
        .await
}

async fn rows(analyzer: &Analyzer, sql: &str) -> String {
    let batches = analyzer.sql(sql).await.expect("plans").collect().await.expect("runs");
    pretty_format_batches(&batches).expect("formats").to_string()
}

/// Uploads every Parquet file of `lake` under `prefix/` in `store`.
async fn upload(lake: &Path, store: &dyn ObjectStore, prefix: &str) -> usize {
    let mut n_files = 0;
    let mut dirs = vec![lake.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read lake dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                let relative = path.strip_prefix(lake).expect("under the lake").to_str().expect("utf-8 path");
                let bytes = std::fs::read(&path).expect("read parquet file");
                store.put(&ObjectPath::from(format!("{prefix}/{relative}")), bytes.into()).await.expect("upload");
                n_files += 1;
            }
        }
    }
    n_files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lake_in_s3_gives_the_rows_of_the_same_lake_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local = generated(SIZE, Some(dir.path().join("lake")));
    let server = S3Server::start(&dir.path().join("moto.log"));
    server.create_bucket(BUCKET);
    let store = server.store(BUCKET);
    let n_files = upload(&local, store.as_ref(), "lakes/generated").await;
    assert_eq!(n_files, 2 * SIZE.hours as usize, "one file per table and hour");

    let url = format!("s3://{BUCKET}/lakes/generated");
    let in_s3 = open(LakeLocation::Store(StoreLake::new(&url, store).expect("store lake"))).await.expect("opens");
    let on_disk = open(LakeLocation::Local(local)).await.expect("opens");
    for sql in [CLASSIFICATION_SUMMARY, UNIQUE_COUNTS] {
        let (remote, local) = (rows(&in_s3, sql).await, rows(&on_disk, sql).await);
        assert!(remote.lines().count() > 4, "{sql}: too few rows to compare:\n{remote}");
        assert_eq!(remote, local, "{sql}");
    }
    let counts = rows(&in_s3, UNIQUE_COUNTS).await;
    let values: Vec<u64> =
        counts.lines().nth(3).expect("one row").split('|').filter_map(|v| v.trim().parse().ok()).collect();
    let [attempts, attempts_raw, jobs, jobs_raw] = values[..] else { panic!("four counts:\n{counts}") };
    // The generator re-delivers some connect attempts; each counts once.
    assert!(attempts < attempts_raw, "re-deliveries dropped:\n{counts}");
    assert_eq!(
        (attempts, jobs, jobs_raw),
        (SIZE.n_jobs * u64::from(SIZE.connects_per_job), SIZE.n_jobs, SIZE.n_jobs),
        "every event once:\n{counts}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_on_one_hour_lists_only_that_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local = generated(LakeSize { n_jobs: 200, connects_per_job: 2, hours: 3 }, Some(dir.path().join("lake")));
    let server = S3Server::start(&dir.path().join("moto.log"));
    server.create_bucket(BUCKET);
    let recorder = Arc::new(ListRecorder { inner: server.store(BUCKET), prefixes: Mutex::default() });
    upload(&local, recorder.as_ref(), "lake").await;
    let url = format!("s3://{BUCKET}/lake");
    let analyzer = open(LakeLocation::Store(StoreLake::new(&url, Arc::clone(&recorder) as _).expect("store lake")))
        .await
        .expect("opens");

    let hours = rows(&analyzer, "SELECT DISTINCT date, hour FROM connect_attempts_raw ORDER BY date, hour").await;
    let (date, hour) = hours
        .lines()
        .nth(4)
        .and_then(|line| {
            let mut cells = line.split('|').map(str::trim).filter(|c| !c.is_empty());
            Some((cells.next()?.to_string(), cells.next()?.to_string()))
        })
        .unwrap_or_else(|| panic!("a second hour in the lake:\n{hours}"));
    let on_disk = open(LakeLocation::Local(local)).await.expect("opens");

    // Equalities on both partition columns make one listing prefix; on `date` alone (the
    // views cast `hour`), the date's directory.
    let one_hour =
        format!("SELECT COUNT(*) FROM connect_attempts_unique WHERE date = DATE '{date}' AND hour = '{hour}'");
    let one_day = format!("SELECT COUNT(*) FROM connect_attempts WHERE date = DATE '{date}'");
    for (sql, wanted) in [
        (one_hour, format!("lake/connect_attempts/date={date}/hour={hour}")),
        (one_day, format!("lake/connect_attempts/date={date}/")),
    ] {
        recorder.prefixes.lock().expect("not poisoned").clear();
        let counted = rows(&analyzer, &sql).await;
        assert_eq!(counted, rows(&on_disk, &sql).await, "{sql}");
        assert!(!counted.contains("| 0 "), "{sql}: no rows\n{counted}");
        let listed = recorder.prefixes.lock().expect("not poisoned").clone();
        assert!(!listed.is_empty(), "{sql}: listed nothing");
        assert!(
            listed.iter().all(|p| p.starts_with(wanted.trim_end_matches('/'))),
            "{sql}: listed beyond {wanted}: {listed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_fails_at_open_with_the_stores_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(&dir.path().join("moto.log"));
    let lake = StoreLake::new("s3://no-such-bucket/lake", server.store("no-such-bucket")).expect("store lake");
    let error = open(LakeLocation::Store(lake)).await.expect_err("a missing bucket is an error");
    let chain = format!("{:#}", anyhow::Error::new(error));
    assert!(chain.contains("cannot read the lake at s3://no-such-bucket/lake"), "{chain}");
    assert!(chain.contains("NoSuchBucket"), "{chain}");
}

/// A store that records the prefix of every listing before passing it on.
#[derive(Debug)]
struct ListRecorder {
    inner: Arc<dyn ObjectStore>,
    prefixes: Mutex<Vec<String>>,
}

impl ListRecorder {
    fn record(&self, prefix: Option<&ObjectPath>) {
        let prefix = prefix.map_or_else(String::new, ToString::to_string);
        self.prefixes.lock().expect("not poisoned").push(prefix);
    }
}

impl std::fmt::Display for ListRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ListRecorder({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for ListRecorder {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &ObjectPath, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&ObjectPath>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.record(prefix);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> object_store::Result<ListResult> {
        self.record(prefix);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &ObjectPath, to: &ObjectPath, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
