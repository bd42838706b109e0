//! Twenty 30 MiB event-log submissions at once from one tenant: memory stays bounded by
//! the plan budget and the per-tenant limit (peak RSS of the process, from
//! /proc/PID/status VmHWM, under 1 GiB), every submission over a limit is answered 429
//! naming it, and every one is accepted on retry: nothing is lost.

use crate::service::server::*;
use std::time::{Duration, Instant};

const SUBMISSIONS: usize = 20;
const PLAN_MIB: usize = 30;
const PEAK_RSS_LIMIT_KIB: u64 = 1 << 20;

/// A real event log (a fixture) grown to `mib` MiB with task-end events of its stages,
/// one line each, as a busy application's log is.
fn big_event_log(mib: usize) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let log = std::fs::read_to_string(root.join("plans/shared/eventlogs/spark-3.5.5-python-udf/python_udf_eventlog")).unwrap_or_else(|_| {
        let dir = root.join("plans");
        panic!("the event-log fixture is missing under {}", dir.display())
    });
    let task = log.lines().find(|l| l.contains("\"SparkListenerTaskEnd\"")).expect("the fixture has task events").to_string();
    let mut out = String::with_capacity(mib << 20);
    let (head, tail) = log.split_at(log.find("\"SparkListenerTaskEnd\"").map(|i| log[..i].rfind('\n').map_or(0, |n| n + 1)).unwrap());
    out.push_str(head);
    while out.len() + tail.len() < mib << 20 {
        out.push_str(&task);
        out.push('\n');
    }
    out.push_str(tail);
    out
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).expect("VmHWM in /proc/PID/status")
}

#[tokio::test]
async fn twenty_concurrent_30_mib_submissions_stay_under_a_gib_and_none_is_lost() {
    let server = Server::start(&[("WORKERS", "0"), ("RATE_LIMIT_PER_MINUTE", "0"), ("MAX_BODY_BYTES", "67108864")]);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/spark");
    let body = std::sync::Arc::new(serde_json::to_vec(&serde_json::json!({"repoUrl": repo.display().to_string(), "plan": big_event_log(PLAN_MIB)})).unwrap());
    let before = peak_rss_kib(server.pid());
    let http = planmap::http::builder().build().unwrap();
    let url = format!("{}/api/agent/map-to-code", server.url);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..SUBMISSIONS {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut refusals = Vec::new();
            loop {
                let r = http.post(&url).bearer_auth(ACME_KEY).header("content-type", "application/json").header("idempotency-key", format!("big-{i}")).body(body.as_ref().clone()).send().await.unwrap();
                let code = r.status().as_u16();
                let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                let text = r.text().await.unwrap();
                match code {
                    202 => return (serde_json::from_str::<serde_json::Value>(&text).unwrap()["jobId"].as_str().unwrap().to_string(), refusals),
                    429 => {
                        assert!(text.contains("MAX_SUBMISSIONS_PER_TENANT") || text.contains("MAX_PLAN_BYTES_IN_FLIGHT"), "a 429 names its limit: {text}");
                        refusals.push(text);
                        tokio::time::sleep(Duration::from_millis(200 * wait.unwrap_or(1).min(2))).await;
                    }
                    other => panic!("submission {i}: {other} {text}"),
                }
            }
        }));
    }
    let mut jobs = std::collections::HashSet::new();
    let mut refused = 0;
    for t in tasks {
        let (job, refusals) = t.await.unwrap();
        refused += refusals.len();
        jobs.insert(job);
    }
    let peak = peak_rss_kib(server.pid());
    eprintln!("{SUBMISSIONS} x {PLAN_MIB} MiB: all accepted in {:?} after {refused} refusals; peak RSS {} MiB (before {} MiB)", t.elapsed(), peak >> 10, before >> 10);
    assert_eq!(jobs.len(), SUBMISSIONS, "every submission became its own job");
    assert!(refused > 0, "the limits were reached");
    assert!(peak < PEAK_RSS_LIMIT_KIB, "peak RSS {} MiB", peak >> 10);
    // Each job kept its plan (as a stored upload, not in the request).
    let api = Api::new(&server, Some(ACME_KEY));
    for job in &jobs {
        let (code, v) = api.get(&format!("/api/agent/jobs/{job}")).await;
        assert_eq!((code, v["status"].as_str()), (200, Some("queued")), "{v}");
    }
}
