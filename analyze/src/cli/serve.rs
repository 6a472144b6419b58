//! `failscope serve`: the HTTP API on a socket until shutdown.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::ServeArgs;
use crate::Analyzer;
use crate::http::{ApiConfig, ApiState, router};

/// Serves until `shutdown` is cancelled, then lets in-flight requests finish.
pub async fn run_serve(args: ServeArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let analyzer = Analyzer::open(&args.lake.catalog_config()?).await.context("cannot open the lake")?;
    let state = ApiState {
        analyzer: Arc::new(analyzer),
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
