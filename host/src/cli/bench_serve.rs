//! `planmap bench serve`: the service under concurrent load. Starts one `planmap serve`
//! (this binary) on the given store, submits N small jobs at once, polls every job's
//! status until all are done, and reports throughput and the p50/p99 latency of the
//! submit and status calls (target: status p99 < 50 ms).

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// The API key the benchmark's server accepts (it exists only in that process).
const BENCH_KEY: &str = "bench-key-0123456789abcdef";
/// Pause between one job's status polls, as a UI would poll.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// Longest the whole run may take before it is reported as failed.
const RUN_LIMIT: Duration = Duration::from_secs(600);

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

pub struct Args {
    pub database_url: String,
    pub jobs: usize,
    pub workers: usize,
    pub plan: PathBuf,
    pub repo: PathBuf,
}

pub async fn run(a: Args) -> anyhow::Result<ExitCode> {
    let plan = std::fs::read_to_string(&a.plan).map_err(|e| anyhow::anyhow!("{}: {e}", a.plan.display()))?;
    let repo = std::fs::canonicalize(&a.repo).map_err(|e| anyhow::anyhow!("{}: {e}", a.repo.display()))?;
    let exe = std::env::current_exe()?;
    let clones = std::env::temp_dir().join(format!("planmap-bench-serve-{}", std::process::id()));
    let mut child = tokio::process::Command::new(exe)
        .arg("serve")
        .env("DATABASE_URL", &a.database_url)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("API_KEYS", format!("bench:{BENCH_KEY}"))
        .env("REPO_ALLOW_LOCAL", "true")
        .env("RATE_LIMIT_PER_MINUTE", "0")
        .env("WORKERS", a.workers.to_string())
        .env("LOG_LEVEL", "warn")
        .env("REPO_CLONE_DIR", &clones)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let url = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await.map_err(|_| anyhow::anyhow!("the server did not start"))??.ok_or_else(|| anyhow::anyhow!("the server exited"))?;
    let base = url.rsplit(' ').next().unwrap_or_default().to_string();
    println!("server: {base} (store {}, {} workers)", crate::jobs::store::redact(&a.database_url), a.workers);
    let http = crate::http::builder().pool_max_idle_per_host(a.jobs).build()?;
    let body = Arc::new(serde_json::json!({"repoUrl": repo.display().to_string(), "plan": plan}));
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..a.jobs {
        let (http, base, body) = (http.clone(), base.clone(), body.clone());
        tasks.spawn(async move {
            let t = Instant::now();
            let r = http.post(format!("{base}/api/agent/map-to-code")).bearer_auth(BENCH_KEY).header("idempotency-key", format!("bench-{i}")).json(&*body).send().await?;
            let submit = t.elapsed();
            anyhow::ensure!(r.status().as_u16() == 202, "submit {i}: {}", r.status());
            let v: serde_json::Value = r.json().await?;
            let id = v["jobId"].as_str().unwrap_or_default().to_string();
            let mut status_times = Vec::new();
            loop {
                let t = Instant::now();
                let r = http.get(format!("{base}/api/agent/jobs/{id}")).bearer_auth(BENCH_KEY).send().await?;
                anyhow::ensure!(r.status().is_success(), "status {id}: {}", r.status());
                let v: serde_json::Value = r.json().await?;
                status_times.push(t.elapsed());
                match v["status"].as_str() {
                    Some("completed") => return Ok((submit, status_times, Instant::now())),
                    Some("failed") | Some("cancelled") => anyhow::bail!("job {id} ended {}: {}", v["status"], v["error"]),
                    _ => tokio::time::sleep(POLL_EVERY).await,
                }
            }
        });
    }
    let mut submits = Vec::new();
    let mut statuses = Vec::new();
    let mut last = t0;
    let mut failures = Vec::new();
    let all = tokio::time::timeout(RUN_LIMIT, async {
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(Ok((s, st, end))) => {
                    submits.push(s);
                    statuses.extend(st);
                    last = last.max(end);
                }
                Ok(Err(e)) => failures.push(e.to_string()),
                Err(e) => failures.push(e.to_string()),
            }
        }
    })
    .await;
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&clones);
    if all.is_err() {
        anyhow::bail!("not every job finished within {} s", RUN_LIMIT.as_secs());
    }
    submits.sort();
    statuses.sort();
    let wall = last.duration_since(t0).as_secs_f64();
    println!("jobs: {} submitted at once, {} completed, {} failed, in {:.2} s ({:.1} jobs/s)", a.jobs, submits.len(), failures.len(), wall, submits.len() as f64 / wall.max(1e-9));
    println!("submit: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} calls)", percentile(&submits, 0.5), percentile(&submits, 0.99), percentile(&submits, 1.0), submits.len());
    println!("status: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} calls; target p99 < 50 ms)", percentile(&statuses, 0.5), percentile(&statuses, 0.99), percentile(&statuses, 1.0), statuses.len());
    for f in failures.iter().take(5) {
        println!("failure: {f}");
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
