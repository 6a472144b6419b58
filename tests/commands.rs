//! The real `failscope` binary as a user runs it, without a broker: from any directory, with
//! the built-in statements or a directory overriding them.

mod support;

use support::failscope;

/// `failscope sql` from a directory that holds no `queries/`: the statements are built in.
#[test]
fn sql_works_from_any_directory() {
    let (lake, cwd) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let out = failscope()
        .current_dir(cwd.path())
        .env_remove("FAILSCOPE_QUERIES")
        .args(["sql", "--format", "csv", "--lake"])
        .arg(lake.path())
        .args(["-c", "SELECT count(*) AS n FROM job_classifications"])
        .output()
        .expect("failscope runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n0\n");
    assert!(stderr.contains("built-in ("), "the log names the query set: {stderr}");
}

/// `--queries DIR` adds a named query to the built-in ones, and `--version` names the set.
#[test]
fn a_queries_directory_extends_the_built_in_set() {
    let (lake, queries) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));
    let mine = "-- name: mine\n-- description: one row\n-- params:\nSELECT 1 AS one\n";
    std::fs::write(queries.path().join("mine.sql"), mine).expect("write query");
    let out = failscope()
        .current_dir(queries.path())
        .args(["query", "--list", "--lake"])
        .arg(lake.path())
        .arg("--queries")
        .arg(queries.path())
        .output()
        .expect("failscope runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("mine ") && stdout.contains("top-causes "), "{stdout}");

    let version = failscope().arg("--version").output().expect("failscope runs");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(version.contains("queries: built-in (") && version.contains("fingerprint"), "{version}");
}
