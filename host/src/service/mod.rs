//! `planmap serve`: the mapping pipeline as an HTTP service. Jobs are submitted,
//! persisted, run by the worker pool of any replica sharing the store, streamed as
//! events and read back as results; everything but health, readiness, metrics and the
//! API description needs credentials and is scoped to the caller's tenant.

pub mod auth;
pub mod config;
pub mod error;
mod events;
pub mod feed;
mod feedback;
pub use feedback::{check as feedback_check, REPORT_WINDOW};
mod jobs;
pub mod limit;
mod openapi;
mod system;
mod upload;
pub mod validate;
pub mod workers;

use crate::capabilities::Backends;
use crate::jobs::{Runner, Store};
use crate::snapshot::Registry;
use auth::{Authenticator, Caller};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use config::ServiceConfig;
use error::{ApiError, REQUEST_ID};
use limit::RateLimiter;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

/// Everything a request handler can reach.
pub struct AppState {
    pub config: ServiceConfig,
    pub store: Store,
    pub registry: Arc<Registry>,
    pub runner: Arc<Runner>,
    pub backends: Arc<Backends>,
    pub auth: Authenticator,
    pub limiter: RateLimiter,
    /// Wakes this process's idle workers when a job is submitted here.
    pub wake: Arc<Notify>,
    /// Submissions being checked, per tenant (`MAX_SUBMISSIONS_PER_TENANT`).
    pub submissions: limit::Slots,
    /// Open event streams, per caller (`MAX_STREAMS_PER_CALLER`).
    pub streams: limit::Slots,
    /// Plan bytes being checked (`MAX_PLAN_BYTES_IN_FLIGHT`).
    pub plan_budget: limit::PlanBudget,
    /// New job events for this process's streams.
    pub feed: Arc<feed::Feed>,
    /// Becomes true when the process starts shutting down: open streams end.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

/// The API's prefix.
pub const PREFIX: &str = "/api/agent";
/// The request-id header (taken from the caller when sane, else generated).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest request id accepted from a caller.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The application: routes and middleware.
pub fn router(state: Arc<AppState>) -> Router {
    let protected = Router::new()
        // Plan files may be far larger than JSON bodies; `submit` holds JSON bodies to
        // MAX_BODY_BYTES itself and streams files to disk.
        .route("/map-to-code", post(jobs::submit).layer(DefaultBodyLimit::max(state.config.max_upload_bytes as usize)))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::status))
        .route("/jobs/{id}/mappings", get(jobs::mappings))
        .route("/jobs/{id}/events", get(events::stream))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/resume", post(jobs::resume))
        .route("/mappings/{id}/feedback", post(feedback::post))
        .route("/experiments", get(feedback::experiments))
        .route("/graphs", get(system::graphs))
        .route("/plugins", get(system::plugins))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let public = Router::new()
        .route("/health", get(system::health))
        .route("/ready", get(system::ready))
        .route("/openapi.json", get(openapi::document));
    let mut app = Router::new()
        .nest(PREFIX, protected.merge(public))
        .route("/metrics", get(system::metrics))
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "no such endpoint (see /api/agent/openapi.json)") })
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    if !state.config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = state.config.cors_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        app = app.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE, HeaderName::from_static("idempotency-key"), HeaderName::from_static("x-api-key"), HeaderName::from_static("last-event-id")])
                .expose_headers([HeaderName::from_static(REQUEST_ID_HEADER), axum::http::header::RETRY_AFTER]),
        );
    }
    app.layer(middleware::from_fn(observe)).with_state(state)
}

/// Give every request an id (echoed in `X-Request-Id` and in error bodies), log it as
/// one structured line, and count it by route. Bodies, queries and headers are never
/// logged: they can hold tokens.
async fn observe(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID_LEN && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let t = Instant::now();
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    let took = t.elapsed();
    let code = resp.status().as_u16();
    crate::metrics::record_http(&route, code, took);
    tracing::info!(request_id = %id, method = %method, route = %route, status = code, ms = took.as_secs_f64() * 1e3, "request");
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    resp
}

/// Require credentials; the caller is handed to the handlers as an extension.
async fn authenticate(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    let caller: Caller = state.auth.authenticate(req.headers())?;
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

/// Wait for SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
