//! `failscope serve`: the HTTP API on a socket until shutdown.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::ServeArgs;
use crate::Analyzer;
use crate::health::{DetectorConfig, HealthTopic, spawn_live};
use crate::http::{ApiConfig, ApiState, router};

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
pub async fn run_serve(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let analyzer = Arc::new(Analyzer::open(&args.lake.catalog_config()?).await.context("cannot open the lake")?);
    let topic = match (&args.health_brokers, args.health_interval.is_zero()) {
        (Some(brokers), false) => Some(
            HealthTopic::open(brokers, &args.health_topic)
                .await
                .with_context(|| format!("cannot set up the region-health topic on {brokers}"))?,
        ),
        _ => None,
    };
    let health = (!args.health_interval.is_zero()).then(|| {
        let (feed, _task) =
            spawn_live(Arc::clone(&analyzer), DetectorConfig::default(), args.health_interval, topic, shutdown.clone());
        feed
    });
    let state = ApiState {
        analyzer,
        health,
        config: Arc::new(ApiConfig {
            token: args.token.filter(|t| !t.is_empty()),
            statement_timeout: args.statement_timeout,
            row_cap: args.row_cap,
        }),
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    info!(listen = %args.listen, lake = %args.lake.lake.display(), "serving the HTTP API");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}
