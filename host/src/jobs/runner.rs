//! Runs leased jobs to the end: plan, repository, mapping, results — with progress
//! events, a heartbeat that keeps the lease (a job whose lease is lost stops at once),
//! and failures recorded on the job rather than lost.

use super::store::{CheckpointWrite, Fence, Finish, JobRow, Store, StoreError, STEP_PASS_OFFSET};
use crate::capabilities::Backends;
use crate::mapping::{self, Job, Thresholds};
use crate::pipeline::RunContext;
use crate::plan::{self, ParseOptions, PlanFormat, PlanInput};
use crate::repo::{self, RepoPolicy, RepoSpec};
use crate::snapshot::Registry;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Progress events are written at most once per this many mapped nodes (plus the last),
/// so a 5,000-node plan does not write 10,000 rows of progress.
const PROGRESS_EVERY: usize = 25;

/// Jobs waiting beyond which a job runs without its graph's shadow variants.
const SHADOW_SKIP_QUEUE: i64 = 10;

/// Checkpoint passes: after the first mapping pass, and when a node is finished; a
/// node's walk between graph steps is saved as its pass plus `STEP_PASS_OFFSET`.
const FIRST_PASS: i64 = 1;
const FINAL_PASS: i64 = 2;
const FIRST_STEPS: i64 = FIRST_PASS + STEP_PASS_OFFSET;
const FINAL_STEPS: i64 = FINAL_PASS + STEP_PASS_OFFSET;

/// Most notes the checkpoint writer takes in one transaction: step states of one node
/// replace each other, so under load the writer saves only the latest.
const MAX_NOTES_PER_WRITE: usize = 512;
/// How long the writer gathers notes before a write: a graph step of a batch takes a few
/// milliseconds, so this turns several steps into one transaction (and one node's
/// consecutive step states into one row write) at the price of a node-mapped event
/// arriving up to this much later.
const WRITE_WINDOW: Duration = Duration::from_millis(25);
/// Pause before the writer tries a failed write again (the store is down or
/// restarting): its notes are kept, never dropped, until the lease is lost.
const WRITE_RETRY: Duration = Duration::from_millis(500);
/// Pause before a failed heartbeat is tried again: several tries fit in the slack
/// between beats (a beat is due each third of the lease).
const HEARTBEAT_RETRY: Duration = Duration::from_millis(500);
/// Runs of a job that ended on a job-store failure before the job is failed instead
/// of given back again (a failure that repeats is not an outage).
const MAX_STORE_ATTEMPTS: i64 = 5;

/// What the mapper tells the job's writer task.
enum Note {
    Progress(usize, usize),
    Checkpoint(String, i64, State),
}

/// A checkpoint's state. A walk is turned into JSON by the writer, and only when no
/// later step of the same node replaces it, so the mapping itself never serialises.
enum State {
    Json(Value),
    Walk(Box<crate::pipeline::SavedWalk>),
}

impl State {
    fn into_json(self) -> Value {
        match self {
            State::Json(v) => v,
            State::Walk(w) => json!({ "walk": w }),
        }
    }
}

/// The resume state a job's checkpoints describe (unreadable ones are redone).
fn resume_from(checkpoints: Vec<super::store::Checkpoint>) -> mapping::Resume {
    let mut r = mapping::Resume::default();
    for c in checkpoints {
        match c.pass {
            FIRST_PASS => {
                if let Ok(answer) = serde_json::from_value::<Option<mapping::FirstAnswer>>(c.state["answer"].clone()) {
                    r.first.insert(c.node_id, answer);
                }
            }
            FINAL_PASS => {
                if let Ok(m) = serde_json::from_value::<mapping::Mapping>(c.state["mapping"].clone()) {
                    r.done.insert(c.node_id, m);
                }
            }
            FIRST_STEPS | FINAL_STEPS => {
                if let Ok(w) = serde_json::from_value::<crate::pipeline::SavedWalk>(c.state["walk"].clone()) {
                    let steps = if c.pass == FIRST_STEPS { &mut r.first_steps } else { &mut r.final_steps };
                    steps.insert(c.node_id, w);
                }
            }
            _ => {}
        }
    }
    r
}

