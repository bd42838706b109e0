//! The job endpoints: submit (validated, persisted, `202`), status, results (filtered
//! and paginated, in the `planmap map --format json` shape), list, cancel and resume.
//! A job that belongs to another tenant is reported exactly like one that does not
//! exist.

use super::auth::Caller;
use super::error::{ApiError, FieldError};
use super::{validate, AppState, PREFIX};
use crate::jobs::store::{JobRow, MappingFilter, NewJob};
use crate::plan::{self, ParseOptions, PlanInput};
use super::upload;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Results per page unless the caller asks otherwise, and the most it may ask for.
const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1000;
/// Longest idempotency key accepted.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
const STATUSES: [&str; 5] = ["confirmed", "probable", "uncertain", "unmapped", "infrastructure"];

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

/// Inline plans larger than this are kept as a stored upload rather than in the job's
/// request (see `submit`).
const INLINE_PLAN_MAX: usize = 1 << 20;

/// A submission's share of the process's plan budget, or why there is none: 413 when
/// the plan is larger than the whole budget, 429 while others hold it.
fn plan_share(state: &AppState, bytes: u64) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    use super::limit::OverBudget;
    state.plan_budget.take(bytes).map_err(|over| match over {
        OverBudget::TooLarge { budget } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "plan_too_large",
            format!("the plan's {bytes} bytes are more than the {budget} bytes of plans this service checks at once (MAX_PLAN_BYTES_IN_FLIGHT); upload a compressed event log, or one execution's plan"),
        ),
        OverBudget::Busy { budget, free } => ApiError::too_many(
            format!("this replica is checking other plans ({} of its {} MiB in use, MAX_PLAN_BYTES_IN_FLIGHT); this one needs {} MiB: retry shortly", (budget - free) >> 20, budget >> 20, bytes.div_ceil(1 << 20)),
            Duration::from_secs(2),
        ),
    })
}

/// Refuse a request with `e` after draining its body (see `upload::drain`).
async fn refuse(req: Request, limit: u64, e: ApiError) -> ApiError {
    upload::drain(req.into_body(), limit).await;
    e
}

