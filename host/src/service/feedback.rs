//! Feedback and experiments: `POST /api/agent/mappings/{id}/feedback` records whether a
//! mapping was right (or where the right code is), and `GET /api/agent/experiments`
//! reports per A/B variant what teams need to decide: exposures, latency, errors by
//! kind, mean confidence, status mix, shadow agreement, feedback and accuracy.

use super::auth::Caller;
use super::error::{ApiError, FieldError};
use super::{validate, AppState};
use crate::jobs::experiments;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Most mappings one experiments report reads (newest first).
pub const REPORT_WINDOW: i64 = 100_000;
/// Longest note kept with feedback.
const MAX_NOTE: usize = 2000;
/// Longest verdict, file or lines value (a repository path fits easily).
const MAX_FIELD: usize = 1000;

/// A checked feedback body: verdict, and the right place for `corrected`.
pub struct FeedbackBody {
    pub verdict: String,
    pub file: Option<String>,
    pub lines: Option<String>,
    pub note: Option<String>,
}

/// Check a feedback body, naming every invalid field.
pub fn check(body: &Value) -> Result<FeedbackBody, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(o) = body.as_object() else { return Err(vec![FieldError::new("", format!("the body must be a JSON object, not {}", validate::kind(body)))]) };
    for k in o.keys().filter(|k| !["verdict", "file", "lines", "note"].contains(&k.as_str())) {
        errors.push(FieldError::new(k.as_str(), "unknown field (expected verdict, file, lines, note)"));
    }
    let verdict = validate::text(o, "verdict", MAX_FIELD, &mut errors).unwrap_or_default().trim().to_string();
    if !["correct", "wrong", "corrected"].contains(&verdict.as_str()) {
        errors.push(FieldError::new("verdict", "must be correct, wrong or corrected"));
    }
    let file = validate::text(o, "file", MAX_FIELD, &mut errors).map(|f| f.trim().to_string());
    let lines = validate::text(o, "lines", MAX_FIELD, &mut errors).map(|l| l.trim().to_string());
    if verdict == "corrected" && file.is_none() {
        errors.push(FieldError::new("file", "is required with verdict corrected (the right file, relative to the repository root)"));
    }
    if let Some(l) = &lines
        && crate::jobs::store::parse_lines(l).is_none() {
            errors.push(FieldError::new("lines", "must be a line or a range, e.g. 40 or 40-44"));
        }
    let note = validate::text(o, "note", MAX_NOTE, &mut errors).map(str::to_string);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(FeedbackBody { verdict, file, lines, note })
}

/// `POST /api/agent/mappings/{id}/feedback`.
pub async fn post(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<impl IntoResponse, ApiError> {
    let mapping_id: i64 = id.parse().map_err(|_| ApiError::not_found("mapping", &id))?;
    let body: Value = serde_json::from_slice(&body).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {e}")))?;
    let fb = check(&body).map_err(ApiError::validation)?;
    match state.store.mapping_owner(mapping_id).await? {
        Some((_, tenant)) if tenant == caller.tenant => {}
        _ => return Err(ApiError::not_found("mapping", &id)),
    }
    let fid = state.store.add_feedback(mapping_id, &fb.verdict, fb.file.as_deref(), fb.lines.as_deref(), fb.note.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(json!({"feedbackId": fid, "mappingId": mapping_id, "verdict": fb.verdict}))))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExperimentsQuery {
    /// Only mappings made at or after this time (Unix ms).
    since: Option<i64>,
}

/// `GET /api/agent/experiments`: the caller's experiments.
pub async fn experiments(State(state): State<Arc<AppState>>, Extension(caller): Extension<Caller>, q: Result<Query<ExperimentsQuery>, QueryRejection>) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::validation(vec![FieldError::new("since", e.body_text())]))?;
    let rows = state.store.experiment_rows(Some(&caller.tenant), q.since.unwrap_or(0), REPORT_WINDOW).await?;
    Ok(Json(json!({"experiments": experiments::report(&rows), "mappingsRead": rows.len(), "window": REPORT_WINDOW})))
}
