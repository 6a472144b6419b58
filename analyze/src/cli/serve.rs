//! `failscope serve`: the HTTP API, and the Postgres protocol when asked for, until shutdown.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::ServeArgs;
use crate::Analyzer;
use crate::health::{DetectorConfig, HealthTopic, spawn_live};
use crate::http::{ApiConfig, ApiState, router};
use crate::pg::{PgConfig, PgEndpoint};
use crate::report::schedule::{self, Clock, RetryPolicy, spawn_schedules};

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
pub async fn run_serve(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let token = args.token.clone().filter(|t| !t.is_empty());
    check_exposure(args.listen, token.as_deref(), args.allow_placeholder_token)?;
    if let Some(pg_listen) = args.pg_listen {
        check_exposure(pg_listen, token.as_deref(), args.allow_placeholder_token)?;
    }
    let analyzer = Arc::new(Analyzer::open(&args.lake.catalog_config()?).await.context("cannot open the lake")?);
    anyhow::ensure!(args.max_concurrent_statements > 0, "--max-concurrent-statements must be at least 1");
    let schedules = match &args.report_schedules {
        Some(path) => schedule::load(path).with_context(|| format!("--report-schedules {}", path.display()))?,
        None => Vec::new(),
    };
    let topic = match (&args.health_brokers, args.health_interval.is_zero()) {
        (Some(brokers), false) => Some(
            HealthTopic::open(brokers, &args.health_topic)
                .await
                .with_context(|| format!("cannot set up the region-health topic on {brokers}"))?,
        ),
        _ => None,
    };
    let config = ApiConfig {
        token,
        statement_timeout: args.statement_timeout,
        row_cap: args.row_cap,
        max_result_bytes: args.max_result_bytes,
        max_concurrent_statements: args.max_concurrent_statements,
        queue_timeout: args.queue_timeout,
    };
    let pg = args.pg_listen.map(|_| PgConfig {
        token: config.token.clone(),
        statement_timeout: config.statement_timeout,
        row_cap: config.row_cap,
        queue_timeout: config.queue_timeout,
    });
    let reports =
        spawn_schedules(Arc::clone(&analyzer), schedules, Clock::System, RetryPolicy::default(), shutdown.clone());
    let mut state = ApiState::new(Arc::clone(&analyzer), config);
    if !args.health_interval.is_zero() {
        let (feed, _task) =
            spawn_live(analyzer, DetectorConfig::default(), args.health_interval, topic, shutdown.clone());
        state = state.with_health(feed);
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    if let (Some(pg_listen), Some(pg)) = (args.pg_listen, pg) {
        let endpoint = PgEndpoint::new(&state.analyzer, &pg, Arc::clone(&state.statements))
            .context("cannot set up the Postgres endpoint")?;
        let listener =
            tokio::net::TcpListener::bind(pg_listen).await.with_context(|| format!("cannot listen on {pg_listen}"))?;
        tokio::spawn(endpoint.serve(listener, shutdown.clone()));
    }
    info!(listen = %args.listen, lake = %args.lake.lake.path.display(), "serving the HTTP API");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("HTTP server failed")?;
    reports.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// The token docker-compose.yml ships with: fine for a demo on one machine, never for a
/// deployment, since everyone who read the file knows it.
const PLACEHOLDER_TOKEN: &str = "change-me";

/// Refuses a server anyone could query: no token on a non-loopback address, or the compose
/// file's placeholder token unless a demo allows it explicitly.
fn check_exposure(listen: SocketAddr, token: Option<&str>, allow_placeholder: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        token != Some(PLACEHOLDER_TOKEN) || allow_placeholder,
        "the API token is docker-compose.yml's placeholder {PLACEHOLDER_TOKEN:?}: set a real --token (or pass --allow-placeholder-token for a demo)"
    );
    anyhow::ensure!(
        token.is_some() || listen.ip().is_loopback(),
        "refusing to serve on {listen} without --token: anyone who can reach it could query the lake (set --token, or listen on a loopback address)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_anyone_could_query_is_refused() {
        let cases = [
            ("127.0.0.1:8080", None, false, None),
            ("[::1]:8080", None, false, None),
            ("0.0.0.0:8080", None, false, Some("without --token")),
            ("192.0.2.7:8080", None, false, Some("without --token")),
            ("0.0.0.0:8080", Some("s3cret"), false, None),
            ("0.0.0.0:8080", Some("change-me"), false, Some("placeholder")),
            ("127.0.0.1:8080", Some("change-me"), false, Some("placeholder")),
            ("0.0.0.0:8080", Some("change-me"), true, None),
        ];
        for (listen, token, allow, refusal) in cases {
            let result = check_exposure(listen.parse().expect("address"), token, allow);
            match (refusal, result) {
                (None, Ok(())) => {}
                (Some(why), Err(e)) => assert!(e.to_string().contains(why), "{listen} {token:?}: {e}"),
                (want, got) => panic!("{listen} {token:?} allow={allow}: expected {want:?}, got {got:?}"),
            }
        }
    }
}
