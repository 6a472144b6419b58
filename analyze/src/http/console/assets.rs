//! The console's files, embedded with `include_str!` so an installed binary serves them from
//! any directory, with a content security policy that lets the page load nothing but its own
//! files and talk to nothing but its own server.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::http::ApiState;

/// Path, content type and content of every file the page loads.
const FILES: [(&str, &str, &str); 9] = [
    ("/", "text/html; charset=utf-8", include_str!("assets/index.html")),
    ("/console/console.css", "text/css; charset=utf-8", include_str!("assets/console.css")),
    ("/console/dom.js", "text/javascript; charset=utf-8", include_str!("assets/dom.js")),
    ("/console/api.js", "text/javascript; charset=utf-8", include_str!("assets/api.js")),
    ("/console/board.js", "text/javascript; charset=utf-8", include_str!("assets/board.js")),
    ("/console/period.js", "text/javascript; charset=utf-8", include_str!("assets/period.js")),
    ("/console/job.js", "text/javascript; charset=utf-8", include_str!("assets/job.js")),
    ("/console/sql.js", "text/javascript; charset=utf-8", include_str!("assets/sql.js")),
    ("/console/main.js", "text/javascript; charset=utf-8", include_str!("assets/main.js")),
];

/// Same origin only: no CDN, no inline script; inline SVG from the server is markup, not script.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A route per embedded file.
pub(super) fn routes() -> Router<ApiState> {
    FILES.iter().fold(Router::new(), |router, &(path, content_type, body)| {
        router.route(
            path,
            get(move || async move {
                (
                    [
                        (CONTENT_TYPE, content_type),
                        (CONTENT_SECURITY_POLICY, POLICY),
                        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
                        (CACHE_CONTROL, "no-cache"),
                    ],
                    body,
                )
                    .into_response()
            }),
        )
    })
}
