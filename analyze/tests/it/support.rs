//! What the analysis tests share: the fixture lakes of `failscope_test_support::fixtures`
//! (re-exported, so a test names them `support::job`, `support::write_lake`), and opening a
//! lake with the catalog.

use std::path::Path;

use failscope_analyze::{Analyzer, CatalogConfig};
use failscope_schemas::JobStatus;
pub(crate) use failscope_test_support::fixtures::{MINUTE, T0, connect, job, probe, queries_dir, write_lake};

pub(crate) async fn open(lake: &Path) -> Analyzer {
    let config =
        CatalogConfig { lake: lake.into(), queries_dir: None, memory_limit_bytes: None, target_partitions: Some(2) };
    Analyzer::open(&config).await.expect("fixture lake opens")
}

/// A lake holding one failed job, in us-east-2 at [`T0`].
pub(crate) fn one_job_lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().expect("temp dir");
    write_lake(lake.path(), &[job("a", "us-east-2", T0, JobStatus::Failed)], &[], 0);
    lake
}
