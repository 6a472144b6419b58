//! The ingest's HTTP endpoints: `/metrics` (Prometheus text) and `/healthz`, which answers 503
//! and names the partitions whose oldest unpublished message waited past the stall timeout.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

use crate::health::Health;

#[derive(Debug, Clone)]
struct Endpoints {
    registry: Arc<Registry>,
    health: Health,
}

pub(crate) fn router(registry: Arc<Registry>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(Endpoints { registry, health })
}

async fn metrics(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &endpoints.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn healthz(State(endpoints): State<Endpoints>) -> impl IntoResponse {
    let stalled = endpoints.health.stalled(Instant::now());
    if stalled.is_empty() {
        return (StatusCode::OK, "ok\n".to_string());
    }
    let mut body = String::from("stalled: nothing published or committed\n");
    for ((topic, partition), waited) in stalled {
        let _ = writeln!(body, "{topic}/{partition}: oldest unpublished message waiting {}s", waited.as_secs());
    }
    (StatusCode::SERVICE_UNAVAILABLE, body)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn healthz_of(health: &Health) -> (StatusCode, String) {
        let router = router(Arc::new(Registry::default()), health.clone());
        let response =
            router.oneshot(Request::get("/healthz").body(Body::empty()).expect("request")).await.expect("response");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn healthz_names_a_stalled_partition() {
        let health = Health::new(Duration::from_millis(1));
        assert_eq!(healthz_of(&health).await.0, StatusCode::OK);
        let tp = ("ci.connect_attempts".to_string(), 4);
        health.pending_since(&tp, Instant::now() - Duration::from_secs(90));
        let (status, body) = healthz_of(&health).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("ci.connect_attempts/4: oldest unpublished message waiting 90s"), "{body}");
        health.waiting_since(&tp, None);
        assert_eq!(healthz_of(&health).await.0, StatusCode::OK);
    }
}