/// The checkpoints a batch of notes asks for, in order: a node's step state is dropped
/// when a later note in the batch replaces it (a newer step, or the pass's end).
fn checkpoint_writes(notes: Vec<(String, i64, State)>) -> Vec<CheckpointWrite> {
    let mut latest: HashMap<(String, i64), usize> = HashMap::new();
    let mut keep = vec![true; notes.len()];
    for (i, (node, pass, _)) in notes.iter().enumerate() {
        // A step state replaces the node's earlier one of its pass; a pass's own
        // checkpoint replaces both of its step states.
        let replaced: &[i64] = if *pass >= STEP_PASS_OFFSET { std::slice::from_ref(pass) } else { &[FIRST_STEPS, FINAL_STEPS] };
        for &p in replaced {
            if let Some(j) = latest.remove(&(node.clone(), p)) {
                keep[j] = false;
            }
        }
        if *pass >= STEP_PASS_OFFSET {
            latest.insert((node.clone(), *pass), i);
        }
    }
    notes
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|((node, pass, state), _)| {
            let state = state.into_json();
            let event = (pass == FINAL_PASS).then(|| {
                let m = &state["mapping"];
                if let Some(status) = m["status"].as_str() {
                    crate::metrics::record_node(status);
                }
                ("node-mapped".to_string(), json!({"dagNodeId": node, "status": m["status"], "confidence": m["confidence"], "mappedCode": m["mappedCode"]}))
            });
            CheckpointWrite { node, pass, state, event }
        })
        .collect()
}

/// The job's writer: saves what the mapper notes (progress, checkpoints with their
/// node-mapped events), gathering notes for `WRITE_WINDOW` into one transaction. A
/// failed write is retried with its notes kept, so an outage delays events but loses
/// none; a refused one (the lease is lost) ends the writer and the run.
async fn write_notes(store: Store, fence: Fence, mut rx: tokio::sync::mpsc::UnboundedReceiver<Note>, lost: Arc<tokio::sync::Notify>) {
    while let Some(note) = rx.recv().await {
        let mut notes = vec![note];
        let window = tokio::time::sleep(WRITE_WINDOW);
        tokio::pin!(window);
        while notes.len() < MAX_NOTES_PER_WRITE {
            tokio::select! {
                n = rx.recv() => match n {
                    Some(n) => notes.push(n),
                    None => break,
                },
                _ = &mut window => break,
            }
        }
        let mut progress = None;
        let mut checkpoints = Vec::new();
        for note in notes {
            match note {
                Note::Progress(done, total) if done % PROGRESS_EVERY == 0 || done == total => progress = Some((done as i64, total as i64)),
                Note::Progress(..) => {}
                Note::Checkpoint(node, pass, state) => checkpoints.push((node, pass, state)),
            }
        }
        let mut writes = checkpoint_writes(checkpoints);
        loop {
            // Each part is written once: checkpoints (with their events) first, then
            // progress; a retry redoes only the part that failed.
            let mut r = store.save_checkpoints(&fence, &writes).await;
            if r.is_ok() {
                writes.clear();
                if let Some((done, total)) = progress {
                    r = store.progress(&fence, "map", done, total, Some(("progress", &json!({"done": done, "total": total})))).await;
                    if r.is_ok() {
                        progress = None;
                    }
                }
            }
            match r {
                Ok(()) => break,
                Err(StoreError::LeaseLost { .. }) => {
                    lost.notify_one();
                    return;
                }
                Err(e) => {
                    tracing::warn!(job = %fence.job, "writing checkpoints, will retry: {e}");
                    tokio::time::sleep(WRITE_RETRY).await;
                }
            }
        }
    }
}

