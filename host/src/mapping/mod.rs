//! The main job: map every node of a plan to code. Code-owned nodes run the mapping
//! graph (with bounded parallelism); planner-induced nodes take the location of the
//! node that caused them, with the reason; infrastructure nodes are reported as such.

mod convert;
mod joint;
pub mod output;
mod programs;

use crate::capabilities::JobCapabilities;
use crate::pipeline::{RunContext, Terminal};
use crate::plan::{Ownership, Plan, PlanNode};
use crate::snapshot::Snapshot;
use planmap_runtime::Runtime;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Plan nodes of one job being mapped at once in the service (`MAX_PARALLEL_NODES`):
/// several jobs share a replica's cores.
pub const DEFAULT_PARALLEL_NODES: usize = 5;
/// The same for `planmap map`, `eval` and `bench`, where one job has the machine: two
/// full batches, one per core of a laptop-sized machine.
pub const LOCAL_PARALLEL_NODES: usize = 2 * crate::pipeline::MAX_BATCH;
/// Alternatives reported per node (with the best, the candidates the matcher explains).
pub const MAX_ALTERNATIVES: usize = crate::pipeline::SHOWN - 1;

/// The default lower bound of `confirmed`: confidences are calibrated on code nobody
/// here wrote (see `graphs/default.toml`'s `[calibration]`), so `confirmed` means at
/// least a 95 % chance, and is right at least that often on repositories the fit
/// never saw (tests/fixtures/public/README.md).
pub const CONFIRMED: f64 = 0.95;
/// The default lower bound of `probable`.
pub const PROBABLE: f64 = 0.5;

/// Confidence bands for statuses (`CONFIDENCE_THRESHOLD_HIGH` / `_LOW`).
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    pub high: f64,
    pub low: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { high: CONFIRMED, low: PROBABLE }
    }
}

/// A code location in the output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MappedCode {
    pub file: String,
    pub symbol: String,
    pub lines: String,
    pub line_start: u32,
    pub line_end: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvidenceOut {
    pub signal: String,
    pub weight: f64,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alternative {
    pub file: String,
    pub symbol: String,
    pub lines: String,
    pub line_start: u32,
    pub line_end: u32,
    pub confidence: f64,
    pub reasoning: String,
}

/// One node's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    pub dag_node_id: String,
    pub operator: String,
    pub family: String,
    /// confirmed | probable | uncertain | unmapped | infrastructure (no code owns the node)
    pub status: String,
    /// owned | induced | infrastructure
    pub ownership: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub induced_by: Option<String>,
    pub mapped_code: Option<MappedCode>,
    pub confidence: f64,
    pub explanation: String,
    pub evidence: Vec<EvidenceOut>,
    pub alternatives: Vec<Alternative>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The node's place in the plan, so any client can draw it: its parent, its
    /// children, the subquery roots it hosts and, for a reused exchange or subquery,
    /// the node it reuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(default)]
    pub children: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subqueries: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuses: Option<String>,
    /// The plugins that produced this answer (exposure records for A/B analysis): graph
    /// node, plugin, digest, and experiment and variant when the node is an experiment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginUse>,
    /// What shadow variants answered; kept with the job's records, left out of results.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadows: Vec<ShadowOut>,
    /// Every final candidate of a code-owned node with the matcher's features, best
    /// first (for `planmap eval --features`, which fits scorer weights).
    #[serde(skip)]
    pub scored: Vec<Scored>,
    /// What the node cost, where the input has metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<crate::cost::NodeCost>,
}

/// One plugin that took part in a node's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PluginUse {
    pub graph_node: String,
    pub plugin: String,
    pub digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// A shadow variant: it ran, and its output was kept aside.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
    /// Steps it ran for this node, their time, and the failed ones by kind.
    #[serde(default)]
    pub calls: u32,
    #[serde(default)]
    pub ms: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, u32>,
}

