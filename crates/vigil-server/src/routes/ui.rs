//! The web UI: static assets embedded in the binary, served at `/` with a strict content
//! security policy (nothing is loaded from anywhere but this server).

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("../../ui/index.html");
const APP_JS: &str = include_str!("../../ui/app.js");
const APP_CSS: &str = include_str!("../../ui/app.css");

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
            // The assets change with the binary: always revalidate.
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ),
            (
                HeaderName::from_static("referrer-policy"),
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the single page.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "webUi",
    tag = "web-ui",
    summary = "The web UI",
    security(()),
    responses((status = 200, description = "The single page", content_type = "text/html", body = String))
)]
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /ui/app.js`.
#[utoipa::path(
    get,
    path = "/ui/app.js",
    operation_id = "webUiScript",
    tag = "web-ui",
    summary = "The web UI's script",
    security(()),
    responses((status = 200, description = "The script", content_type = "text/javascript", body = String))
)]
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /ui/app.css`.
#[utoipa::path(
    get,
    path = "/ui/app.css",
    operation_id = "webUiStyle",
    tag = "web-ui",
    summary = "The web UI's style sheet",
    security(()),
    responses((status = 200, description = "The style sheet", content_type = "text/css", body = String))
)]
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}
