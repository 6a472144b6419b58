//! The `run_*` entry points the `failscope` binary calls, over a fixture lake.

use std::process::ExitCode;

use clap::Parser;
use failscope_analyze::cli::{QueryArgs, SqlArgs, run_query, run_sql};
use tokio_util::sync::CancellationToken;

use crate::support;

#[derive(Debug, Parser)]
struct Sql {
    #[command(flatten)]
    args: SqlArgs,
}

#[derive(Debug, Parser)]
struct Query {
    #[command(flatten)]
    args: QueryArgs,
}

fn common(lake: &tempfile::TempDir) -> Vec<String> {
    let queries = support::queries_dir();
    vec![
        "failscope".into(),
        "--lake".into(),
        lake.path().display().to_string(),
        "--queries".into(),
        queries.display().to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_command_runs_and_refuses_writes() {
    let lake = support::one_job_lake();
    let run = |extra: &[&str]| {
        let mut argv = common(&lake);
        argv.extend(extra.iter().map(|s| s.to_string()));
        Sql::try_parse_from(argv).expect("valid flags").args
    };
    let ok = run_sql(
        run(&["-c", "SELECT job_id, cause FROM job_classifications", "--format", "csv"]),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(ok.expect("runs"), ExitCode::SUCCESS);
    let refused = run_sql(run(&["-c", "DROP VIEW job_classifications"]), CancellationToken::new()).await;
    assert_eq!(refused.expect("runs"), ExitCode::FAILURE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_lists_and_runs_named_queries() {
    let lake = support::one_job_lake();
    let run = |extra: &[&str]| {
        let mut argv = common(&lake);
        argv.extend(extra.iter().map(|s| s.to_string()));
        Query::try_parse_from(argv).expect("valid flags").args
    };
    assert_eq!(run_query(run(&["--list"]), CancellationToken::new()).await.expect("lists"), ExitCode::SUCCESS);
    let window = ["--since", "2022-04-05T00:00:00Z", "--until", "2022-04-07T00:00:00Z", "--region", "us-east-2"];
    let mut argv = vec!["classifications"];
    argv.extend(window);
    assert_eq!(run_query(run(&argv), CancellationToken::new()).await.expect("runs"), ExitCode::SUCCESS);
    assert!(run_query(run(&["no-such-query"]), CancellationToken::new()).await.is_err());
    assert!(run_query(run(&["top-causes", "--since", "yesterday"]), CancellationToken::new()).await.is_err());
}