/// The plugins of a node's steps, in first-use order, with their calls, time and
/// failures (the exposure record A/B reports are built from).
fn plugins_used(steps: &[crate::pipeline::StepRecord]) -> Vec<PluginUse> {
    let mut out: Vec<PluginUse> = Vec::new();
    for s in steps {
        let i = match out.iter().position(|u| u.graph_node == s.graph_node && u.plugin == s.plugin && u.variant == s.variant && u.shadow == s.shadow) {
            Some(i) => i,
            None => {
                out.push(PluginUse { graph_node: s.graph_node.clone(), plugin: s.plugin.clone(), digest: s.digest.clone(), experiment: s.experiment.clone(), variant: s.variant.clone(), shadow: s.shadow, calls: 0, ms: 0.0, errors: BTreeMap::new() });
                out.len() - 1
            }
        };
        let u = &mut out[i];
        u.calls += 1;
        u.ms += s.ms;
        if s.outcome != "ok" {
            *u.errors.entry(s.outcome.to_string()).or_default() += 1;
        }
    }
    out
}

/// A shadow variant's answer for a node, where it points (stored, never the answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShadowOut {
    pub graph_node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    pub variant: String,
    pub plugin: String,
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub confidence: f64,
}

/// A final candidate as the scorer saw it.
#[derive(Debug, Clone)]
pub struct Scored {
    pub code: MappedCode,
    pub confidence: f64,
    pub features: Vec<(String, f64)>,
}

/// The whole job's result.
#[derive(Debug, Clone, Serialize)]
pub struct MapResult {
    pub mappings: Vec<Mapping>,
    pub summary: Summary,
    pub repo: RepoInfo,
    pub graph: GraphInfo,
    pub plan: PlanInfo,
    /// The programs that may have produced the plan, the chosen one first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<crate::program::Resolution>,
    /// Where the time went by code span, and the anti-patterns found.
    pub cost: crate::cost::Cost,
    /// Where the time went (for benchmarks).
    #[serde(skip)]
    pub timing: Timing,
}

/// Time and traffic of a job's graph runs, summed over plan nodes and passes.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// Plugin invocations, including the capability calls made from inside them.
    pub plugin: std::time::Duration,
    /// Of which inside host capabilities.
    pub host: std::time::Duration,
    /// Node steps (one plan node through one graph node).
    pub steps: usize,
    /// Plugin invocations (each serving a batch of node steps) on the job's runtime during the run.
    pub invocations: usize,
    pub candidates_in: usize,
    /// Sites handed to matchers in their batches' site tables.
    pub sites_in: usize,
    /// Of `plugin`, crossing the boundary: instantiation, inputs in, results out
    /// (measured outside the plugins' `log.mark` calls).
    pub boundary: std::time::Duration,
    /// Invocations (summed shares) whose plugin did not mark: their boundary is not in `boundary`.
    pub unmarked: f64,
    /// Node steps and their boundary time (ms) by graph node; `boundary` minus these is
    /// the matchers' explanation calls at the end.
    pub boundary_by_node: BTreeMap<String, (usize, f64)>,
}

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub nodes: usize,
    pub confirmed: usize,
    pub probable: usize,
    pub uncertain: usize,
    pub unmapped: usize,
    pub infrastructure: usize,
    pub average_confidence: f64,
    /// Share of code-owned and induced nodes with a location.
    pub coverage: f64,
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepoInfo {
    pub commit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraphInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanInfo {
    pub format: String,
    pub source: String,
    pub warnings: Vec<String>,
}

fn lines(a: u32, b: u32) -> String {
    if a == b { a.to_string() } else { format!("{a}-{b}") }
}

/// Below this confidence a best guess is not worth showing: the node is unmapped. Between
/// it and the low threshold the guess is reported as `uncertain` (calibrated, so a 0.3
/// is right about three times in ten), which is more useful than nothing.
pub const UNCERTAIN_FLOOR: f64 = 0.2;

fn status(confidence: f64, terminal: Terminal, t: Thresholds) -> &'static str {
    match terminal {
        Terminal::Failed => "unmapped",
        _ if confidence < UNCERTAIN_FLOOR => "unmapped",
        _ => located_status(confidence, t),
    }
}

