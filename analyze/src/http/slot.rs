//! The API's limits on a statement: one of the statement slots that `POST /v1/sql`, the
//! named queries, the console and the Postgres endpoint share, waited for up to the queue
//! timeout; and a task of its own, aborted when the timeout passes or the client hangs up, so
//! no analysis outlives its request.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::http::{ApiError, ApiState};
use crate::task::AbortOnDrop;

/// Runs `work` on the analyzer under a statement slot and the statement timeout.
pub(super) async fn in_slot<T, F, Fut>(state: &ApiState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Arc<Analyzer>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, AnalyzeError>> + Send + 'static,
{
    let config = Arc::clone(&state.config);
    let permit = acquire(state).await?;
    let analyzer = Arc::clone(&state.analyzer);
    let task = AbortOnDrop::spawn(async move {
        let _permit = permit;
        work(analyzer).await
    });
    match tokio::time::timeout(config.statement_timeout, task.join()).await {
        Ok(joined) => Ok(joined.map_err(|e| ApiError::Internal(Box::new(e)))??),
        Err(_) => Err(ApiError::Timeout(config.statement_timeout)),
    }
}

/// Waits up to the queue timeout for a statement slot; 503 with `Retry-After` when none frees.
pub(super) async fn acquire(state: &ApiState) -> Result<OwnedSemaphorePermit, ApiError> {
    let wait = state.config.queue_timeout;
    match tokio::time::timeout(wait, state.statements.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(closed)) => Err(ApiError::Internal(Box::new(closed))),
        Err(_) => Err(ApiError::Busy(wait)),
    }
}
