//! What the analysis tests share: the fixture lakes of `failscope_test_support::fixtures`
//! (re-exported, so a test names them `support::job`, `support::write_lake`), and opening a
//! lake with the catalog.

use std::path::Path;

use failscope_analyze::{Analyzer, CatalogConfig};
use failscope_schemas::{ConnectOutcome, JobStatus};
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

/// Two regions over two hours, four jobs each hour from [`T0`], each job connecting once to
/// each of `targets` (attempt number, service, whether it times out when sick); in the second
/// hour us-east-2 is sick: three of its four jobs fail, and all but its first job's connects
/// to the failing targets time out. The first job of every region and hour fails.
pub(crate) fn two_region_lake(targets: &[(u32, &str, bool)]) -> tempfile::TempDir {
    const HOUR: i64 = 60 * MINUTE;
    let lake = tempfile::tempdir().expect("temp dir");
    let (mut jobs, mut connects) = (Vec::new(), Vec::new());
    for (region, hour) in [("us-east-2", 0), ("us-east-2", 1), ("us-west-1", 0), ("us-west-1", 1)] {
        let sick = region == "us-east-2" && hour == 1;
        for i in 0..4i64 {
            let status = if i == 0 || (sick && i < 3) { JobStatus::Failed } else { JobStatus::Passed };
            let j = job(&format!("{region}-{hour}-{i}"), region, T0 + hour * HOUR + i * 5 * MINUTE, status);
            for &(n, target, fails) in targets {
                let outcome = if sick && i > 0 && fails { ConnectOutcome::Timeout } else { ConnectOutcome::Ok };
                connects.push(connect(&j, n, target, "checkin", outcome, i64::from(n) * MINUTE));
            }
            jobs.push(j);
        }
    }
    write_lake(lake.path(), &jobs, &connects, 0);
    lake
}