/// The status of an answer that has a place, by its confidence: a located answer is at
/// worst uncertain, never gone (calibration and rival programs lower confidences after
/// the floor was applied).
pub(crate) fn located_status(confidence: f64, t: Thresholds) -> &'static str {
    if confidence >= t.high {
        "confirmed"
    } else if confidence >= t.low {
        "probable"
    } else {
        "uncertain"
    }
}

/// A neighbour's first-pass answer is passed on only when at least this confident; a
/// weaker guess would veto right candidates as often as wrong ones.
const MIN_NEIGHBOUR_CONFIDENCE: f64 = 0.5;

/// Which of the two mapping passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    First,
    Final,
}

/// Map `owned` through the graph: at most `job.parallel` plan nodes at once, in
/// batches (up to `pipeline::MAX_BATCH`) that move through the graph in lock-step (one
/// plugin invocation per graph node per batch). A node with a saved walk for this pass
/// continues from it. After every step each unfinished node's walk is reported to
/// `checkpoint`; `finish` turns each node's outcome into the pass's result as soon as
/// its batch is done.
#[allow(clippy::too_many_arguments)]
async fn run_pass<T>(
    job: &Job<'_>,
    plan: &Plan,
    graph: &Arc<crate::graph::Graph>,
    owned: &[&PlanNode],
    known: Option<&convert::Known>,
    pass: Pass,
    saved: &HashMap<String, crate::pipeline::SavedWalk>,
    checkpoint: &(dyn Fn(Checkpoint<'_>) + Sync),
    tick: &(dyn Fn() + Sync),
    mut finish: impl FnMut(&str, crate::pipeline::NodeOutcome) -> T,
) -> HashMap<String, T> {
    use futures::StreamExt;
    let parallel = job.parallel.max(1);
    let batch = parallel.min(crate::pipeline::MAX_BATCH);
    let on_step = |node: &str, walk: crate::pipeline::SavedWalk| checkpoint(Checkpoint::Step { node, pass, walk });
    let on_step: &(dyn Fn(&str, crate::pipeline::SavedWalk) + Sync) = &on_step;
    // Collected first: a stream over a lazy `map` keeps a higher-ranked closure in the
    // future's type, which makes rustc unable to prove a job's future `Send`.
    let converted: Vec<planmap_runtime::model::PlanNode> = owned.iter().map(|n| convert::for_plugins(plan, n, known)).collect();
    // The vector hits of the whole pass in a few requests, before any batch asks.
    use planmap_runtime::Capabilities;
    if job.caps.vectors_available() {
        job.caps.prefetch_nearest(crate::pipeline::retrieval_texts(converted.iter())).await;
    }
    let mut converted = converted.into_iter();
    let futures: Vec<_> = owned
        .chunks(batch)
        .map(|chunk| {
            let starts: Vec<_> = chunk
                .iter()
                .zip(converted.by_ref())
                .map(|(n, node)| {
                    let resumed = saved.get(&n.id).and_then(|w| match w.restore(&graph.version, &|id| job.caps.index.site(id).cloned()) {
                        Ok(r) => Some(r),
                        Err(why) => {
                            tracing::info!(node = %n.id, "mapping the node from the start: its saved step cannot continue ({why})");
                            None
                        }
                    });
                    (node, resumed)
                })
                .collect();
            let ids: Vec<String> = chunk.iter().map(|n| n.id.clone()).collect();
            let graph = graph.clone();
            let snap = job.snapshot.clone();
            let caps: Arc<dyn planmap_runtime::Capabilities> = job.caps.clone();
            async move {
                let t = std::time::Instant::now();
                let report = job.step_checkpoints.then_some(on_step);
                // The first pass's answers only guide the second: no evidence in words.
                let outcomes = crate::pipeline::run_nodes_from(job.runtime, &snap, &graph, starts, caps, &job.ctx, report, pass == Pass::Final).await;
                let per_node = t.elapsed() / ids.len().max(1) as u32;
                for _ in &ids {
                    crate::metrics::record_node_pass(per_node);
                }
                ids.into_iter().zip(outcomes).collect::<Vec<_>>()
            }
        })
        .collect();
    // Batches in flight: together never more than `parallel` nodes.
    let mut running = futures::stream::iter(futures).buffer_unordered((parallel / batch).max(1));
    let mut out = HashMap::with_capacity(owned.len());
    while let Some(batch) = running.next().await {
        for (id, outcome) in batch {
            let v = finish(&id, outcome);
            out.insert(id, v);
            tick();
        }
    }
    out
}

/// What a job needs.
pub struct Job<'a> {
    pub runtime: &'a Runtime,
    pub snapshot: Arc<Snapshot>,
    pub graph: String,
    pub caps: Arc<JobCapabilities>,
    pub ctx: RunContext,
    pub thresholds: Thresholds,
    /// Plan nodes mapped at once (`MAX_PARALLEL_NODES`).
    pub parallel: usize,
    pub commit: String,
    /// Report every node's walk after every graph step (`Checkpoint::Step`), so an
    /// interrupted job resumes mid-graph; off where nothing keeps checkpoints.
    pub step_checkpoints: bool,
    /// The repository's candidate programs: the plan is mapped inside the one that
    /// explains it best (the whole repository when `None`).
    pub programs: Option<Arc<crate::program::Programs>>,
}

impl<'a> Job<'a> {
    /// The same job searching `caps` (a program's sites).
    fn with_caps(&self, caps: Arc<JobCapabilities>, step_checkpoints: bool) -> Job<'a> {
        Job {
            runtime: self.runtime,
            snapshot: self.snapshot.clone(),
            graph: self.graph.clone(),
            caps,
            ctx: self.ctx.clone(),
            thresholds: self.thresholds,
            parallel: self.parallel,
            commit: self.commit.clone(),
            step_checkpoints,
            programs: None,
        }
    }
}

