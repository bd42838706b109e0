//! `planmap bench serve`: the service under concurrent load. Starts one `planmap serve`
//! (this binary) on the given store, submits N small jobs at once, polls every job's
//! status until all are done, and reports throughput and the p50/p99 latency of the
//! submit and status calls (target: status p99 < 50 ms). Optionally with event
//! streams held open on a job (`--streams`), and once more with vector retrieval on
//! (`--chroma-url`: a real Chroma, embeddings from a local OpenAI-compatible endpoint
//! with a remote API's delay), reporting the throughput kept (target: at least 80 %).

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
    pub streams: usize,
    pub chroma_url: Option<String>,
    pub embedding_latency: Duration,
}

/// Dimensions of the local endpoint's embeddings.
const EMBEDDING_DIMS: usize = 256;

/// What one load run measured.
struct Outcome {
    jobs_per_sec: f64,
    ok: bool,
}

pub async fn run(a: Args) -> anyhow::Result<ExitCode> {
    let Some(chroma) = a.chroma_url.clone() else {
        let o = load(&a, &[]).await?;
        return Ok(if o.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    };
    println!("## without vectors");
    let plain = load(&a, &[]).await?;
    let (embeddings, requests) = embeddings_endpoint(a.embedding_latency).await?;
    println!("## with Chroma ({chroma}) and embeddings ({embeddings}, {} ms a request)", a.embedding_latency.as_millis());
    // The same endpoint configures the chat model; a zero budget keeps it out of the
    // run (no call is made), so what is compared is retrieval with and without vectors.
    let env = [("CHROMA_URL", chroma.as_str()), ("OPENAI_BASE_URL", embeddings.as_str()), ("OPENAI_API_KEY", "sk-bench-local"), ("EMBEDDING_MODEL", "bench-hash"), ("MAX_JOB_COST_USD", "0")];
    let vectors = load(&a, &env).await?;
    println!(
        "vectors: {:.1} jobs/s against {:.1} without: {:.0} % kept (target >= 80 %); {} embedding requests",
        vectors.jobs_per_sec,
        plain.jobs_per_sec,
        100.0 * vectors.jobs_per_sec / plain.jobs_per_sec.max(1e-9),
        requests.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(if plain.ok && vectors.ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// An OpenAI-compatible `POST /embeddings` on a free loopback port: hashed word
/// vectors after `latency` (a remote API's round trip); counts its requests.
async fn embeddings_endpoint(latency: Duration) -> anyhow::Result<(String, Arc<std::sync::atomic::AtomicUsize>)> {
    use axum::routing::post;
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = requests.clone();
    let app = axum::Router::new().route(
        "/v1/embeddings",
        post(move |axum::Json(req): axum::Json<serde_json::Value>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(latency).await;
                let inputs: Vec<String> = req["input"].as_array().map(|a| a.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()).unwrap_or_default();
                let data: Vec<serde_json::Value> = inputs.iter().enumerate().map(|(i, t)| serde_json::json!({"object": "embedding", "index": i, "embedding": hashed_words(t)})).collect();
                axum::Json(serde_json::json!({"object": "list", "data": data, "model": req["model"], "usage": {"prompt_tokens": inputs.len(), "total_tokens": inputs.len()}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/v1"), requests))
}

/// A bag of hashed words: texts that share words are near.
fn hashed_words(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; EMBEDDING_DIMS];
    for w in text.split(|c: char| !c.is_alphanumeric() && c != '_').filter(|w| w.len() > 1) {
        let h = w.to_ascii_lowercase().bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
        v[(h % EMBEDDING_DIMS as u64) as usize] += 1.0;
    }
    v
}

/// One load run against a fresh server with `extra` settings.
async fn load(a: &Args, extra: &[(&str, &str)]) -> anyhow::Result<Outcome> {
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
        .env("MAX_STREAMS_PER_CALLER", (a.streams + 8).to_string())
        // Like the rate limit, the per-tenant limit is off: this measures throughput.
        .env("MAX_SUBMISSIONS_PER_TENANT", a.jobs.max(1).to_string())
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let url = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await.map_err(|_| anyhow::anyhow!("the server did not start"))??.ok_or_else(|| anyhow::anyhow!("the server exited"))?;
    let base = url.rsplit(' ').next().unwrap_or_default().to_string();
    println!("server: {base} (store {}, {} workers)", crate::jobs::store::redact(&a.database_url), a.workers);
    let http = crate::http::builder().pool_max_idle_per_host(a.jobs + a.streams).build()?;
    let body = Arc::new(serde_json::json!({"repoUrl": repo.display().to_string(), "plan": plan}));
    // Keys of this run only: a second run on the same store makes new jobs.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let t0 = Instant::now();
    let stream_job: Arc<tokio::sync::OnceCell<tokio::task::JoinSet<anyhow::Result<()>>>> = Arc::new(tokio::sync::OnceCell::new());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..a.jobs {
        let (http, base, body, run, streamed) = (http.clone(), base.clone(), body.clone(), run.clone(), stream_job.clone());
        // On the last job submitted: it is leased last, so its streams stay open while the
        // others run.
        let streams = if i + 1 == a.jobs { a.streams } else { 0 };
        tasks.spawn(async move {
            let t = Instant::now();
            let r = http.post(format!("{base}/api/agent/map-to-code")).bearer_auth(BENCH_KEY).header("idempotency-key", format!("bench-{run}-{i}")).json(&*body).send().await?;
            let submit = t.elapsed();
            anyhow::ensure!(r.status().as_u16() == 202, "submit {i}: {}", r.status());
            let v: serde_json::Value = r.json().await?;
            let id = v["jobId"].as_str().unwrap_or_default().to_string();
            if streams > 0 {
                streamed.set(open_streams(&http, &base, &id, streams).await?).ok();
            }
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
    if a.streams > 0 {
        println!("streams: {} held open on the last job submitted during the run", a.streams);
    }
    drop(stream_job);
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
    Ok(Outcome { jobs_per_sec: submits.len() as f64 / wall.max(1e-9), ok: failures.is_empty() })
}

/// Open `n` event streams on `job`, each read to its end by a task of the returned set.
async fn open_streams(http: &reqwest::Client, base: &str, job: &str, n: usize) -> anyhow::Result<tokio::task::JoinSet<anyhow::Result<()>>> {
    use futures::StreamExt;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let r = http.get(format!("{base}/api/agent/jobs/{job}/events")).bearer_auth(BENCH_KEY).send().await?;
        anyhow::ensure!(r.status().is_success(), "stream on {job}: {}", r.status());
        set.spawn(async move {
            let mut body = r.bytes_stream();
            while let Some(chunk) = body.next().await {
                chunk?;
            }
            Ok(())
        });
    }
    Ok(set)
}
