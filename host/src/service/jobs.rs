//! The job endpoints: submit (validated, persisted, `202`), status, results (filtered
//! and paginated, in the `planmap map --format json` shape), list, cancel and resume.
//! A job that belongs to another tenant is reported exactly like one that does not
//! exist.

use super::auth::Caller;
use super::error::{ApiError, FieldError};
use super::{validate, AppState, PREFIX};
use crate::jobs::store::{JobRow, MappingFilter, NewJob};
use crate::plan::{self, ParseOptions, PlanInput};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Results per page unless the caller asks otherwise, and the most it may ask for.
const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;
/// Longest idempotency key accepted.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
const STATUSES: [&str; 4] = ["confirmed", "probable", "uncertain", "unmapped"];

/// `v` (an object) with the job's status, events and mappings URLs.
fn with_links(mut v: Value, id: &str) -> Value {
    v["statusUrl"] = format!("{PREFIX}/jobs/{id}").into();
    v["eventsUrl"] = format!("{PREFIX}/jobs/{id}/events").into();
    v["mappingsUrl"] = format!("{PREFIX}/jobs/{id}/mappings").into();
    v
}

/// A body the limit refused is 413; one that could not be read is 400.
fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "the request body is larger than the service accepts (MAX_BODY_BYTES); send a smaller plan, e.g. one execution of the event log")
    } else {
        ApiError::new(e.status(), "bad_body", format!("the request body could not be read: {e}"))
    }
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {e} (line {}, column {})", e.line(), e.column())))
}

/// `POST /api/agent/map-to-code`.
pub async fn submit(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<impl IntoResponse, ApiError> {
    if let Err(wait) = state.limiter.check(&format!("{}/{}", caller.tenant, caller.principal)) {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many job submissions; retry in {secs} s (RATE_LIMIT_PER_MINUTE)"));
        e.retry_after = Some(secs);
        return Err(e);
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN => Some(k.trim().to_string()),
            _ => return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad_idempotency_key", format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible characters"))),
        },
    };
    let body = parse_json(&body.map_err(body_error)?)?;
    let sub = validate::submission(&body, &state.config.policy).map_err(ApiError::validation)?;
    let spec = sub.spec;
    // The graph must exist now (a typo should fail the request, not the job later).
    let graph = spec.graph.clone().unwrap_or_else(|| "default".into());
    if let Err(e) = state.registry.snapshot().graph(&graph) {
        return Err(ApiError::validation(vec![FieldError::new("graph", e.to_string())]));
    }
    // Parse the plan now, off the async workers: a plan that cannot be read or is too
    // large is the caller's error to see at once.
    let (field, bytes): (&str, Arc<[u8]>) = match (&spec.plan, &spec.dag_nodes) {
        (Some(p), _) => ("plan", Arc::from(p.as_bytes())),
        (None, Some(d)) => ("dagNodes", Arc::from(d.to_string().into_bytes())),
        (None, None) => unreachable!("validation requires one of them"),
    };
    let opts = ParseOptions { format: spec.plan_format, execution: spec.execution_id };
    let parsed = tokio::task::spawn_blocking(move || plan::parse(PlanInput::Bytes(bytes), &opts)).await.map_err(|e| ApiError::internal("plan parsing stopped", e))?;
    match parsed {
        Err(e) => return Err(ApiError::validation(vec![FieldError::new(field, format!("is not a readable plan: {e}"))])),
        Ok(p) if p.nodes.len() > state.config.max_plan_nodes => {
            return Err(ApiError::validation(vec![FieldError::new(field, format!("has {} nodes; the most this service maps in one job is {} (MAX_PLAN_NODES)", p.nodes.len(), state.config.max_plan_nodes))]));
        }
        Ok(_) => {}
    }
    let spec_json = serde_json::to_value(&spec).map_err(|e| ApiError::internal("storing the request", e))?;
    let hash = hex::encode(Sha256::digest(spec_json.to_string().as_bytes()));
    // Keys are per tenant: another tenant's key never collides with (or reveals) yours.
    let scoped = key.map(|k| format!("{}:{}:{k}", caller.tenant.len(), caller.tenant));
    let holder = sub.token.as_ref().map(|_| state.config.instance.as_str());
    let new = NewJob { spec: spec_json, request_hash: &hash, idempotency_key: scoped.as_deref(), tenant: &caller.tenant, budget_usd: Some(state.config.max_job_cost_usd), token_holder: holder };
    let submitted = state.store.submit(&new).await?;
    let job = submitted.job;
    if let Some(t) = sub.token
        && job.status == "queued" {
            state.runner.tokens.hold(&job.id, t);
        }
    if submitted.created {
        crate::metrics::record_job("submitted", None);
        state.store.event(&job.id, "job-submitted", &json!({"graph": graph})).await?;
        tracing::info!(job = %job.id, tenant = %caller.tenant, "job submitted");
    }
    state.wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(with_links(json!({"jobId": job.id, "status": job.status, "created": submitted.created}), &job.id))))
}

/// The job's public view.
fn view(job: &JobRow) -> Value {
    let spec = &job.spec;
    let percent = if job.nodes_total > 0 { (100.0 * job.nodes_done as f64 / job.nodes_total as f64).min(100.0) } else { 0.0 };
    let v = json!({
        "jobId": job.id,
        "analysisId": spec.get("analysisId"),
        "status": job.status,
        "stage": job.stage,
        "progress": {"nodesDone": job.nodes_done, "nodesTotal": job.nodes_total, "percent": (percent * 10.0).round() / 10.0},
        "cost": {"usd": job.cost_usd, "budgetUsd": job.budget_usd},
        "summary": job.summary,
        "graph": {"name": job.graph_name.clone().or_else(|| spec.get("graph").and_then(Value::as_str).map(str::to_string)).unwrap_or_else(|| "default".into()), "version": job.graph_version},
        "repo": {"url": spec.get("repoUrl"), "branch": spec.get("branch"), "commit": job.repo_commit.clone().or_else(|| spec.get("commit").and_then(Value::as_str).map(str::to_string))},
        "error": job.error,
        "attempts": job.attempts,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
    });
    with_links(v, &job.id)
}