/// A node's first-pass answer, as checkpointed: where it mapped, when confident enough
/// to guide its neighbours.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirstAnswer {
    pub file: String,
    pub symbol: String,
    pub line_start: u32,
    pub line_end: u32,
    /// The site's number in the repository index (stable for one commit and indexer).
    pub site: u32,
}

/// What an interrupted run of the same plan on the same commit already computed.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    /// First-pass answers by node id (`None`: mapped, but not confidently).
    pub first: HashMap<String, Option<FirstAnswer>>,
    /// Finished code-owned nodes by id.
    pub done: HashMap<String, Mapping>,
    /// Walks interrupted mid-graph, by pass and node id: they continue from their last step.
    pub first_steps: HashMap<String, crate::pipeline::SavedWalk>,
    pub final_steps: HashMap<String, crate::pipeline::SavedWalk>,
}

/// A code-owned node reached a checkpoint.
pub enum Checkpoint<'a> {
    /// Its first pass is done.
    First { node: &'a str, answer: Option<FirstAnswer> },
    /// It is finished.
    Final { node: &'a str, mapping: &'a Mapping },
    /// It took a graph step in `pass` and goes on from `walk`.
    Step { node: &'a str, pass: Pass, walk: crate::pipeline::SavedWalk },
}

/// Map every node of `plan`. `progress(done, total)` is called as nodes finish.
pub async fn map_plan(job: &Job<'_>, plan: &Plan, progress: &(dyn Fn(usize, usize) + Sync)) -> anyhow::Result<MapResult> {
    map_plan_resumable(job, plan, progress, &Resume::default(), &|_| {}).await
}

/// `map_plan` that skips what `resume` holds and reports each node's checkpoints, so a
/// job interrupted part way continues without redoing finished nodes. The program that
/// ran is chosen first; the plan is mapped inside it, and inside each close rival
/// (without checkpoints or the model), whose answers become alternatives and lower the
/// confidence of nodes the rivals answer differently.
pub async fn map_plan_resumable(job: &Job<'_>, plan: &Plan, progress: &(dyn Fn(usize, usize) + Sync), resume: &Resume, checkpoint: &(dyn Fn(Checkpoint<'_>) + Sync)) -> anyhow::Result<MapResult> {
    let t = std::time::Instant::now();
    let invocations_before = job.runtime.invocations();
    let graph = job.snapshot.graph(&job.graph)?;
    let resolution = job.programs.as_ref().filter(|p| p.len() > 1).map(|p| crate::program::resolve(p, plan, &crate::program::Hints::from_plan(plan), &graph.program));
    let scoped = |r: &crate::program::Ranked, llm: bool| {
        let caps = (*job.caps).clone().with_scope(Some(r.sites.clone()));
        Arc::new(if llm { caps } else { caps.with_llm(None) })
    };
    let owned: Vec<&PlanNode> = plan.nodes.iter().filter(|n| n.ownership == Ownership::Owned).collect();
    let mut rival_answers: Vec<HashMap<String, Mapping>> = Vec::new();
    if let Some(res) = &resolution {
        for r in res.programs.iter().skip(1).take(res.rivals) {
            let rival = job.with_caps(scoped(r, false), false);
            let (answers, _) = map_owned(&rival, plan, &graph, &owned, &|_, _| {}, &Resume::default(), &|_| {}, &|_| {}).await;
            rival_answers.push(answers);
        }
    }
    let main = match resolution.as_ref().and_then(|r| r.chosen()) {
        Some(c) => job.with_caps(scoped(c, true), job.step_checkpoints),
        None => job.with_caps(job.caps.clone(), job.step_checkpoints),
    };
    let merge = |m: &mut Mapping| {
        if let Some(res) = &resolution {
            programs::merge(m, res, &rival_answers, job.thresholds);
        }
    };
    let total = plan.nodes.len() + owned.len();
    let (mut results, mut timing) = map_owned(&main, plan, &graph, &owned, progress, resume, checkpoint, &merge).await;
    let mut done = 2 * owned.len();
    // Induced and infrastructure nodes follow from their causes.
    let mut mappings = Vec::with_capacity(total);
    for n in &plan.nodes {
        let m = match &n.ownership {
            Ownership::Owned => results.remove(&n.id).expect("every owned node was mapped"),
            Ownership::Infrastructure => Mapping {
                dag_node_id: n.id.clone(),
                operator: n.operator.clone(),
                family: n.family.name().into(),
                status: "infrastructure".into(),
                ownership: "infrastructure".into(),
                induced_by: None,
                mapped_code: None,
                confidence: 0.0,
                explanation: format!("{} is execution infrastructure (codegen stage, adapter or adaptive-execution wrapper); no code owns it", n.operator),
                evidence: vec![],
                alternatives: vec![],
                error: None,
                parent: None,
                children: vec![],
                subqueries: vec![],
                reuses: None,
                plugins: vec![],
                shadows: vec![],
                scored: vec![],
                cost: None,
            },
            Ownership::Induced { by, reason } => induced(n, by, reason, plan, &results, &mappings),
        };
        let mut m = m;
        m.parent.clone_from(&n.parent);
        m.children.clone_from(&n.children);
        m.subqueries.clone_from(&n.subqueries);
        m.reuses.clone_from(&n.reuses);
        if !matches!(n.ownership, Ownership::Owned) {
            done += 1;
            progress(done, total);
        }
        mappings.push(m);
    }
    let summary = summarise(&mappings, t.elapsed().as_secs_f64() * 1e3);
    timing.invocations = job.runtime.invocations() - invocations_before;
    let mut result = MapResult {
        mappings,
        summary,
        repo: RepoInfo { commit: job.commit.clone() },
        graph: GraphInfo { name: graph.name.clone(), version: graph.version.clone() },
        timing,
        plan: PlanInfo { format: format!("{:?}", plan.format), source: plan.source.clone(), warnings: plan.warnings.clone() },
        program: resolution,
        cost: Default::default(),
    };
    crate::cost::annotate(plan, &mut result);
    Ok(result)
}

