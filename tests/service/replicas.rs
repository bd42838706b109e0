//! Several `planmap serve` processes on one Postgres: a replica killed with SIGKILL
//! mid-job has its job finished by another from the checkpoints (no node mapped twice);
//! SIGTERM releases the job in hand for another replica; and fifty jobs spread over two
//! replicas each run exactly once.

use super::server::*;
use crate::support::postgres::PgDb;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Nodes of the generated plan used to have a job to interrupt: long enough in a debug
/// build that the mapping stage is seen running before it ends.
const LONG_PLAN_NODES: usize = 1500;

/// Wait until the job is in its mapping stage with some nodes done.
async fn wait_mapping(api: &Api, job: &str) -> Value {
    let t = Instant::now();
    loop {
        let (_, v) = api.get(&format!("/api/agent/jobs/{job}")).await;
        let done = v["progress"]["nodesDone"].as_i64().unwrap_or(0);
        if v["stage"] == "map" && done > 0 {
            return v;
        }
        assert!(v["status"] != "completed", "the job finished before it could be interrupted; raise LONG_PLAN_NODES: {v}");
        assert!(t.elapsed() < Duration::from_secs(300), "the job never reached mapping: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Start a replica with `settings`, submit the long job to it and wait until it is
/// mapping: the replica, the job id and its status at that moment.
async fn long_job_in_progress(settings: &[(&str, &str)]) -> (Server, String, Value) {
    let a = Server::start(settings);
    let api = Api::new(&a, Some(ACME_KEY));
    let (code, sub) = api.post("/api/agent/map-to-code", &large_job(LONG_PLAN_NODES)).await;
    assert_eq!(code, 202, "{sub}");
    let job = sub["jobId"].as_str().unwrap().to_string();
    let status = wait_mapping(&api, &job).await;
    (a, job, status)
}

/// Check the finished job: complete results, each code-owned node announced once.
async fn check_complete(api: &Api, job: &str) -> Vec<(i64, String, Value)> {
    let done = api.wait(job, Duration::from_secs(600)).await;
    assert_eq!(done["status"], "completed", "{done}");
    let nodes = done["progress"]["nodesTotal"].as_u64().unwrap();
    assert!(nodes as usize > LONG_PLAN_NODES * 9 / 10, "{done}");
    let (_, maps) = api.get(&format!("/api/agent/jobs/{job}/mappings?limit=1")).await;
    assert_eq!(maps["page"]["total"].as_u64(), Some(nodes), "every node has a result");
    let events = api.events(job, None).await;
    let mut per_node: HashMap<String, usize> = HashMap::new();
    for (_, kind, data) in &events {
        if kind == "node-mapped" {
            *per_node.entry(data["dagNodeId"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    let twice: Vec<_> = per_node.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "nodes mapped twice: {twice:?}");
    let mut owned = 0usize;
    let mut offset = 0;
    loop {
        let (_, page) = api.get(&format!("/api/agent/jobs/{job}/mappings?limit=1000&offset={offset}")).await;
        owned += page["mappings"].as_array().unwrap().iter().filter(|m| m["ownership"] == "owned").count();
        match page["page"]["nextOffset"].as_i64() {
            Some(n) => offset = n,
            None => break,
        }
    }
    assert_eq!(per_node.len(), owned, "each code-owned node was mapped (once)");
    events
}

#[tokio::test]
async fn a_replica_killed_mid_job_has_its_job_finished_by_another_without_redoing_nodes() {
    let db = PgDb::new().await;
    let settings = [("DATABASE_URL", db.url.as_str()), ("WORKERS", "1"), ("MAX_PARALLEL_NODES", "1"), ("JOB_LEASE_SECONDS", "3")];
    let (mut a, job, before) = long_job_in_progress(&settings).await;
    a.kill9();
    let b = Server::start(&settings);
    let api_b = Api::new(&b, Some(ACME_KEY));
    let events = check_complete(&api_b, &job).await;
    let leases: Vec<&Value> = events.iter().filter(|(_, k, _)| k == "job-leased").map(|(_, _, d)| d).collect();
    assert_eq!(leases.len(), 2, "leased by the killed replica, then once by the survivor: {leases:?}");
    assert_eq!(leases[1]["takeover"], true);
    assert_ne!(leases[0]["worker"], leases[1]["worker"]);
    let resumed = events.iter().find(|(_, k, _)| k == "resumed").map(|(_, _, d)| d.clone()).expect("the survivor resumed from checkpoints");
    assert!(resumed["firstPass"].as_u64().unwrap() + resumed["finished"].as_u64().unwrap() > 0, "{resumed} (progress when killed: {before})");
    let metrics = planmap::http::builder().build().unwrap().get(format!("{}/metrics", b.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("planmap_lease_takeovers_total ") && !l.ends_with(" 0")), "takeover counted");
}

#[tokio::test]
async fn sigterm_releases_the_job_in_hand_and_another_replica_resumes_it() {
    let db = PgDb::new().await;
    let settings = [("DATABASE_URL", db.url.as_str()), ("WORKERS", "1"), ("MAX_PARALLEL_NODES", "1"), ("SHUTDOWN_GRACE_SECONDS", "0")];
    let (mut a, job, _) = long_job_in_progress(&settings).await;
    assert!(a.terminate(Duration::from_secs(60)), "a clean exit; log:\n{}", a.log_text());
    // Released, not failed and not left to a lease expiry: queued again at once.
    let b = Server::start(&settings);
    let api_b = Api::new(&b, Some(ACME_KEY));
    let events = check_complete(&api_b, &job).await;
    assert!(events.iter().any(|(_, k, _)| k == "released"), "the job was released on shutdown");
    let leases: Vec<&Value> = events.iter().filter(|(_, k, _)| k == "job-leased").map(|(_, _, d)| d).collect();
    assert_eq!(leases.len(), 2);
    assert_eq!(leases[1]["takeover"], false, "a released job is leased normally, not taken over");
    assert!(a.log_text().contains("released for another worker"));
}

#[tokio::test]
async fn two_replicas_share_fifty_jobs_and_run_each_exactly_once() {
    let db = PgDb::new().await;
    let redis = crate::support::services::redis();
    let settings = [("DATABASE_URL", db.url.as_str()), ("WORKERS", "2"), ("REDIS_URL", redis.url.as_str()), ("RATE_LIMIT_PER_MINUTE", "0")];
    let a = Server::start(&settings);
    let b = Server::start(&settings);
    let apis = [Api::new(&a, Some(ACME_KEY)), Api::new(&b, Some(GLOBEX_KEY))];
    let mut jobs = Vec::new();
    for i in 0..50 {
        let api = &apis[i % 2];
        let (code, sub) = api.post("/api/agent/map-to-code", &small_job()).await;
        assert_eq!(code, 202, "{sub}");
        jobs.push((i % 2, sub["jobId"].as_str().unwrap().to_string()));
    }
    let mut workers = HashSet::new();
    for (which, job) in &jobs {
        let api = &apis[*which];
        let done = api.wait(job, Duration::from_secs(300)).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["attempts"], 1, "run once: {done}");
        let leases: Vec<Value> = api.events(job, None).await.into_iter().filter(|(_, k, _)| k == "job-leased").map(|(_, _, d)| d).collect();
        assert_eq!(leases.len(), 1, "job {job} leased {} times", leases.len());
        workers.insert(leases[0]["worker"].as_str().unwrap().to_string());
    }
    assert_eq!(workers.len(), 2, "both replicas did work: {workers:?}");
}