/// What a submission's plan is: inline in the JSON body, or an uploaded file.
enum PlanSource {
    Inline { field: &'static str, bytes: Arc<[u8]> },
    File(upload::Upload),
}

/// `POST /api/agent/map-to-code`: a JSON body with the plan inline, or the plan as an
/// uploaded file (raw body or multipart; see `upload`).
pub async fn submit(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, req: Request) -> Result<impl IntoResponse, ApiError> {
    let drain_limit = state.config.max_upload_bytes;
    if let Err(wait) = state.limiter.check(&format!("{}/{}", caller.tenant, caller.principal)) {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", format!("too many job submissions; retry in {secs} s (RATE_LIMIT_PER_MINUTE)"));
        e.retry_after = Some(secs);
        return Err(refuse(req, drain_limit, e).await);
    }
    let headers = req.headers().clone();
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN => Some(k.trim().to_string()),
            _ => return Err(refuse(req, drain_limit, ApiError::new(StatusCode::BAD_REQUEST, "bad_idempotency_key", format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible characters"))).await),
        },
    };
    // One tenant's burst is checked a few at a time, whatever its rate allows.
    let Some(_slot) = state.submissions.take(&caller.tenant) else {
        let e = ApiError::too_many(format!("this tenant already has {} submissions being checked on this replica (MAX_SUBMISSIONS_PER_TENANT); retry when one is answered", state.submissions.max()), Duration::from_secs(1));
        return Err(refuse(req, drain_limit, e).await);
    };
    let (sub, source, _share) = if upload::is_json(&headers) {
        // The body's share of the plan budget: its declared length, or the most it may be.
        let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let share = match plan_share(&state, declared.unwrap_or(state.config.max_body_bytes as u64).min(state.config.max_body_bytes as u64)) {
            Ok(share) => share,
            Err(e) => return Err(refuse(req, drain_limit, e).await),
        };
        let body = upload::read_json(req.into_body(), state.config.max_body_bytes, &std::env::temp_dir()).await?;
        let mut sub = validate::submission(&body, &state.config.policy).map_err(ApiError::validation)?;
        drop(body);
        // A large inline plan is kept like an uploaded file (on disk while it is checked,
        // as a stored upload after): the job's request stays small, and is not copied
        // again for its hash, its row and every read of the job.
        let (tmp, limit) = (std::env::temp_dir(), state.config.max_upload_bytes);
        let source = match (sub.spec.plan.take(), sub.spec.dag_nodes.take()) {
            (Some(p), _) if p.len() > INLINE_PLAN_MAX => PlanSource::File(upload::spill(p.into_bytes(), &tmp, limit).await?),
            (Some(p), _) => {
                let bytes = Arc::from(p.as_bytes());
                sub.spec.plan = Some(p);
                PlanSource::Inline { field: "plan", bytes }
            }
            (None, Some(d)) => {
                let text = d.to_string();
                if text.len() > INLINE_PLAN_MAX {
                    sub.spec.plan_format.get_or_insert(crate::plan::PlanFormat::DagNodes);
                    PlanSource::File(upload::spill(text.into_bytes(), &tmp, limit).await?)
                } else {
                    sub.spec.dag_nodes = Some(d);
                    PlanSource::Inline { field: "dagNodes", bytes: Arc::from(text.into_bytes()) }
                }
            }
            (None, None) => unreachable!("validation requires one of them"),
        };
        (sub, source, share)
    } else {
        let query = req.uri().query().map(str::to_string);
        let (mp, body) = if upload::is_multipart(&headers) {
            let mp = Multipart::from_request(req, &()).await.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_upload", format!("the multipart body could not be read: {}", e.body_text())))?;
            (Some(mp), axum::body::Body::empty())
        } else {
            (None, req.into_body())
        };
        let up = upload::receive(&headers, query.as_deref(), body, mp, &std::env::temp_dir(), state.config.max_upload_bytes).await?;
        let sub = validate::upload_fields(&up.fields, &state.config.policy).map_err(ApiError::validation)?;
        // Streamed to disk; what is read back to check and store it is the stored form.
        let stored = std::fs::metadata(&up.file).map(|m| m.len()).unwrap_or(up.received);
        let share = plan_share(&state, stored)?;
        (sub, PlanSource::File(up), share)
    };
    accept(&state, &caller, key, sub, source).await
}

/// A checked submission: the graph must exist and the plan must read (at once, so a
/// typo fails the request, not the job later); then the job is stored and queued.
async fn accept(state: &AppState, caller: &Caller, key: Option<String>, sub: validate::Submission, source: PlanSource) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut spec = sub.spec;
    let graph = spec.graph.clone().unwrap_or_else(|| "default".into());
    if let Err(e) = state.registry.snapshot().graph(&graph) {
        return Err(ApiError::validation(vec![FieldError::new("graph", e.to_string())]));
    }
    let opts = ParseOptions { format: spec.plan_format, execution: spec.execution_id };
    let chosen_by_caller = spec.execution_id.is_some();
    let (field, parsed, executions, stored) = match source {
        PlanSource::Inline { field, bytes } => {
            let parsed = tokio::task::spawn_blocking(move || plan::parse(PlanInput::Bytes(bytes), &opts)).await.map_err(|e| ApiError::internal("plan parsing stopped", e))?;
            (field, parsed, None, None)
        }
        PlanSource::File(up) => {
            let checked = tokio::task::spawn_blocking(move || {
                // List once, then read the largest execution by its id: two passes over
                // a large event log instead of three.
                let listing = if chosen_by_caller || !plan::holds_executions(&up.file) { None } else { plan::list_executions(&up.file).ok() };
                let mut opts = opts;
                if let Some(l) = &listing {
                    opts.execution = l.iter().max_by_key(|e| (e.nodes, -e.id)).map(|e| e.id);
                }
                let parsed = plan::parse(PlanInput::Path(&up.file), &opts);
                (parsed, listing.filter(|l| l.len() > 1), up)
            });
            let (parsed, executions, up) = checked.await.map_err(|e| ApiError::internal("plan parsing stopped", e))?;
            ("plan", parsed, executions, Some(up))
        }
    };
    let parsed = match parsed {
        Err(e) => return Err(ApiError::validation(vec![FieldError::new(field, format!("is not a readable plan: {}", plan_problem(&e)))])),
        Ok(p) if p.nodes.len() > state.config.max_plan_nodes => {
            return Err(ApiError::validation(vec![FieldError::new(field, format!("has {} nodes; the most this service maps in one job is {} (MAX_PLAN_NODES)", p.nodes.len(), state.config.max_plan_nodes))]));
        }
        Ok(p) => p,
    };
    if let Some(up) = &stored {
        let content = tokio::fs::read(&up.file).await.map_err(|e| ApiError::internal("reading the upload", e))?;
        spec.plan_upload = Some(state.store.save_upload(&caller.tenant, &content, up.received).await?);
        // The job runs the execution checked here, even if the listing's order changes.
        if spec.execution_id.is_none() {
            spec.execution_id = parsed.execution.as_ref().map(|e| e.id);
        }
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
    let mut body = with_links(json!({"jobId": job.id, "status": job.status, "created": submitted.created}), &job.id);
    if let Some(e) = &parsed.execution {
        body["execution"] = e.summary();
    }
    // A file of several executions with none chosen: the largest is mapped, and the
    // caller sees the others to choose from (`executionId`).
    if let Some(list) = executions {
        body["executions"] = list.iter().map(plan::ExecutionInfo::summary).collect::<Vec<_>>().into();
    }
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// A plan error in the API's words (fields, not command-line flags).
fn plan_problem(e: &plan::PlanError) -> String {
    match e {
        plan::PlanError::Unknown(_) => format!("{e}: give it in `planFormat` (explain, formatted, event-log, rest, query-profile, dag-nodes)"),
        plan::PlanError::NoExecution { .. } => format!("{e}: choose one of them in `executionId`"),
        _ => e.to_string(),
    }
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
