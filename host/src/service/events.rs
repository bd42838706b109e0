//! `GET /api/agent/jobs/{id}/events`: the job's events as Server-Sent Events, each with
//! its id so a client that reconnects with `Last-Event-ID` (or `?after=`) continues
//! where it stopped. A stream reads what it missed from the store once, then takes new
//! events from the process's feed (pushed, not polled), so any replica can serve any
//! job's stream and hundreds of streams cost no queries while they wait. The stream
//! ends after the job's `job-finished` event. Each caller may hold a bounded number of
//! streams open.

use super::auth::Caller;
use super::error::{ApiError, FieldError};
use super::limit::Slot;
use super::AppState;
use super::feed::Rendered;
use crate::jobs::Store;
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
use tokio::sync::broadcast::error::RecvError;

/// Events read per catch-up query.
const BATCH: i64 = 500;
/// A waiting stream checks whether its job ended without a final event this often.
const STATUS_LOOK: Duration = Duration::from_secs(10);
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
    buffered: VecDeque<Arc<Rendered>>,
    /// Read the store before waiting on the feed again (at the start, and after the
    /// stream fell behind the feed's buffer).
    catch_up: bool,
    feed: super::feed::Subscription,
    feeds: Arc<super::feed::Feed>,
    finished: bool,
    /// True once the process is shutting down: the stream ends so the client
    /// reconnects (with Last-Event-ID) to a replica that stays.
    closing: tokio::sync::watch::Receiver<bool>,
    _slot: Slot,
}

impl Cursor {
    /// Everything after `last` from the store; false when there was nothing.
    async fn read_store(&mut self) -> bool {
        let feeds = self.feeds.clone();
        let _turn = feeds.catch_up_turn().await;
        let mut any = false;
        loop {
            match self.store.events_after(&self.job, self.last, BATCH).await {
                Ok(events) => {
                    let n = events.len() as i64;
                    if let Some(e) = events.last() {
                        self.last = e.id;
                    }
                    any |= n > 0;
                    self.buffered.extend(events.into_iter().map(|e| Arc::new(Rendered::of(e))));
                    if n < BATCH {
                        return any;
                    }
                }
                Err(e) => {
                    tracing::warn!(job = %self.job, "event stream: {e}");
                    return any;
                }
            }
        }
    }

    /// Whether the job has ended (it may have ended without a final event).
    async fn ended(&self) -> bool {
        match self.store.job(&self.job).await {
            Ok(Some(j)) => TERMINAL.contains(&j.status.as_str()),
            Ok(None) => true,
            Err(_) => false,
        }
    }
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
    let slot = state.streams.take(&format!("{}/{}", caller.tenant, caller.principal)).ok_or_else(|| {
        ApiError::too_many(format!("at most {} event streams may be open per caller (MAX_STREAMS_PER_CALLER); close one first", state.streams.max()), Duration::from_secs(1))
    })?;
    state.store.job_of(&id, &caller.tenant).await?.ok_or_else(|| ApiError::not_found("job", &id))?;
    let feed = state.feed.subscribe(&id);
    let cursor = Cursor { store: state.store.clone(), job: id, last, buffered: VecDeque::new(), catch_up: true, feed, feeds: state.feed.clone(), finished: false, closing: state.closing.clone(), _slot: slot };
    let s = futures::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some(e) = c.buffered.pop_front() {
                if e.kind == "job-finished" {
                    c.finished = true;
                }
                let ev = SseEvent::default().id(e.id.to_string()).event(e.kind.as_str()).data(e.data.as_str());
                return Some((Ok(ev), c));
            }
            if c.finished {
                return None;
            }
            if c.catch_up {
                c.catch_up = false;
                if c.read_store().await {
                    continue;
                }
                if c.ended().await {
                    // Ended without a final event (it cannot get one any more), unless
                    // one came in between.
                    if c.read_store().await {
                        continue;
                    }
                    return None;
                }
            }
            if *c.closing.borrow() {
                return None;
            }
            let next = tokio::select! {
                r = tokio::time::timeout(STATUS_LOOK, c.feed.events.recv()) => r,
                _ = c.closing.changed() => return None,
            };
            match next {
                Ok(Ok(e)) if e.id > c.last => {
                    c.last = e.id;
                    c.buffered.push_back(e);
                }
                Ok(Ok(_)) => {}
                // Fell behind the feed's buffer: read the rest from the store.
                Ok(Err(RecvError::Lagged(_))) => c.catch_up = true,
                // The job's pump is gone (it cannot be while this stream holds a
                // receiver, unless it failed): join a new one, then catch up.
                Ok(Err(RecvError::Closed)) => {
                    c.feed = c.feeds.subscribe(&c.job);
                    c.catch_up = true;
                }
                // Quiet for a while: a job that ended without a final event ends the
                // stream (one status query per stream per STATUS_LOOK, nothing else).
                Err(_) => c.catch_up = c.ended().await,
            }
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