/// Map the code-owned nodes in two passes (the first maps each node on its own
/// evidence; the second runs again with the neighbours' first answers, so plan-structure
/// consistency can confirm or veto), skipping what `resume` holds; `merge` adjusts each
/// node's final answer before it is checkpointed.
#[allow(clippy::too_many_arguments)]
async fn map_owned(
    job: &Job<'_>,
    plan: &Plan,
    graph: &Arc<crate::graph::Graph>,
    owned: &[&PlanNode],
    progress: &(dyn Fn(usize, usize) + Sync),
    resume: &Resume,
    checkpoint: &(dyn Fn(Checkpoint<'_>) + Sync),
    merge: &(dyn Fn(&mut Mapping) + Sync),
) -> (HashMap<String, Mapping>, Timing) {
    let total = plan.nodes.len() + owned.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let tick = || progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
    let todo_first: Vec<&PlanNode> = owned.iter().copied().filter(|n| !resume.done.contains_key(&n.id) && !resume.first.contains_key(&n.id)).collect();
    let todo_second: Vec<&PlanNode> = owned.iter().copied().filter(|n| !resume.done.contains_key(&n.id)).collect();
    for _ in 0..(owned.len() - todo_first.len()) + (owned.len() - todo_second.len()) {
        tick();
    }
    // Where each node's first pass put it, when confident enough to guide its neighbours:
    // from an interrupted run's checkpoints, then from this run's first pass.
    let known_at = |a: &FirstAnswer| (planmap_runtime::model::Location { file: a.file.clone(), symbol: a.symbol.clone(), line_start: a.line_start, line_end: a.line_end }, a.site);
    let mut known: HashMap<String, _> = resume.first.iter().filter_map(|(id, a)| Some((id.clone(), known_at(a.as_ref()?)))).collect();
    let first = run_pass(job, plan, graph, &todo_first, None, Pass::First, &resume.first_steps, checkpoint, &tick, |id, o| {
        let best = o.candidates.first().filter(|c| c.confidence() >= MIN_NEIGHBOUR_CONFIDENCE);
        let answer = best.map(|b| FirstAnswer { file: b.site.location.file.clone(), symbol: b.site.location.symbol.clone(), line_start: b.site.location.line_start, line_end: b.site.location.line_end, site: b.site.id });
        if let Some(a) = &answer {
            known.insert(id.to_string(), known_at(a));
        }
        checkpoint(Checkpoint::First { node: id, answer });
        o
    })
    .await;
    let mut timing = Timing::default();
    let mut account = |o: &crate::pipeline::NodeOutcome| {
        timing.plugin += o.plugin_time;
        timing.host += o.host_time;
        timing.steps += o.steps.len();
        timing.candidates_in += o.candidates_in;
        timing.sites_in += o.sites_in;
        timing.boundary += o.boundary;
        timing.unmarked += o.unmarked;
        for st in &o.steps {
            let by = &mut timing.boundary_by_node;
            if !by.contains_key(&st.graph_node) {
                by.insert(st.graph_node.clone(), (0, 0.0));
            }
            let e = by.get_mut(&st.graph_node).expect("inserted above");
            e.0 += 1;
            e.1 += st.boundary_ms.unwrap_or(0.0);
        }
    };
    first.values().for_each(&mut account);
    let known = convert::Known::new(known);
    let mut second = run_pass(job, plan, graph, &todo_second, Some(&known), Pass::Final, &resume.final_steps, checkpoint, &tick, |id, second_outcome| {
        account(&second_outcome);
        // A node whose second run failed keeps its first answer (when this run made one).
        match first.get(id) {
            Some(f) if second_outcome.error.is_some() && f.error.is_none() => f.clone(),
            _ => second_outcome,
        }
    })
    .await;
    // The nodes' answers chosen together, then each is final.
    let fixed: HashMap<String, planmap_runtime::model::CodeSite> = resume
        .done
        .iter()
        .filter_map(|(id, m)| {
            let c = m.mapped_code.as_ref()?;
            // The site's number is not kept with a finished answer; its place is.
            let location = planmap_runtime::model::Location { file: c.file.clone(), symbol: c.symbol.clone(), line_start: c.line_start, line_end: c.line_end };
            Some((id.clone(), planmap_runtime::model::CodeSite { id: u32::MAX, location, statement_start: c.line_start, statement_end: c.line_end, kind: String::new(), columns: vec![], tables: vec![], literals: vec![], functions: vec![] }))
        })
        .collect();
    joint::decode(plan, &mut second, &fixed, &*job.caps.index);
    let mut results: HashMap<String, Mapping> = resume.done.clone();
    for (id, outcome) in second {
        let n = plan.node(&id).expect("owned node ids come from the plan");
        let mut m = from_outcome(n, outcome, job.thresholds);
        merge(&mut m);
        calibrate(&mut m, &graph.calibration, job.thresholds);
        alternatives_below_answer(&mut m);
        checkpoint(Checkpoint::Final { node: &id, mapping: &m });
        results.insert(id, m);
    }
    (results, timing)
}

/// The graph's calibration applied to a node's answer and its alternatives; the
/// status follows the calibrated confidence (a located answer stays located).
fn calibrate(m: &mut Mapping, cal: &crate::graph::Calibration, t: Thresholds) {
    if *cal == crate::graph::Calibration::default() || m.mapped_code.is_none() && m.alternatives.is_empty() {
        return;
    }
    m.confidence = cal.apply(m.confidence, &m.family);
    for a in &mut m.alternatives {
        a.confidence = cal.apply(a.confidence, &m.family);
    }
    if m.mapped_code.is_some() {
        m.status = located_status(m.confidence, t).into();
    }
}

/// No alternative is shown as likelier than the answer or than one listed before it:
/// the plan-wide choice (or a pruning Project's input) can prefer a candidate its
/// scorer rated lower, and ranks alternatives by how well the plan's data flow
/// supports them; the order is then the better guess.
fn alternatives_below_answer(m: &mut Mapping) {
    if m.mapped_code.is_some() {
        let mut ceiling = m.confidence;
        for a in &mut m.alternatives {
            a.confidence = a.confidence.min(ceiling);
            ceiling = a.confidence;
        }
    }
}

/// A site's location in the output's form.
fn code_of(l: &planmap_runtime::model::Location) -> MappedCode {
    MappedCode { file: l.file.clone(), symbol: l.symbol.clone(), lines: lines(l.line_start, l.line_end), line_start: l.line_start, line_end: l.line_end }
}

fn from_outcome(n: &PlanNode, o: crate::pipeline::NodeOutcome, t: Thresholds) -> Mapping {
    let best = o.candidates.first();
    let confidence = best.map(|c| c.confidence()).unwrap_or(0.0);
    let status = if best.is_none() { "unmapped" } else { status(confidence, o.terminal, t) };
    let mapped_code = best.filter(|_| status != "unmapped").map(|c| code_of(&c.site.location));
    let explanation = match (&o.error, best) {
        (Some(e), _) => format!("mapping failed: {e}"),
        (None, None) => "no code site of a matching kind was found".into(),
        (None, Some(c)) if status == "unmapped" => format!("best candidate too weak ({:.2}): {}", c.confidence(), c.explanation()),
        (None, Some(c)) => format!("{} at {}:{}: {}", c.site.kind, c.site.location.file, lines(c.site.location.line_start, c.site.location.line_end), c.explanation()),
    };
    let skip = if status == "unmapped" { 0 } else { 1 };
    Mapping {
        dag_node_id: n.id.clone(),
        operator: n.operator.clone(),
        family: n.family.name().into(),
        status: status.into(),
        ownership: "owned".into(),
        induced_by: None,
        mapped_code,
        confidence,
        explanation,
        evidence: best.map(|c| c.evidence().iter().map(|e| EvidenceOut { signal: e.signal.to_string(), weight: e.weight, detail: e.detail.clone() }).collect()).unwrap_or_default(),
        alternatives: o
            .candidates
            .iter()
            .skip(skip)
            .take(MAX_ALTERNATIVES)
            .map(|c| {
                let code = code_of(&c.site.location);
                Alternative { file: code.file, symbol: code.symbol, lines: code.lines, line_start: code.line_start, line_end: code.line_end, confidence: c.confidence(), reasoning: c.explanation().to_string() }
            })
            .collect(),
        scored: o
            .candidates
            .iter()
            .map(|c| Scored {
                code: code_of(&c.site.location),
                confidence: c.confidence(),
                features: c.named_features(&o.feature_names).map(|(n, v)| (n.to_string(), v)).collect(),
            })
            .collect(),
        cost: None,
        plugins: plugins_used(&o.steps),
        shadows: o
            .shadows
            .iter()
            .filter_map(|sh| {
                let c = o.candidates.iter().find(|c| c.site.id == sh.site)?;
                let l = &c.site.location;
                Some(ShadowOut { graph_node: sh.graph_node.clone(), experiment: sh.experiment.clone(), variant: sh.variant.clone(), plugin: sh.plugin.clone(), file: l.file.clone(), line_start: l.line_start, line_end: l.line_end, confidence: sh.confidence })
            })
            .collect(),
        error: o.error,
        parent: n.parent.clone(),
        children: n.children.clone(),
        subqueries: n.subqueries.clone(),
        reuses: n.reuses.clone(),
    }
}

fn induced(n: &PlanNode, by: &str, reason: &str, plan: &Plan, owned: &HashMap<String, Mapping>, done: &[Mapping]) -> Mapping {
    let cause = owned.get(by).or_else(|| done.iter().find(|m| m.dag_node_id == by));
    let cause_op = plan.node(by).map(|c| c.operator.clone()).unwrap_or_default();
    // The node stands or falls with its cause, so it shares the cause's alternatives.
    let (mapped_code, confidence, status, explanation, alternatives) = match cause.and_then(|c| c.mapped_code.clone().map(|m| (m, c))) {
        Some((code, c)) => {
            let line = lines(code.line_start, code.line_end);
            (Some(code.clone()), c.confidence, c.status.clone(), format!("{reason}: inserted by the planner for the {} on line {line} of {}", cause_op, code.file), c.alternatives.clone())
        }
        None => (None, 0.0, "unmapped".to_string(), format!("{reason}; {cause_op} ({by}) itself was not mapped"), vec![]),
    };
    Mapping {
        dag_node_id: n.id.clone(),
        operator: n.operator.clone(),
        family: n.family.name().into(),
        status,
        ownership: "induced".into(),
        induced_by: Some(by.to_string()),
        mapped_code,
        confidence,
        explanation,
        evidence: vec![EvidenceOut { signal: "induced".into(), weight: 1.0, detail: reason.to_string() }],
        alternatives,
        error: None,
        parent: None,
        children: vec![],
        subqueries: vec![],
        reuses: None,
        plugins: vec![],
        shadows: vec![],
        scored: vec![],
        cost: None,
    }
}

fn summarise(m: &[Mapping], ms: f64) -> Summary {
    let mut s = Summary { nodes: m.len(), ms, ..Default::default() };
    let mut conf = Vec::new();
    for x in m {
        if x.ownership == "infrastructure" {
            s.infrastructure += 1;
            continue;
        }
        match x.status.as_str() {
            "confirmed" => s.confirmed += 1,
            "probable" => s.probable += 1,
            "uncertain" => s.uncertain += 1,
            _ => s.unmapped += 1,
        }
        if x.mapped_code.is_some() {
            conf.push(x.confidence);
        }
    }
    let mappable = m.len() - s.infrastructure;
    s.coverage = if mappable == 0 { 0.0 } else { conf.len() as f64 / mappable as f64 };
    s.average_confidence = if conf.is_empty() { 0.0 } else { conf.iter().sum::<f64>() / conf.len() as f64 };
    s
}
