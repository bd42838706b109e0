//! Operational endpoints: liveness, readiness (store reachable, snapshot loaded),
//! Prometheus metrics, and the loaded snapshot — graphs, plugins with their digests, and
//! the last reload's outcome with its errors.

use super::error::ApiError;
use super::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Readiness waits this long for the store before calling it unreachable (probes have
/// short timeouts of their own).
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /api/agent/health`: the process is up.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

/// `GET /api/agent/ready`: 200 when the store answers and a snapshot is loaded, else
/// 503 naming what is not ready.
pub async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let store = match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => json!({"ok": true, "backend": state.store.backend()}),
        Ok(Err(e)) => json!({"ok": false, "backend": state.store.backend(), "error": e.to_string()}),
        Err(_) => json!({"ok": false, "backend": state.store.backend(), "error": format!("no answer within {} s", READY_TIMEOUT.as_secs())}),
    };
    let snap = state.registry.snapshot();
    let snapshot = json!({"ok": !snap.graphs.is_empty(), "generation": snap.generation, "graphs": snap.graphs.len(), "plugins": snap.plugins.len()});
    let ok = store["ok"] == true && snapshot["ok"] == true;
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    // Optional backends degrade rather than fail readiness; their breakers say how.
    let circuits = crate::capabilities::breaker::reports();
    (code, Json(json!({"status": if ok { "ready" } else { "not ready" }, "store": store, "snapshot": snapshot, "backends": state.backends.notes, "circuits": circuits})))
}

/// `GET /metrics`: Prometheus text format (404 when METRICS_ENABLED is false).
pub async fn metrics(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    if !state.config.metrics_enabled {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "not_found", "metrics are disabled (METRICS_ENABLED=false)"));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render()))
}

/// `GET /api/agent/graphs`.
pub async fn graphs(State(state): State<Arc<AppState>>) -> Json<Value> {
    let snap = state.registry.snapshot();
    let graphs: Vec<Value> = snap
        .graphs
        .values()
        .map(|g| {
            let nodes: Vec<Value> = g.nodes.values().map(|n| json!({"name": n.name, "kind": format!("{:?}", n.kind).to_lowercase(), "plugin": crate::graph::render::plugin_label(&n.plugin)})).collect();
            json!({"name": g.name, "version": g.version, "description": g.description, "file": g.file.display().to_string(), "entry": g.entry, "maxVisits": g.max_visits, "nodes": nodes})
        })
        .collect();
    Json(json!({"generation": snap.generation, "graphs": graphs, "reload": state.registry.status()}))
}

/// `GET /api/agent/plugins`.
pub async fn plugins(State(state): State<Arc<AppState>>) -> Json<Value> {
    let snap = state.registry.snapshot();
    let plugins: Vec<Value> = snap
        .plugins
        .values()
        .map(|p| {
            let i = &p.info;
            json!({"name": i.name, "kind": i.kind, "contractVersion": i.package_version, "digest": i.digest, "size": i.size, "source": i.source, "imports": i.imports})
        })
        .collect();
    Json(json!({"generation": snap.generation, "plugins": plugins, "reload": state.registry.status()}))
}
