//! SIGTERM with a job mapping and an event stream open: the stream ends at once (the
//! client reconnects elsewhere), the job is released, and the process exits within
//! SHUTDOWN_GRACE_SECONDS, not seconds after it.

use crate::service::server::*;
use futures::StreamExt;
use std::time::{Duration, Instant};

const GRACE_SECONDS: u64 = 2;
/// What exiting may take beyond the grace period (the process's own teardown).
const SLACK: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_streams_and_stays_within_its_grace_period() {
    let grace = GRACE_SECONDS.to_string();
    let mut server = Server::start(&[("WORKERS", "1"), ("MAX_PARALLEL_NODES", "1"), ("SHUTDOWN_GRACE_SECONDS", grace.as_str())]);
    let api = Api::new(&server, Some(ACME_KEY));
    let (code, sub) = api.post("/api/agent/map-to-code", &large_job(4000)).await;
    assert_eq!(code, 202, "{sub}");
    let job = sub["jobId"].as_str().unwrap().to_string();
    let t = Instant::now();
    loop {
        let (_, v) = api.get(&format!("/api/agent/jobs/{job}")).await;
        // Mapping, nodes done: the job is in its steps (not in a long synchronous phase).
        if v["stage"] == "map" && v["progress"]["nodesDone"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert!(v["status"] != "completed", "the job finished before the shutdown: {v}");
        assert!(t.elapsed() < Duration::from_secs(300), "the job never reached mapping: {v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let http = planmap::http::builder().build().unwrap();
    let r = http.get(format!("{}/api/agent/jobs/{job}/events", server.url)).bearer_auth(ACME_KEY).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let stream = tokio::spawn(async move {
        let mut body = r.bytes_stream();
        while let Some(Ok(_)) = body.next().await {}
        Instant::now()
    });
    let t = Instant::now();
    let exited = tokio::task::spawn_blocking(move || {
        let ok = server.terminate(Duration::from_secs(60));
        (ok, server.log_text())
    })
    .await
    .unwrap();
    let took = t.elapsed();
    let (ok, log) = exited;
    assert!(ok, "a clean exit; log:\n{log}");
    let stream_ended = tokio::time::timeout(Duration::from_secs(5), stream).await.expect("the stream ended").unwrap();
    eprintln!("SIGTERM to exit {took:?} (grace {GRACE_SECONDS} s); stream ended {:?} after SIGTERM", stream_ended.duration_since(t));
    assert!(took <= Duration::from_secs(GRACE_SECONDS) + SLACK, "exit took {took:?} with a {GRACE_SECONDS} s grace period");
    assert!(log.contains("released for another worker"), "the job in hand was given back");
}