/// What a client submits (the body of `POST /api/agent/map-to-code`, minus the token).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    #[serde(default)]
    pub analysis_id: Option<String>,
    pub repo_url: String,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub target_paths: Vec<String>,
    /// Plan text or JSON in any supported format.
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub plan_format: Option<PlanFormat>,
    #[serde(default)]
    pub execution_id: Option<i64>,
    /// The list shape from plan ingestion, instead of `plan`.
    #[serde(default)]
    pub dag_nodes: Option<Value>,
    /// A plan submitted as a file: the id of its stored upload, instead of `plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_upload: Option<String>,
    #[serde(default)]
    pub graph: Option<String>,
}

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
enum JobFailure {
    #[error("{0}")]
    Failed(String),
    #[error("the lease was lost (the job was cancelled or taken over)")]
    LeaseLost,
    #[error("the worker is shutting down")]
    Stopped,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for JobFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost { .. } => JobFailure::LeaseLost,
            e => JobFailure::Store(e),
        }
    }
}

/// A spawned task that is cancelled when this handle is dropped: the job's writer and
/// heartbeat never outlive the job's run (a run stopped because its lease was lost
/// drops its queue of writes with it).
struct Scoped<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for Scoped<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keep `fence`'s lease alive while the job runs: a beat each third of the lease,
/// quick retries when one fails. The lease is taken as lost (`lost` is notified) when
/// the store says so, or when the lease's end passes without a successful beat: the
/// end is counted from before each request was sent, so this worker stops no later
/// than the database (whose clock the store's fences use) stops accepting its writes.
async fn keep_lease(store: Store, fence: Fence, lease: Duration, mut deadline: tokio::time::Instant, lost: Arc<tokio::sync::Notify>) {
    let mut next = tokio::time::Instant::now() + lease / 3;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = tokio::time::sleep_until(deadline) => break,
        }
        let sent = tokio::time::Instant::now();
        match tokio::time::timeout_at(deadline, store.heartbeat(&fence, lease)).await {
            Ok(Ok(true)) => {
                deadline = sent + lease;
                next = sent + lease / 3;
            }
            Ok(Ok(false)) => break,
            Ok(Err(e)) => {
                tracing::warn!(job = %fence.job, "heartbeat failed, retrying: {e}");
                next = tokio::time::Instant::now() + HEARTBEAT_RETRY;
            }
            Err(_) => break,
        }
    }
    tracing::warn!(job = %fence.job, epoch = fence.epoch, "the lease ended without renewal: stopping work on the job");
    lost.notify_one();
}

/// Everything a worker needs to run jobs.
pub struct Runner {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub backends: Arc<Backends>,
    pub policy: RepoPolicy,
    pub clone_dir: PathBuf,
    /// This worker's name in leases (host name + process id in a deployment).
    pub owner: String,
    pub lease: Duration,
    pub parallel: usize,
    pub thresholds: Thresholds,
    /// `RETRIEVAL_TOP_K`: overrides the graphs' retrieval depth when set.
    pub retrieval_top_k: Option<u32>,
    /// Repository tokens by job id, in memory only: never stored, so a job resumed by
    /// another process cannot fetch a private repository it has no token for.
    pub tokens: Tokens,
}

/// Repository tokens held by this process, by job id.
#[derive(Default, Clone)]
pub struct Tokens(Arc<Mutex<HashMap<String, String>>>);

impl Tokens {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned map is still a valid map: keep serving it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keep `token` for job `id` until the job ends here.
    pub fn hold(&self, id: &str, token: String) {
        self.map().insert(id.to_string(), token);
    }

    pub fn get(&self, id: &str) -> Option<String> {
        self.map().get(id).cloned()
    }

    pub fn forget(&self, id: &str) {
        self.map().remove(id);
    }
}

impl Runner {
    /// Lease one job and run it to its end; `None` when nothing is waiting.
    pub async fn run_once(&self) -> Result<Option<JobRow>, StoreError> {
        self.run_once_until(std::future::pending()).await
    }

