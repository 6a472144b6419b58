//! A spawned task that lives no longer than its handle: the statement of a request whose
//! client went away, or the hour reads of a detector tick that was dropped, stop with it.

use std::future::Future;

use tokio::task::{JoinError, JoinHandle};

/// A task aborted when its handle is dropped.
pub(crate) struct AbortOnDrop<T>(pub(crate) JoinHandle<T>);

impl<T: Send + 'static> AbortOnDrop<T> {
    pub(crate) fn spawn(future: impl Future<Output = T> + Send + 'static) -> AbortOnDrop<T> {
        AbortOnDrop(tokio::spawn(future))
    }

    /// Waits for the task's end.
    pub(crate) async fn join(mut self) -> Result<T, JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
