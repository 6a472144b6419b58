//! The Postgres wire protocol of `failscope serve --pg-listen`, for psql, Grafana and DBeaver.
//!
//! A front end like the HTTP API: it holds no SQL and no business logic. The protocol, the
//! `pg_catalog` tables and the Arrow-to-Postgres encoding come from `datafusion-postgres`
//! (on `pgwire`); this module puts the analyzer's catalog behind it (`session.rs`), the same
//! read-only guard, statement slots, statement timeout and row cap as the HTTP API in front of
//! every statement (`handler.rs`), and password authentication with the API token (`auth.rs`).

mod auth;
mod error;
mod handler;
mod listing;
mod params;
mod session;

use std::sync::Arc;
use std::time::Duration;

use datafusion_postgres::pgwire::api::cancel::DefaultCancelHandler;
use datafusion_postgres::pgwire::api::{ConnectionManager, PgWireServerHandlers};
use datafusion_postgres::pgwire::tokio::process_socket;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::Analyzer;
use crate::error::Result;

/// Limits and credentials of the Postgres endpoint, the same values as the HTTP API's.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// The password every user name must present (SCRAM-SHA-256); anyone may connect when
    /// `None`, which `failscope serve` only allows on a loopback address.
    pub token: Option<String>,
    pub statement_timeout: Duration,
    /// Most rows a result carries; a longer one is cut and the client gets a notice.
    pub row_cap: usize,
    /// How long a statement waits for a slot before it is refused.
    pub queue_timeout: Duration,
}

/// The Postgres endpoint over one analyzer, ready to serve.
#[derive(Debug)]
pub struct PgEndpoint {
    handlers: Arc<Handlers>,
}

impl PgEndpoint {
    /// Sets up the endpoint's session over `analyzer`'s catalog. `statements` are the slots
    /// shared with the HTTP API: a statement from either front end takes one while it runs.
    pub fn new(analyzer: &Analyzer, config: &PgConfig, statements: Arc<Semaphore>) -> Result<PgEndpoint> {
        let ctx = session::pg_session(analyzer.context())?;
        let connections = Arc::new(ConnectionManager::new());
        let handlers = Arc::new(Handlers {
            queries: Arc::new(handler::GuardedQueries::new(Arc::new(ctx), config, statements)),
            startup: auth::Credentials::new(config.token.as_deref(), Arc::clone(&connections)),
            cancel: Arc::new(DefaultCancelHandler::new(connections)),
        });
        Ok(PgEndpoint { handlers })
    }

    /// Serves on `listener` until `shutdown`, then closes every connection.
    pub async fn serve(self, listener: TcpListener, shutdown: CancellationToken) {
        let handlers = self.handlers;
        let tracker = TaskTracker::new();
        info!(listen = ?listener.local_addr().ok(), "serving the Postgres protocol");
        loop {
            let (socket, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors, say: wait a little rather than spin.
                        warn!(%error, "cannot accept a Postgres connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = shutdown.cancelled() => break,
            };
            let (handlers, shutdown) = (Arc::clone(&handlers), shutdown.clone());
            tracker.spawn(async move {
                // A session can stay open for hours (a psql shell, a Grafana pool): shutdown ends
                // it rather than waiting for it, and so cancels its statement.
                tokio::select! {
                    ended = process_socket(socket, None, handlers) => match ended {
                        Ok(()) => debug!(%peer, "Postgres connection closed"),
                        Err(error) => debug!(%peer, %error, "Postgres connection ended with an error"),
                    },
                    () = shutdown.cancelled() => {}
                }
            });
        }
        tracker.close();
        tracker.wait().await;
    }
}

/// What `pgwire` asks for on each connection.
struct Handlers {
    queries: Arc<handler::GuardedQueries>,
    startup: auth::Credentials,
    cancel: Arc<DefaultCancelHandler>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers")
            .field("queries", &self.queries)
            .field("startup", &self.startup)
            .finish_non_exhaustive()
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::query::SimpleQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn extended_query_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::query::ExtendedQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn startup_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::auth::StartupHandler> {
        // The SASL exchange keeps state: each connection gets its own handler.
        Arc::new(self.startup.handler())
    }

    fn error_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::ErrorHandler> {
        Arc::new(error::LogErrors)
    }

    fn cancel_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::cancel::CancelHandler> {
        Arc::clone(&self.cancel)
    }
}