    /// `run_once`, but when `stop` completes first (graceful shutdown ran out of time)
    /// the job is given back to the queue with its checkpoints, for another worker.
    pub async fn run_once_until(&self, stop: impl std::future::Future<Output = ()>) -> Result<Option<JobRow>, StoreError> {
        let asked = tokio::time::Instant::now();
        let Some(job) = self.store.lease(&self.owner, self.lease).await? else { return Ok(None) };
        let fence = job.fence().ok_or_else(|| StoreError::Query { op: "lease a job", job: Some(job.id.clone()), cause: "the leased row names no owner".into() })?;
        if job.lease_takeover {
            crate::metrics::record_takeover();
            tracing::info!(job = %job.id, attempt = job.attempts, "took over a job whose worker's lease ran out");
        }
        let started = std::time::Instant::now();
        let lost = Arc::new(tokio::sync::Notify::new());
        // The lease ends `lease` after the database granted it, which is after `asked`.
        let _beat = Scoped(tokio::spawn(keep_lease(self.store.clone(), fence.clone(), self.lease, asked + self.lease, lost.clone())));
        // Boxed as `Send` here, at one concrete lifetime: otherwise rustc cannot prove the
        // whole future Send for every lifetime and spawning a worker fails to compile.
        let run: std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, JobFailure>> + Send + '_>> = Box::pin(async {
            self.store.record(&fence, "job-leased", &json!({"worker": self.owner, "attempt": job.attempts, "epoch": fence.epoch, "takeover": job.lease_takeover})).await?;
            self.run(&job, &fence, lost.clone()).await
        });
        let outcome = tokio::select! {
            r = run => r,
            _ = lost.notified() => Err(JobFailure::LeaseLost),
            _ = stop => Err(JobFailure::Stopped),
        };
        drop(_beat);
        let took = Some(started.elapsed());
        // How the run ends in the store, and the outcome counted once that is written.
        let (counted, ended) = match outcome {
            Ok(summary) => {
                self.tokens.forget(&job.id);
                ("completed", self.store.finish(&fence, Finish::Completed { summary }).await)
            }
            Err(JobFailure::LeaseLost) => ("", Err(StoreError::LeaseLost { job: job.id.clone() })),
            Err(JobFailure::Stopped) => {
                // The token stays: this process may take the job up again before it exits.
                let r = self.store.release(&fence, "the worker is shutting down; another worker resumes from the checkpoints").await;
                if r.is_ok() {
                    tracing::info!(job = %job.id, "released for another worker (shutting down)");
                }
                ("released", r)
            }
            Err(JobFailure::Store(e)) if job.attempts < MAX_STORE_ATTEMPTS => {
                // An outage is not the job's fault: give it back (checkpoints kept) for
                // this or another worker once the store answers again.
                tracing::warn!(job = %job.id, "job store failure mid-run, giving the job back: {e}");
                self.tokens.forget(&job.id);
                ("released", self.store.release(&fence, &format!("the job store failed mid-run ({}); the job resumes from its checkpoints", e.kind())).await)
            }
            Err(e) => {
                self.tokens.forget(&job.id);
                let error = e.to_string();
                tracing::warn!(job = %job.id, "failed: {error}");
                ("failed", self.store.finish(&fence, Finish::Failed { error }).await)
            }
        };
        if ended.is_ok() {
            crate::metrics::record_job(counted, took);
        }
        match ended {
            Ok(()) => {}
            // Someone else holds the job now (or it was cancelled): nothing of this run
            // is written any more, and the job goes on elsewhere.
            Err(StoreError::LeaseLost { .. }) => {
                self.tokens.forget(&job.id);
                tracing::warn!(job = %job.id, epoch = fence.epoch, "stopped: the lease was lost (cancelled, run out or taken over); nothing more is written for this run");
            }
            Err(e) => return Err(e),
        }
        self.store.job(&job.id).await
    }

    async fn stage(&self, fence: &Fence, stage: &str, done: i64, total: i64) -> Result<(), StoreError> {
        self.store.progress(fence, stage, done, total, Some(("stage-started", &json!({"stage": stage})))).await
    }

    async fn run(&self, job: &JobRow, fence: &Fence, lost: Arc<tokio::sync::Notify>) -> Result<Value, JobFailure> {
        let id = job.id.as_str();
        let spec: JobSpec = serde_json::from_value(job.spec.clone()).map_err(|e| JobFailure::Failed(format!("the stored request is not a job: {e}")))?;

        self.stage(fence, "plan", 0, 0).await?;
        let bytes: Arc<[u8]> = match (&spec.plan, &spec.dag_nodes, &spec.plan_upload) {
            (Some(p), None, None) => Arc::from(p.as_bytes()),
            (None, Some(d), None) => Arc::from(d.to_string().into_bytes()),
            (None, None, Some(u)) => match self.store.upload(u).await? {
                Some(content) => Arc::from(content),
                None => return Err(JobFailure::Failed(format!("the uploaded plan file {u} is no longer stored"))),
            },
            _ => return Err(JobFailure::Failed("exactly one of `plan`, `dagNodes` and an uploaded plan file is required".into())),
        };
        let opts = ParseOptions { format: spec.plan_format, execution: spec.execution_id };
        let plan = tokio::task::spawn_blocking(move || plan::parse(PlanInput::Bytes(bytes), &opts))
            .await
            .map_err(|e| JobFailure::Failed(format!("plan parsing stopped: {e}")))?
            .map_err(|e| JobFailure::Failed(format!("plan: {e}")))?;
        let total = plan.nodes.len() as i64;
        self.store.record(fence, "stage-finished", &json!({"stage": "plan", "nodes": total, "format": format!("{:?}", plan.format), "warnings": plan.warnings})).await?;

        self.stage(fence, "repo", 0, total).await?;
        let token = self.tokens.get(id);
        let token_missing = token.is_none();
        let rs = RepoSpec { url: spec.repo_url.clone(), branch: spec.branch.clone(), commit: spec.commit.clone(), token: token.clone() };
        let (policy, dir) = (self.policy.clone(), self.clone_dir.clone());
        let checkout = tokio::task::spawn_blocking(move || repo::source::acquire(&rs, &policy, &dir))
            .await
            .map_err(|e| JobFailure::Failed(format!("repository fetch stopped: {e}")))?
            .map_err(|e| {
                let hint = match (&job.token_holder, token_missing) {
                    (Some(holder), true) => format!(" (the job was submitted with a repository token, which only {holder} held; resume the job with the token)"),
                    _ => String::new(),
                };
                JobFailure::Failed(format!("{e}{hint}"))
            })?;
        let (ctx, caps) = repo::context::job_capabilities(&self.backends, &checkout, &spec.target_paths)
            .await
            .map_err(|e| JobFailure::Failed(format!("repository index: {e}")))?;
        // The model, with what is left of the job's budget (an interrupted run's spending
        // counts) and the repository token as a secret no prompt may carry.
        let secrets: Vec<String> = token.into_iter().collect();
        let model = self.backends.job_llm(job.budget_usd.unwrap_or(crate::capabilities::llm::DEFAULT_BUDGET_USD), job.cost_usd, secrets);
        let budget = model.as_ref().map(|m| m.budget.clone());
        let caps = caps.with_llm(model);

        self.store.record(fence, "stage-finished", &json!({"stage": "repo", "commit": ctx.commit, "sites": ctx.sites.len()})).await?;
        self.stage(fence, "map", 0, total).await?;
        let snapshot = self.registry.snapshot();
        let graph_name = spec.graph.clone().unwrap_or_else(|| "default".into());
        let graph = snapshot.graph(&graph_name).map_err(|e| JobFailure::Failed(e.to_string()))?;
        self.store.describe(fence, &graph.name, &graph.version, &ctx.commit).await?;
        // Under load, shadow variants go first: they cost time and change no answer.
        let skip_shadows = self.store.queued().await.map(|n| n > SHADOW_SKIP_QUEUE).unwrap_or(false);
        if skip_shadows {
            self.store.record(fence, "shadows-skipped", &json!({"reason": format!("more than {SHADOW_SKIP_QUEUE} jobs are waiting")})).await?;
        }
        let caps = Arc::new(caps);
        let mjob = Job {
            runtime: &self.registry.runtime,
            snapshot,
            graph: graph_name,
            caps,
            ctx: RunContext {
                analysis_id: spec.analysis_id.clone().unwrap_or_else(|| id.to_string()),
                repo: spec.repo_url.clone(),
                tenant: job.tenant.clone(),
                retrieval_top_k: self.retrieval_top_k,
                skip_shadows,
            },
            thresholds: self.thresholds,
            parallel: self.parallel,
            step_checkpoints: true,
            programs: Some(Arc::new(crate::program::Programs::build(&ctx))),
            commit: ctx.commit.clone(),
        };
        // What an earlier, interrupted run of this job finished is not done again.
        let resume = resume_from(self.store.checkpoints(id).await?);
        let in_graph = resume.first_steps.len() + resume.final_steps.len();
        if !resume.done.is_empty() || !resume.first.is_empty() || in_graph > 0 {
            self.store.record(fence, "resumed", &json!({"finished": resume.done.len(), "firstPass": resume.first.len(), "inGraph": in_graph})).await?;
        }
        // Progress and checkpoints go through a channel to a writer, so mapping never
        // waits on the database; the writer saves what piled up in one transaction.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Note>();
        let mut writer = Scoped(tokio::spawn(write_notes(self.store.clone(), fence.clone(), rx, lost)));
        let result = mapping::map_plan_resumable(
            &mjob,
            &plan,
            &|d, t| {
                let _ = tx.send(Note::Progress(d, t));
            },
            &resume,
            &|c| {
                let note = match c {
                    mapping::Checkpoint::First { node, answer } => Note::Checkpoint(node.to_string(), FIRST_PASS, State::Json(json!({"answer": answer}))),
                    mapping::Checkpoint::Final { node, mapping } => Note::Checkpoint(node.to_string(), FINAL_PASS, State::Json(json!({"mapping": mapping}))),
                    mapping::Checkpoint::Step { node, pass, walk } => {
                        let at = if pass == mapping::Pass::First { FIRST_STEPS } else { FINAL_STEPS };
                        Note::Checkpoint(node.to_string(), at, State::Walk(Box::new(walk)))
                    }
                };
                let _ = tx.send(note);
            },
        )
        .await;
        drop(tx);
        // Everything the mapping noted is written (or the lease is lost) before the
        // results are saved.
        let _ = (&mut writer.0).await;
        let result = result.map_err(|e| JobFailure::Failed(format!("mapping: {e}")))?;
        let mut llm = Value::Null;
        if let Some(b) = &budget {
            let sp = b.spend();
            llm = json!({"calls": sp.calls, "cacheHits": sp.cache_hits, "promptTokens": sp.prompt_tokens, "completionTokens": sp.completion_tokens, "usd": sp.usd, "budgetUsd": b.limit_usd, "budgetExhausted": sp.exhausted});
            self.store.set_cost(fence, sp.usd).await?;
            if sp.exhausted {
                self.store.record(fence, "llm-budget-exhausted", &json!({"spentUsd": sp.usd, "budgetUsd": b.limit_usd, "note": "nodes after this point were mapped without the model"})).await?;
            }
        }
        self.store.record(fence, "stage-finished", &json!({"stage": "map", "summary": result.summary, "llm": llm})).await?;

        self.stage(fence, "save", result.mappings.len() as i64, total).await?;
        let metadata = json!({"graph": {"name": result.graph.name, "version": result.graph.version}, "repoCommit": result.repo.commit});
        let values = result.mappings.iter().map(|m| serde_json::to_value(m).map_err(|e| JobFailure::Failed(format!("mapping of node {}: {e}", m.dag_node_id)))).collect::<Result<Vec<_>, _>>()?;
        self.store.save_mappings(fence, &values, &metadata).await?;
        // Code-owned nodes were announced as they finished; the ones that follow from
        // them (induced, infrastructure) are counted here.
        for m in result.mappings.iter().filter(|m| m.ownership != "owned") {
            crate::metrics::record_node(&m.status);
        }
        self.store.record(fence, "stage-finished", &json!({"stage": "save", "mappings": values.len()})).await?;
        // Where the time went by code span, and the findings, when the plan had metrics.
        if result.cost.hotspots.known {
            self.store.record(fence, "costs", &serde_json::to_value(&result.cost).unwrap_or(Value::Null)).await?;
        }
        self.store.progress(fence, "finished", total, total, None).await?;
        Ok(serde_json::to_value(&result.summary).unwrap_or(Value::Null))
    }
}

