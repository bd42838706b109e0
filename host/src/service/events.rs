//! `GET /api/agent/jobs/{id}/events`: the job's events as Server-Sent Events, from the
//! store (so any replica can serve any job's stream), each with its id so a client that
//! reconnects with `Last-Event-ID` (or `?after=`) continues where it stopped. The
//! stream ends after the job's `job-finished` event.

use super::auth::Caller;
use super::error::{ApiError, FieldError};
use super::AppState;
use crate::jobs::{Event, Store};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Extension;
use futures::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often an open stream asks the store for new events: low enough to feel live,
/// high enough that a hundred open streams are a few queries per second.
const POLL: Duration = Duration::from_millis(200);
/// Events read per query.
const BATCH: i64 = 500;
const TERMINAL: [&str; 3] = ["completed", "failed", "cancelled"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    after: Option<i64>,
}

struct Cursor {
    store: Store,
    job: String,
    last: i64,
    buffered: VecDeque<Event>,
    finished: bool,
}

/// Serve the stream.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::validation(vec![FieldError::new("after", e.body_text())]))?;
    let last = match headers.get("last-event-id") {
        Some(v) => v.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()).ok_or_else(|| ApiError::validation(vec![FieldError::new("Last-Event-ID", "must be the id of an event")]))?,
        None => q.after.unwrap_or(0),
    };
    state.store.job_of(&id, &caller.tenant).await?.ok_or_else(|| ApiError::not_found("job", &id))?;
    let cursor = Cursor { store: state.store.clone(), job: id, last, buffered: VecDeque::new(), finished: false };
    let s = futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(e) = c.buffered.pop_front() {
                c.last = e.id;
                if e.kind == "job-finished" {
                    c.finished = true;
                }
                let ev = SseEvent::default().id(e.id.to_string()).event(e.kind.clone()).data(serde_json::json!({"kind": e.kind, "data": e.data, "at": e.created_at}).to_string());
                return Some((Ok(ev), c));
            }
            if c.finished {
                return None;
            }
            match c.store.events_after(&c.job, c.last, BATCH).await {
                Ok(events) if !events.is_empty() => c.buffered.extend(events),
                Ok(_) => {
                    // Nothing new: a job that ended without a final event (it cannot
                    // get one any more) ends the stream too.
                    match c.store.job(&c.job).await {
                        Ok(Some(j)) if TERMINAL.contains(&j.status.as_str()) => {
                            if let Ok(more) = c.store.events_after(&c.job, c.last, BATCH).await
                                && !more.is_empty() {
                                    c.buffered.extend(more);
                                    continue;
                                }
                            return None;
                        }
                        Ok(None) => return None,
                        _ => tokio::time::sleep(POLL).await,
                    }
                }
                Err(e) => {
                    tracing::warn!(job = %c.job, "event stream: {e}");
                    tokio::time::sleep(POLL * 5).await;
                }
            }
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