async fn owned_job(state: &AppState, caller: &Caller, id: &str) -> Result<JobRow, ApiError> {
    state.store.job_of(id, &caller.tenant).await?.ok_or_else(|| ApiError::not_found("job", id))
}

/// `GET /api/agent/jobs/{id}`.
pub async fn status(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(view(&owned_job(&state, &caller, &id).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<i64>,
}

/// `GET /api/agent/jobs`: the caller's most recent jobs.
pub async fn list(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>) -> Result<Json<Value>, ApiError> {
    let q = q.map_err(|e| ApiError::validation(vec![FieldError::new("query", e.body_text())]))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(vec![FieldError::new("limit", format!("must be between 1 and {MAX_PAGE}"))]));
    }
    let jobs = state.store.jobs_of(&caller.tenant, limit).await?;
    Ok(Json(json!({"jobs": jobs.iter().map(view).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MappingsQuery {
    status: Option<String>,
    min_confidence: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

/// `GET /api/agent/jobs/{id}/mappings?status=confirmed,probable&minConfidence=0.5&limit=100&offset=0`.
pub async fn mappings(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    q: Result<Query<MappingsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::validation(vec![FieldError::new("query", e.body_text())]))?;
    let mut errors = Vec::new();
    let statuses: Vec<String> = q.status.as_deref().unwrap_or("").split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
    for s in &statuses {
        if !STATUSES.contains(&s.as_str()) {
            errors.push(FieldError::new("status", format!("unknown status {s:?} (expected any of {})", STATUSES.join(", "))));
        }
    }
    let mut number = |field: &str, v: Option<&str>, ok: &dyn Fn(f64) -> bool, expects: &str| -> Option<f64> {
        let v = v?;
        match v.parse::<f64>() {
            Ok(n) if ok(n) => Some(n),
            _ => {
                errors.push(FieldError::new(field, format!("must be {expects}, got {v:?}")));
                None
            }
        }
    };
    let min_confidence = number("minConfidence", q.min_confidence.as_deref(), &|n| (0.0..=1.0).contains(&n), "a number in [0, 1]").unwrap_or(0.0);
    let limit = number("limit", q.limit.as_deref(), &|n| n.fract() == 0.0 && (1.0..=MAX_PAGE as f64).contains(&n), &format!("a whole number from 1 to {MAX_PAGE}")).map(|n| n as i64).unwrap_or(DEFAULT_PAGE);
    let offset = number("offset", q.offset.as_deref(), &|n| n.fract() == 0.0 && n >= 0.0, "a whole number of zero or more").map(|n| n as i64).unwrap_or(0);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let job = owned_job(&state, &caller, &id).await?;
    let filter = MappingFilter { statuses, min_confidence, offset, limit };
    let (rows, total) = state.store.mappings(&id, &filter).await?;
    let next = (offset + (rows.len() as i64) < total).then_some(offset + rows.len() as i64);
    Ok(Json(json!({
        "jobId": job.id,
        "status": job.status,
        "mappings": rows,
        "summary": job.summary,
        "repo": {"commit": job.repo_commit},
        "graph": {"name": job.graph_name, "version": job.graph_version},
        "page": {"offset": offset, "limit": limit, "total": total, "nextOffset": next},
    })))
}

/// `POST /api/agent/jobs/{id}/cancel`.
pub async fn cancel(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let job = owned_job(&state, &caller, &id).await?;
    if !state.store.cancel(&id).await? {
        return Err(ApiError::conflict("job_ended", format!("job {id} already ended ({}); only queued or running jobs can be cancelled", job.status)));
    }
    state.runner.tokens.forget(&id);
    state.store.event(&id, "job-finished", &json!({"status": "cancelled"})).await?;
    crate::metrics::record_job("cancelled", None);
    Ok(Json(json!({"jobId": id, "status": "cancelled"})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResumeBody {
    token: Option<String>,
}

/// `POST /api/agent/jobs/{id}/resume`: a failed or cancelled job continues from its
/// checkpoints (an optional `{"token": …}` gives the repository token again).
pub async fn resume(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, Path(id): Path<String>, body: Result<Bytes, BytesRejection>) -> Result<impl IntoResponse, ApiError> {
    let body = body.map_err(body_error)?;
    let rb: ResumeBody = if body.iter().all(u8::is_ascii_whitespace) {
        ResumeBody::default()
    } else {
        serde_json::from_value(parse_json(&body)?).map_err(|e| ApiError::validation(vec![FieldError::new("token", format!("the body may only hold a string `token`: {e}"))]))?
    };
    let job = owned_job(&state, &caller, &id).await?;
    let holder = rb.token.as_ref().map(|_| state.config.instance.as_str());
    if !state.store.resume(&id, holder).await? {
        return Err(ApiError::conflict("not_resumable", format!("job {id} is {}; only failed or cancelled jobs can be resumed (interrupted running jobs resume by themselves)", job.status)));
    }
    if let Some(t) = rb.token {
        state.runner.tokens.hold(&id, t);
    }
    state.store.event(&id, "job-resumed", &json!({})).await?;
    state.wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(with_links(json!({"jobId": id, "status": "queued"}), &id))))
}
