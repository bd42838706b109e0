//! The worker pool inside `planmap serve`: a few loops that lease jobs from the store
//! and run them. Shutdown is graceful in two steps: stop leasing, let the jobs in hand
//! finish within the grace period, then release the rest (queued again, checkpoints
//! kept) so another replica resumes them without redoing finished nodes.

use crate::jobs::Runner;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// How long an idle worker waits before asking the store again (a local submission
/// wakes it at once; this bounds the delay for jobs submitted to another replica).
pub const IDLE_POLL: Duration = Duration::from_millis(500);
/// How often the queue-depth gauge is refreshed from the store.
const QUEUE_GAUGE_EVERY: Duration = Duration::from_secs(5);
/// How long a completed job's checkpoints are kept (for an operator looking at a job
/// that just ended) before the store prunes them; they resume nothing.
const CHECKPOINT_RETENTION: Duration = Duration::from_secs(600);
/// Prune every this many queue-gauge rounds (once a minute).
const PRUNE_EVERY_ROUNDS: u32 = 12;
/// Longest pause after the store fails, so a database outage is not hammered.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// The part of the grace period kept for releasing the jobs still running (a release is
/// one statement per job): at most this, and at most half the period.
const RELEASE_RESERVE: Duration = Duration::from_secs(3);
/// Least time for releasing when the grace period is zero or nearly so.
const RELEASE_MIN: Duration = Duration::from_millis(500);

/// A running pool.
pub struct Workers {
    tasks: JoinSet<()>,
    /// true: take no new jobs.
    stop: watch::Sender<bool>,
    /// true: give back the jobs in hand.
    release: watch::Sender<bool>,
}

async fn until_true(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone: treat it as set.
    let _ = rx.wait_for(|v| *v).await;
}

impl Workers {
    /// Start `n` workers (and the queue gauge) on `runner`; `wake` is notified on each
    /// local submission.
    pub fn start(runner: Arc<Runner>, n: usize, wake: Arc<Notify>) -> Workers {
        let (stop, stop_rx) = watch::channel(false);
        let (release, release_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for i in 0..n {
            let (runner, wake, stop_rx, release_rx) = (runner.clone(), wake.clone(), stop_rx.clone(), release_rx.clone());
            tasks.spawn(async move {
                let mut backoff = Duration::from_millis(250);
                while !*stop_rx.borrow() {
                    match runner.run_once_until(until_true(release_rx.clone())).await {
                        Ok(Some(job)) => {
                            backoff = Duration::from_millis(250);
                            tracing::info!(worker = i, job = %job.id, status = %job.status, "job run ended");
                        }
                        Ok(None) => {
                            tokio::select! {
                                _ = tokio::time::sleep(IDLE_POLL) => {}
                                _ = wake.notified() => {}
                                _ = until_true(stop_rx.clone()) => {}
                            }
                        }
                        Err(e) => {
                            tracing::error!(worker = i, "job store error: {e}");
                            tokio::select! {
                                _ = tokio::time::sleep(backoff) => {}
                                _ = until_true(stop_rx.clone()) => {}
                            }
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
            });
        }
        let (store, stop_rx) = (runner.store.clone(), stop_rx.clone());
        tasks.spawn(async move {
            let mut round = 0u32;
            while !*stop_rx.borrow() {
                if let Ok(n) = store.queued().await {
                    crate::metrics::set_queue_depth(n);
                }
                if round % PRUNE_EVERY_ROUNDS == 0 {
                    let before = crate::jobs::store::now_ms() - CHECKPOINT_RETENTION.as_millis() as i64;
                    match store.prune_checkpoints(before).await {
                        Ok(n) if n > 0 => tracing::info!(rows = n, "pruned the checkpoints of completed jobs"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("pruning checkpoints: {e}"),
                    }
                }
                round = round.wrapping_add(1);
                tokio::select! {
                    _ = tokio::time::sleep(QUEUE_GAUGE_EVERY) => {}
                    _ = until_true(stop_rx.clone()) => {}
                }
            }
        });
        Workers { tasks, stop, release }
    }

    /// Stop taking jobs; let the jobs in hand finish, then release the rest, all within
    /// `grace` (releasing is given the end of it, see `RELEASE_RESERVE`).
    pub async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let reserve = RELEASE_RESERVE.min(grace / 2);
        let drained = tokio::time::timeout(grace - reserve, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::info!("grace period over: releasing the jobs still running");
            let _ = self.release.send(true);
            if tokio::time::timeout(reserve.max(RELEASE_MIN), async { while self.tasks.join_next().await.is_some() {} }).await.is_err() {
                tracing::warn!("some jobs could not be released in time; their leases will expire and another worker resumes them");
                self.tasks.abort_all();
            }
        }
    }
}
