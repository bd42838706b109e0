//! One error shape for every API failure: `{"error": {"code", "message", "requestId",
//! "fields"?}}`, with the HTTP status that fits. Messages name the field or the cause
//! and never carry a secret (callers build them from validated, secret-free parts).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware), so any
    /// error can name it without every handler passing it along.
    pub static REQUEST_ID: String;
}

/// The current request's id, when inside a request.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(|r| r.clone()).ok()
}

/// One invalid field: its JSON path in the request and what is wrong with it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { path: path.into(), message: message.into() }
    }
}

/// An API failure.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), fields: vec![], retry_after: None }
    }

    /// 422 with every invalid field.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("{}: {}", one.path, one.message),
            many => format!("{} fields are invalid: {}", many.len(), many.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ")),
        };
        ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, code: "validation_failed", message, fields, retry_after: None }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no {what} '{id}'"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// A failure of ours, logged in full; the caller gets the cause's summary.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = request_id().unwrap_or_default(), "{context}: {cause}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{context}: {cause}"))
    }

    /// 429 over a limit the message names, with when to try again.
    pub fn too_many(message: impl Into<String>, retry: std::time::Duration) -> Self {
        ApiError { retry_after: Some(retry.as_secs().max(1)), ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many", message) }
    }

    /// The store did not answer: the client should retry.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = request_id().unwrap_or_default(), "store unavailable: {cause}");
        ApiError { retry_after: Some(5), ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "the job store is not answering; retry shortly") }
    }
}

impl From<crate::jobs::StoreError> for ApiError {
    fn from(e: crate::jobs::StoreError) -> Self {
        match e {
            crate::jobs::StoreError::IdempotencyConflict(_) => {
                ApiError::conflict("idempotency_conflict", "this Idempotency-Key was already used with a different request body; use a new key for a new request")
            }
            other => ApiError::unavailable(other),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    request_id: Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { error: Inner { code: self.code, message: &self.message, request_id: request_id(), fields: &self.fields } };
        let mut r = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}
