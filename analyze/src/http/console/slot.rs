//! Running a console request's analysis under the API's limits: it waits for one of the
//! statement slots that `POST /v1/sql` and the Postgres endpoint share, runs in a task of its
//! own within the statement timeout, and is aborted when the timeout passes or the client
//! hangs up, so no analysis outlives its request.

use std::sync::Arc;

use crate::Analyzer;
use crate::error::AnalyzeError;
use crate::http::{ApiError, ApiState};

/// Runs `work` on the analyzer under a statement slot and the statement timeout.
pub(super) async fn in_slot<T, F, Fut>(state: &ApiState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Arc<Analyzer>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, AnalyzeError>> + Send + 'static,
{
    let config = Arc::clone(&state.config);
    let permit = match tokio::time::timeout(config.queue_timeout, state.statements.clone().acquire_owned()).await {
        Ok(Ok(permit)) => permit,
        Ok(Err(closed)) => return Err(ApiError::Internal(Box::new(closed))),
        Err(_) => return Err(ApiError::Busy(config.queue_timeout)),
    };
    let analyzer = Arc::clone(&state.analyzer);
    let task = AbortOnDrop(tokio::spawn(async move {
        let _permit = permit;
        work(analyzer).await
    }));
    match tokio::time::timeout(config.statement_timeout, task.join()).await {
        Ok(joined) => Ok(joined.map_err(|e| ApiError::Internal(Box::new(e)))??),
        Err(_) => Err(ApiError::Timeout(config.statement_timeout)),
    }
}

/// A task aborted when its handle is dropped: on the timeout, or when the server drops the
/// request's future because the client went away.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
