//! Owner generations: which member may publish a partition's files. A member evicted from
//! the group while it was publishing (paused past its session, a slow disk or store) does not
//! know it lost the partition until it polls again, and a flush does not poll: without a
//! fence it would go on publishing files of offsets that the partition's new owner has
//! recovered and consumed again.
//!
//! Every assignment of a partition claims the next generation in the lake, before the
//! partition is recovered: a marker object `_owners/<table>/<topic>+<partition>/<generation>`
//! written create-only, so two claimants of one generation cannot both succeed, on a local
//! disk (a link that never replaces) as on an object store (a put with `PutMode::Create`).
//! Generations are dense: a claim takes the highest marker plus one. Before each file it
//! publishes, a writer looks for the marker of the generation after its own; once it exists,
//! a newer owner has recovered (or is recovering) the partition, and the writer abandons the
//! flush instead of publishing. Each file's footer names its writer's generation, so that
//! recovery prefers the newer owner's flush when two writers completed one from the same
//! offset.
//!
//! What is left: a writer paused between its check and its publish (one file's write)
//! publishes that file after the takeover. The file bears its own name; if the new owner has
//! already published one of that name, the create-only publish refuses it, and otherwise the
//! next recovery removes it as part of an incomplete or superseded flush.

use crate::IngestError;
use crate::lake::Lake;

/// Outside every table, beside `_staging/`: the analysis never lists it.
const OWNERS_DIR: &str = "_owners";

/// Claims the next owner generation of `topic`/`partition` in `table`. Fails (the recovery
/// is retried) if another member claimed the same generation at the same time.
pub(crate) fn claim(lake: &Lake, table: &str, topic: &str, partition: i32) -> Result<u64, IngestError> {
    let dir = owners_dir(table, topic, partition);
    let newest = lake.list_names(&dir)?.iter().filter_map(|name| name.parse::<u64>().ok()).max().unwrap_or(0);
    let generation = newest + 1;
    // A content of our own: a claim that finds another's marker there is a conflict, not
    // the retry of our own claim.
    let claimant = uuid::Uuid::now_v7().simple().to_string();
    lake.publish(&marker_path(&dir, generation), claimant.into_bytes().into())?;
    Ok(generation)
}

/// True once a newer owner than `generation` has claimed `topic`/`partition` in `table`.
pub(crate) fn is_superseded(
    lake: &Lake,
    table: &str,
    topic: &str,
    partition: i32,
    generation: u64,
) -> Result<bool, IngestError> {
    lake.exists(&marker_path(&owners_dir(table, topic, partition), generation + 1))
}

fn owners_dir(table: &str, topic: &str, partition: i32) -> String {
    format!("{OWNERS_DIR}/{table}/{topic}+{partition}")
}

/// Zero-padded so that markers list in generation order.
fn marker_path(dir: &str, generation: u64) -> String {
    format!("{dir}/{generation:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lake() -> (tempfile::TempDir, tokio::runtime::Runtime, Lake) {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let lake = Lake::open(dir.path().to_str().expect("utf-8"), runtime.handle().clone()).expect("open");
        (dir, runtime, lake)
    }

    #[test]
    fn each_claim_takes_the_next_generation_and_fences_the_one_before() {
        let (_dir, _runtime, lake) = lake();
        let first = claim(&lake, "tbl", "t", 0).expect("claim");
        assert_eq!(first, 1);
        assert!(!is_superseded(&lake, "tbl", "t", 0, first).expect("check"));
        let second = claim(&lake, "tbl", "t", 0).expect("claim");
        assert_eq!(second, 2);
        assert!(is_superseded(&lake, "tbl", "t", 0, first).expect("check"), "the first owner is fenced");
        assert!(!is_superseded(&lake, "tbl", "t", 0, second).expect("check"));
        assert_eq!(claim(&lake, "tbl", "t", 1).expect("claim"), 1, "partitions have their own generations");
        assert_eq!(claim(&lake, "other", "t", 0).expect("claim"), 1, "and so do tables");
    }

    #[test]
    fn another_claimants_marker_is_never_taken_for_ours() {
        let (_dir, _runtime, lake) = lake();
        // Two members that listed the same markers try the same generation: the second put
        // finds other content there and fails, so its recovery is retried and claims the next.
        let path = marker_path(&owners_dir("tbl", "t", 0), 1);
        lake.publish(&path, b"member a".to_vec().into()).expect("first claim");
        let second = lake.publish(&path, b"member b".to_vec().into());
        assert!(matches!(second, Err(IngestError::Conflict { .. })), "{second:?}");
        assert_eq!(claim(&lake, "tbl", "t", 0).expect("the retried claim"), 2);
    }
}
