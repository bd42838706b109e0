//! A Redis killed under a running service: jobs go on with the cache skipped (its
//! circuit opens after a few failures) at about the speed of a job that finds nothing
//! cached, not 10-50x slower, and `/ready` names the open circuit.

use crate::service::server::*;
use crate::support::services;
use std::time::{Duration, Instant};

async fn timed_job(api: &Api) -> Duration {
    let t = Instant::now();
    let (code, sub) = api.post("/api/agent/map-to-code", &small_job()).await;
    assert_eq!(code, 202, "{sub}");
    let done = api.wait(sub["jobId"].as_str().unwrap(), Duration::from_secs(300)).await;
    assert_eq!(done["status"], "completed", "{done}");
    t.elapsed()
}

#[tokio::test]
async fn a_killed_redis_costs_jobs_no_more_than_twice_their_time_and_ready_names_it() {
    let mut redis = services::private_redis();
    let server = Server::start(&[("REDIS_URL", redis.url.as_str()), ("RATE_LIMIT_PER_MINUTE", "0")]);
    let api = Api::new(&server, Some(ACME_KEY));
    // The first job builds the repository context (nothing cached yet): what a job
    // costs when the cache cannot help.
    let cold = timed_job(&api).await;
    let warm = timed_job(&api).await;
    redis.stop();
    let mut dead = Vec::new();
    for _ in 0..3 {
        dead.push(timed_job(&api).await);
    }
    let worst = *dead.iter().max().unwrap();
    eprintln!("with Redis: cold {cold:?}, warm {warm:?}; Redis killed: {dead:?}");
    assert!(worst <= cold * 2 + Duration::from_millis(500), "a job with Redis dead took {worst:?}, against {cold:?} with it");
    let (_, ready) = api.get("/api/agent/ready").await;
    let circuit = ready["circuits"].as_array().unwrap().iter().find(|c| c["backend"] == "redis").cloned().unwrap_or_default();
    assert!(["open", "half-open"].contains(&circuit["state"].as_str().unwrap_or("")), "{ready}");
}
