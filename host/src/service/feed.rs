//! One feed of job events per process: streams subscribe to a job, and one pump per
//! watched job reads its new events once and hands them to every stream of that job.
//! On Postgres the pumps are woken by `LISTEN planmap_job_events` (a trigger notifies
//! each committed event, whichever replica wrote it); on SQLite, which one process
//! owns, one ticker wakes the pumps. A stream never queries the store while it waits.

use crate::jobs::{Event, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// The channel the job-events trigger notifies (migration 0004).
pub const CHANNEL: &str = "planmap_job_events";
/// How often the SQLite ticker wakes the pumps: low enough to feel live, and one query
/// per watched job per tick, however many streams watch it.
const SQLITE_TICK: Duration = Duration::from_millis(200);
/// A pump also looks without being woken this often: a notification lost while the
/// listener reconnected costs at most this much delay.
const SAFETY_LOOK: Duration = Duration::from_secs(5);
/// Pause before the listener connects again after its connection failed.
const RELISTEN: Duration = Duration::from_secs(1);
/// Events a pump reads per query.
const BATCH: i64 = 500;
/// Events held for a slow stream before it falls behind and catches up from the store.
const FANOUT_BUFFER: usize = 1024;
/// Streams reading their history from the store at once: hundreds of streams opened
/// together would otherwise take every connection of the pool, and the API's own
/// calls (status, results) would wait behind them.
const CATCH_UPS_AT_ONCE: usize = 3;

/// An event as its streams send it, rendered once however many streams send it.
pub struct Rendered {
    pub id: i64,
    pub kind: String,
    /// The SSE `data:` text.
    pub data: String,
}

impl Rendered {
    pub fn of(e: Event) -> Rendered {
        let data = serde_json::json!({"kind": e.kind, "data": e.data, "at": e.created_at}).to_string();
        Rendered { id: e.id, kind: e.kind, data }
    }
}

struct Pump {
    events: broadcast::Sender<Arc<Rendered>>,
    wake: Arc<Notify>,
}

/// The process's feed.
pub struct Feed {
    store: Store,
    pumps: Mutex<HashMap<String, Pump>>,
    catch_ups: tokio::sync::Semaphore,
}

/// A stream's subscription to one job's new events.
pub struct Subscription {
    pub events: broadcast::Receiver<Arc<Rendered>>,
}

impl Feed {
    /// The feed, with its listener (Postgres) or ticker (SQLite) running.
    pub fn start(store: Store) -> Arc<Feed> {
        let feed = Arc::new(Feed { store: store.clone(), pumps: Mutex::new(HashMap::new()), catch_ups: tokio::sync::Semaphore::new(CATCH_UPS_AT_ONCE) });
        let weak = Arc::downgrade(&feed);
        match store {
            Store::Postgres(pool) => {
                tokio::spawn(async move {
                    loop {
                        match sqlx::postgres::PgListener::connect_with(&pool).await {
                            Ok(mut l) => match l.listen(CHANNEL).await {
                                Ok(()) => loop {
                                    let Some(feed) = weak.upgrade() else { return };
                                    match l.try_recv().await {
                                        Ok(Some(n)) => feed.poke(n.payload()),
                                        // The connection dropped and will be made again:
                                        // what was notified meanwhile is lost, so look.
                                        Ok(None) => feed.poke_all(),
                                        Err(e) => {
                                            tracing::warn!("event listener: {e}");
                                            break;
                                        }
                                    }
                                },
                                Err(e) => tracing::warn!("event listener: LISTEN failed: {e}"),
                            },
                            Err(e) => tracing::warn!("event listener: cannot connect: {e}"),
                        }
                        if weak.strong_count() == 0 {
                            return;
                        }
                        if let Some(feed) = weak.upgrade() {
                            feed.poke_all();
                        }
                        tokio::time::sleep(RELISTEN).await;
                    }
                });
            }
            Store::Sqlite(_) => {
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(SQLITE_TICK).await;
                        match weak.upgrade() {
                            Some(feed) => feed.poke_all(),
                            None => return,
                        }
                    }
                });
            }
        }
        feed
    }

    fn pumps(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pump>> {
        self.pumps.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn poke(&self, job: &str) {
        if let Some(p) = self.pumps().get(job) {
            p.wake.notify_one();
        }
    }

    fn poke_all(&self) {
        for p in self.pumps().values() {
            p.wake.notify_one();
        }
    }

    /// Subscribe to `job`'s events from now on. The caller then reads what it missed
    /// from the store and skips events it already has (by id): subscribing first means
    /// nothing falls between the two.
    pub fn subscribe(self: &Arc<Self>, job: &str) -> Subscription {
        let mut pumps = self.pumps();
        if let Some(p) = pumps.get(job) {
            return Subscription { events: p.events.subscribe() };
        }
        let (events, rx) = broadcast::channel(FANOUT_BUFFER);
        let wake = Arc::new(Notify::new());
        pumps.insert(job.to_string(), Pump { events: events.clone(), wake: wake.clone() });
        tokio::spawn(pump(self.clone(), job.to_string(), events, wake));
        Subscription { events: rx }
    }

    /// A turn to read a stream's history from the store (`CATCH_UPS_AT_ONCE`).
    pub async fn catch_up_turn(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.catch_ups.acquire().await.expect("the semaphore is never closed")
    }

    /// Jobs with a pump (streams open on them), for tests and metrics.
    pub fn watched(&self) -> usize {
        self.pumps().len()
    }
}

/// Read `job`'s new events whenever woken and hand them to its streams; ends when no
/// stream is left (removing itself under the lock subscribers take, so a new stream
/// either joins this pump or starts the next one).
async fn pump(feed: Arc<Feed>, job: String, events: broadcast::Sender<Arc<Rendered>>, wake: Arc<Notify>) {
    // Start from the newest event now: streams read anything older themselves.
    let mut last = loop {
        match feed.store.last_event_id(&job).await {
            Ok(id) => break id,
            Err(e) => {
                tracing::warn!(job = %job, "event feed: {e}");
                tokio::time::sleep(RELISTEN).await;
            }
        }
    };
    loop {
        let _ = tokio::time::timeout(SAFETY_LOOK, wake.notified()).await;
        {
            let mut pumps = feed.pumps();
            if events.receiver_count() == 0 {
                pumps.remove(&job);
                return;
            }
        }
        loop {
            match feed.store.events_after(&job, last, BATCH).await {
                Ok(batch) => {
                    let full = batch.len() as i64 == BATCH;
                    for e in batch {
                        last = e.id;
                        let _ = events.send(Arc::new(Rendered::of(e)));
                    }
                    if !full {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(job = %job, "event feed: {e}");
                    break;
                }
            }
        }
    }
}
