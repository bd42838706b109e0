//! Hundreds of event streams on one job: streams wait on the process's feed (Postgres
//! LISTEN/NOTIFY), not on the database, so status calls stay fast while they are open;
//! the job's ending is pushed to every stream, which then ends; and a caller over its
//! cap of open streams gets 429 naming the limit. (`planmap bench serve --streams`
//! measures them open on a job that is mapping, events flowing.)

use crate::service::server::*;
use crate::support::postgres::PgDb;
use futures::StreamExt;
use std::time::{Duration, Instant};

const STREAMS: usize = 400;
/// Status calls timed while the streams are open.
const STATUS_CALLS: usize = 200;

/// The p50 and p99 of `n` status calls on `job`, 10 ms apart.
async fn status_latency(api: &Api, job: &str, n: usize) -> (Duration, Duration) {
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let (code, _) = api.get(&format!("/api/agent/jobs/{job}")).await;
        took.push(t.elapsed());
        assert_eq!(code, 200);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    took.sort();
    (took[n / 2], took[n * 99 / 100])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn four_hundred_open_streams_leave_status_fast_and_all_see_the_end() {
    let db = PgDb::new().await;
    let cap = STREAMS.to_string();
    // API only: the job stays queued, so the streams stay open however fast a build maps.
    let settings = [("DATABASE_URL", db.url.as_str()), ("WORKERS", "0"), ("MAX_STREAMS_PER_CALLER", cap.as_str())];
    let server = Server::start(&settings);
    let api = Api::new(&server, Some(ACME_KEY));
    let (code, sub) = api.post("/api/agent/map-to-code", &small_job()).await;
    assert_eq!(code, 202, "{sub}");
    let job = sub["jobId"].as_str().unwrap().to_string();
    let (base50, base99) = status_latency(&api, &job, STATUS_CALLS).await;
    let url = format!("{}/api/agent/jobs/{job}/events", server.url);
    // The streams are read on a runtime of their own, in another thread: the status
    // calls below measure the service, not a client thread busy reading 400 streams.
    let (opened_tx, opened) = std::sync::mpsc::channel();
    let stream_url = url.clone();
    let readers = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let http = planmap::http::builder().pool_max_idle_per_host(STREAMS + 8).build().unwrap();
            let mut readers = Vec::new();
            for _ in 0..STREAMS {
                let r = http.get(&stream_url).bearer_auth(ACME_KEY).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
                readers.push(tokio::spawn(async move {
                    let mut body = r.bytes_stream();
                    let mut text = String::new();
                    while let Some(chunk) = body.next().await {
                        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                    }
                    text
                }));
            }
            opened_tx.send(()).unwrap();
            let mut texts = Vec::new();
            for r in readers {
                texts.push(tokio::time::timeout(Duration::from_secs(120), r).await.expect("every stream ends after the job").unwrap());
            }
            texts
        })
    });
    tokio::task::spawn_blocking(move || opened.recv().expect("the streams opened")).await.unwrap();
    let http = planmap::http::builder().build().unwrap();
    // The cap: one more stream for this caller is refused, naming the limit.
    let over = http.get(&url).bearer_auth(ACME_KEY).send().await.unwrap();
    assert_eq!(over.status().as_u16(), 429);
    assert!(over.headers().contains_key("retry-after"));
    let text = over.text().await.unwrap();
    assert!(text.contains("MAX_STREAMS_PER_CALLER"), "{text}");
    // Another caller is not affected by acme's streams.
    let other = http.get(&url).bearer_auth(GLOBEX_KEY).send().await.unwrap();
    assert_eq!(other.status().as_u16(), 404, "globex cannot see acme's job, but is not refused for acme's streams");

    let (p50, p99) = status_latency(&api, &job, STATUS_CALLS).await;
    eprintln!("status with {STREAMS} open streams: p50 {p50:?}, p99 {p99:?}; with none: p50 {base50:?}, p99 {base99:?}");
    assert!(p99 < Duration::from_millis(50), "status p99 {p99:?} with {STREAMS} streams open ({base99:?} with none)");

    // The ending is pushed to every stream, which then ends.
    let (code, v) = api.post(&format!("/api/agent/jobs/{job}/cancel"), &serde_json::json!({})).await;
    assert_eq!(code, 200, "{v}");
    let t = Instant::now();
    let texts = tokio::task::spawn_blocking(move || readers.join().unwrap()).await.unwrap();
    eprintln!("{} streams ended {:?} after the cancel", texts.len(), t.elapsed());
    for text in &texts {
        assert!(text.contains("event: job-submitted") && text.contains("event: job-finished"), "a stream missed an event: {text}");
    }
    // The slots come back when streams end.
    let again = http.get(&url).bearer_auth(ACME_KEY).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 200);
}
