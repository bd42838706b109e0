//! Runs a mapping graph for plan nodes: step by step through the graph's nodes,
//! following each node's router decisions, within the loop bound, recording every step.
//! Nodes move in lock-step: all nodes waiting at one graph node are sent to its plugin
//! in one invocation (up to `MAX_BATCH` at a time), so the fixed cost of crossing into
//! the sandbox is paid once per batch instead of once per node.

mod assign;
pub(crate) mod merge;
mod saved;

pub use assign::{assign, bucket};
pub use saved::{Resumed, SavedCandidate, SavedWalk};

use crate::graph::{Condition, Graph, GraphNode, NodeTarget, PluginChoice, StickyKey, Target, Variant};
use crate::snapshot::Snapshot;
use planmap_runtime::model::{Batch, PlanNode, StepInput};
use planmap_runtime::wit::Rows;
use planmap_runtime::wit::{Decision, Family};
use planmap_runtime::{plugin_error, BatchCall, Call, CallScope, Candidate, Capabilities, InvokeError, InvokeReport, NodeDetail, Runtime, StepOutput};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Hard cap on steps for one plan node, whatever the graph says: a graph of N nodes
/// with `max_visits` V can take at most N*V steps; this guards against a bug there.
pub const MAX_STEPS: usize = 256;

/// Candidates an answer shows: the best and up to three alternatives.
pub const SHOWN: usize = 4;

/// Candidates whose evidence the matcher is asked to put in words at the end of a run:
/// more than are shown, because the plan-wide choice (`mapping::joint`) may promote any
/// of them — a tie among many look-alike sites is broken by the plan's data flow.
pub const WORDED: usize = 8;

/// Most candidates put in words: past the first `WORDED`, the ones nearly as likely as
/// the best are too. In a script that repeats one statement a dozen times (a
/// benchmark's run 1 and run 2, a tutorial's near-identical lines) the right copy is
/// often past the eighth, and only the plan's data flow tells the copies apart.
pub const MAX_WORDED: usize = 32;

/// "Nearly as likely as the best": a confidence at least this share of the best's.
const NEAR_BEST: f64 = 0.5;

/// How many of `candidates` (best first) are put in words: the first `WORDED`, then
/// those nearly as likely as the best, up to `MAX_WORDED`.
pub fn worded_len(candidates: &[Candidate]) -> usize {
    let n = candidates.len().min(WORDED);
    let Some(best) = candidates.first().map(Candidate::confidence) else { return 0 };
    n + candidates[n..].iter().take(MAX_WORDED - n).take_while(|c| c.confidence() >= best * NEAR_BEST).count()
}

/// Most plan nodes sent to a plugin in one invocation: enough to make the per-call
/// cost negligible (about 25 µs against 64 nodes' work), small enough that a batch's
/// memory (per-node cap times size) stays within the pooled slot.
pub const MAX_BATCH: usize = 64;

/// Who a run is for: the keys sticky A/B assignment can hash.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub analysis_id: String,
    pub repo: String,
    pub tenant: String,
    /// Skip shadow variants (set under load: they cost time and change nothing).
    pub skip_shadows: bool,
    /// `RETRIEVAL_TOP_K`: overrides every retriever's `top_k` setting when set.
    pub retrieval_top_k: Option<u32>,
}

/// One executed step, for explanations, metrics and exposure records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub graph_node: String,
    pub plugin: String,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub outcome: String,
    pub ms: f64,
    /// Of `ms`, crossing the boundary (when the plugin marks its work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// True for shadow variants (their output was discarded).
    pub shadow: bool,
}

/// How the run for a plan node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Terminal {
    /// Reached `finish`.
    Finish,
    /// Reached `unmapped`.
    Unmapped,
    /// A step failed; the node has no mapping and `error` says why.
    Failed,
}

/// The result of running the graph for one plan node.
#[derive(Debug, Clone)]
pub struct NodeOutcome {
    pub candidates: Vec<Candidate>,
    pub terminal: Terminal,
    pub steps: Vec<StepRecord>,
    pub error: Option<String>,
    /// Time spent inside plugin invocations (instantiate + call), this node's share.
    pub plugin_time: std::time::Duration,
    /// Of which inside host capability calls.
    pub host_time: std::time::Duration,
    /// Of which crossing the boundary (outside the plugins' marks), where measured.
    pub boundary: std::time::Duration,
    /// This node's share of invocations whose plugin did not mark (boundary unmeasured).
    pub unmarked: f64,
    /// Candidates handed into steps, summed over steps (what crossed into the sandbox).
    pub candidates_in: usize,
    /// Sites in the matchers' site tables (each batch's table counted once, on its first node).
    pub sites_in: usize,
    /// Names of the feature values in the candidates' `assessed.features`.
    pub feature_names: Vec<String>,
    /// What shadow variants answered (stored for comparison, never the answer).
    pub shadows: Vec<ShadowAnswer>,
}

/// A shadow variant's best candidate for a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShadowAnswer {
    pub graph_node: String,
    pub experiment: Option<String>,
    pub variant: String,
    pub plugin: String,
    pub site: u32,
    pub confidence: f64,
}

/// Run `graph` for `node`. Plugin failures end this node's run (recorded in the
/// outcome); they never propagate to the rest of the job.
pub async fn run_node(runtime: &Runtime, snap: &Snapshot, graph: &Graph, node: PlanNode, caps: Arc<dyn Capabilities>, ctx: &RunContext) -> NodeOutcome {
    run_nodes(runtime, snap, graph, vec![node], caps, ctx).await.pop().expect("one outcome per node")
}

/// One plan node's walk through the graph. The candidates live here, on the host side;
/// each step gets their ids and numbers as rows of its batch's candidate columns.
struct Walk {
    input: StepInput,
    candidates: Vec<Candidate>,
    /// The names of the candidates' feature values.
    feature_names: Vec<String>,
    out: NodeOutcome,
    visits: BTreeMap<String, u32>,
    current: String,
    steps: usize,
    done: bool,
}

impl Walk {
    /// The walk between steps, for a checkpoint.
    fn saved(&self, graph_version: &str) -> SavedWalk {
        SavedWalk {
            graph_version: graph_version.to_string(),
            current: self.current.clone(),
            visits: self.visits.clone(),
            steps: self.steps,
            feature_names: self.feature_names.clone(),
            candidates: self.candidates.iter().map(SavedCandidate::of).collect(),
            records: self.out.steps.clone(),
            shadows: self.out.shadows.clone(),
        }
    }

    fn end(&mut self, terminal: Terminal, error: Option<String>) {
        self.out.terminal = terminal;
        if error.is_some() {
            self.out.error = error;
        }
        self.out.candidates = std::mem::take(&mut self.candidates);
        self.out.feature_names = std::mem::take(&mut self.feature_names);
        self.done = true;
    }
}

/// Run `graph` for every node, in lock-step batches; one outcome per node, in order.
/// A plugin failure ends only the run of the node it failed on.
pub async fn run_nodes(runtime: &Runtime, snap: &Snapshot, graph: &Graph, nodes: Vec<PlanNode>, caps: Arc<dyn Capabilities>, ctx: &RunContext) -> Vec<NodeOutcome> {
    run_nodes_from(runtime, snap, graph, nodes.into_iter().map(|n| (n, None)).collect(), caps, ctx, None, true).await
}

/// Called after every step with the state of each walk that goes on (node id, state).
pub type OnStep<'a> = &'a (dyn Fn(&str, SavedWalk) + Sync);

/// `run_nodes` where a node may continue from a restored walk instead of the graph's
/// entry, and `on_step` (when given) receives every unfinished walk's state after each
/// step, for checkpoints. With `words`, the matcher that assessed each node puts the
/// evidence of its shown candidates in words at the end (a run whose answers only guide
/// a later pass skips that).
#[allow(clippy::too_many_arguments)]
pub async fn run_nodes_from(runtime: &Runtime, snap: &Snapshot, graph: &Graph, starts: Vec<(PlanNode, Option<Resumed>)>, caps: Arc<dyn Capabilities>, ctx: &RunContext, on_step: Option<OnStep<'_>>, words: bool) -> Vec<NodeOutcome> {
    let mut walks: Vec<Walk> = starts
        .into_iter()
        .map(|(node, resumed)| {
            let mut w = Walk {
                input: StepInput { node, candidates: NO_ROWS, visit: 0 },
                candidates: Vec::new(),
                feature_names: Vec::new(),
                out: NodeOutcome { candidates: Vec::new(), terminal: Terminal::Failed, steps: Vec::new(), error: None, plugin_time: Default::default(), host_time: Default::default(), boundary: Default::default(), unmarked: 0.0, candidates_in: 0, sites_in: 0, feature_names: Vec::new(), shadows: Vec::new() },
                visits: BTreeMap::new(),
                current: graph.entry.clone(),
                steps: 0,
                done: false,
            };
            if let Some(r) = resumed {
                (w.current, w.visits, w.steps) = (r.current, r.visits, r.steps);
                (w.candidates, w.feature_names) = (r.candidates, r.feature_names);
                (w.out.steps, w.out.shadows) = (r.records, r.shadows);
            }
            w
        })
        .collect();
    loop {
        // Who waits at which graph node (the loop bound ends a walk here).
        let mut waiting: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, w) in walks.iter_mut().enumerate().filter(|(_, w)| !w.done) {
            if w.steps >= MAX_STEPS {
                let e = format!("graph '{}' took more than {MAX_STEPS} steps", graph.name);
                w.end(Terminal::Failed, Some(e));
                continue;
            }
            // A resumed walk may stand at a node the graph no longer has.
            if !graph.nodes.contains_key(&w.current) {
                let e = format!("graph '{}' has no node '{}' to continue at", graph.name, w.current);
                w.end(Terminal::Failed, Some(e));
                continue;
            }
            w.steps += 1;
            let visit = w.visits.entry(w.current.clone()).or_default();
            *visit += 1;
            if *visit > graph.max_visits {
                // The loop bound is reached: report what we have.
                w.end(Terminal::Finish, None);
                continue;
            }
            w.input.visit = *visit;
            waiting.entry(w.current.clone()).or_default().push(i);
        }
        if waiting.is_empty() {
            break;
        }
        let moved: Vec<usize> = if on_step.is_some() { waiting.values().flatten().copied().collect() } else { Vec::new() };
        for (gname, idxs) in waiting {
            let gnode = &graph.nodes[&gname];
            for chunk in idxs.chunks(MAX_BATCH) {
                run_batch(runtime, snap, graph, gnode, &mut walks, chunk, &caps, ctx).await;
            }
        }
        if let Some(report) = on_step {
            for w in moved.into_iter().map(|i| &walks[i]).filter(|w| !w.done) {
                report(&w.input.node.id, w.saved(&graph.version));
            }
        }
    }
    if words {
        explain(runtime, snap, graph, &mut walks, &caps, ctx).await;
    }
    for w in &mut walks {
        // Scorers that gave no explanation get one from the evidence.
        for c in w.out.candidates.iter_mut().filter(|c| c.assessed.is_some() && c.explanation().is_empty()) {
            let text = merge::explain(c);
            c.assessed_mut().explanation = text;
        }
    }
    walks.into_iter().map(|w| w.out).collect()
}

/// Ask the matcher that last assessed each finished node to put the evidence of its
/// worded candidates in words: one invocation per matcher (and variant) for up to
/// `MAX_BATCH` nodes. A failure leaves the evidence in numbers; it never fails a node.
async fn explain(runtime: &Runtime, snap: &Snapshot, graph: &Graph, walks: &mut [Walk], caps: &Arc<dyn Capabilities>, ctx: &RunContext) {
    // (graph node, plugin, config) -> walks it assessed last.
    let mut groups: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, w) in walks.iter().enumerate() {
        if w.out.candidates.is_empty() || w.out.terminal == Terminal::Failed {
            continue;
        }
        let matcher = w.out.steps.iter().rev().find(|s| !s.shadow && graph.nodes.get(&s.graph_node).is_some_and(|g| g.kind == planmap_runtime::Kind::Matcher));
        let Some(step) = matcher else { continue };
        let gnode = &graph.nodes[&step.graph_node];
        let config = config_of(gnode, step.variant.as_deref().and_then(|v| variant_named(gnode, v)), ctx);
        groups.entry((step.graph_node.clone(), step.plugin.clone(), config)).or_default().push(i);
    }
    for ((gname, plugin_name, config), idxs) in groups {
        let Some(plugin) = snap.plugins.get(&plugin_name).cloned() else { continue };
        let gnode = &graph.nodes[&gname];
        for chunk in idxs.chunks(MAX_BATCH) {
            let mut batch = Batch::new(config.clone(), ctx.analysis_id.clone(), gname.clone(), graph.max_visits);
            let view: &[Walk] = walks;
            let rows = crossing(&mut batch, chunk.iter().map(|&i| (worded(&view[i]), view[i].out.feature_names.as_slice())), true);
            for &i in chunk {
                walks[i].input.visit = walks[i].visits.get(&gname).copied().unwrap_or(1);
            }
            let inputs = lend_inputs(walks, chunk, rows);
            let ids: Vec<&str> = inputs.iter().map(|x| x.node.id.as_str()).collect();
            let scope = CallScope { analysis_id: ctx.analysis_id.clone(), plugin: plugin_name.clone(), graph_node: gname.clone(), plan_node: batch_label(&ids) };
            let call = BatchCall { batch: &mut batch, inputs: &inputs, detail: NodeDetail::Full, limits: gnode.limits, grants: gnode.grants, capabilities: caps.clone(), scope: scope.clone() };
            let (result, report) = runtime.explain_batch(&plugin, call).await;
            give_back(walks, chunk, inputs);
            crate::metrics::record_invocation(&plugin_name, "", report.outcome, report.call);
            for &i in chunk {
                charge(&mut walks[i].out, &report, chunk.len());
            }
            match result {
                Ok(outs) => {
                    for (&i, r) in chunk.iter().zip(outs) {
                        match r {
                            Ok(o) => {
                                let w = &mut walks[i];
                                let scope = CallScope { plan_node: w.input.node.id.clone(), ..scope.clone() };
                                merge::apply(o, &mut w.out.candidates, &mut w.out.feature_names, caps.as_ref(), &scope).await;
                            }
                            Err(e) => tracing::warn!(plugin = %plugin_name, plan_node = %walks[i].input.node.id, "the matcher could not put its evidence in words: {}", e.message),
                        }
                    }
                }
                Err(e) => tracing::warn!("{e}; the evidence stays in numbers"),
            }
        }
    }
}

/// One graph node's step for a batch of walks: invoke (and shadows), then apply each
/// output and route each walk.
#[allow(clippy::too_many_arguments)]
async fn run_batch(runtime: &Runtime, snap: &Snapshot, graph: &Graph, gnode: &GraphNode, walks: &mut [Walk], chunk: &[usize], caps: &Arc<dyn Capabilities>, ctx: &RunContext) {
    let (variant, experiment) = choose(gnode, ctx);
    if gnode.kind == planmap_runtime::Kind::Retriever && caps.vectors_available() {
        // Fetched for the whole batch at once, not one request per node (texts the job
        // prefetched for the pass are not asked again).
        caps.prefetch_nearest(retrieval_texts(chunk.iter().map(|&i| &walks[i].input.node))).await;
    }
    let results = step(runtime, snap, gnode, variant.as_ref(), experiment.clone(), walks, chunk, caps, ctx, false, graph.max_visits).await;
    if let PluginChoice::Experiment { shadow, .. } = &gnode.plugin
        && !ctx.skip_shadows {
            for s in shadow {
                let answers = step(runtime, snap, gnode, Some(s), experiment.clone(), walks, chunk, caps, ctx, true, graph.max_visits).await;
                // Kept for comparison only: the live variant's output is what moves on.
                for (&i, r) in chunk.iter().zip(answers) {
                    if let Ok(StepOutput::Rankings(rs)) = r
                        && let Some(top) = rs.first() {
                            // A node that comes back here (a wider pass) keeps the shadow's latest answer.
                            let shadows = &mut walks[i].out.shadows;
                            shadows.retain(|a| !(a.graph_node == gnode.name && a.variant == s.name));
                            shadows.push(ShadowAnswer { graph_node: gnode.name.clone(), experiment: experiment.clone(), variant: s.name.clone(), plugin: s.plugin.clone(), site: top.site_id, confidence: top.confidence.clamp(0.0, 1.0) });
                        }
                }
            }
        }
    let current = &gnode.name;
    for (&i, result) in chunk.iter().zip(results) {
        let w = &mut walks[i];
        let output = match result {
            Ok(o) => o,
            Err(e) => {
                w.end(Terminal::Failed, Some(e.to_string()));
                continue;
            }
        };
        let scope = CallScope { analysis_id: ctx.analysis_id.clone(), plugin: String::new(), graph_node: current.clone(), plan_node: w.input.node.id.clone() };
        let next = match (output, &graph.routes[current]) {
            (StepOutput::Decision(_), NodeTarget::Next(_)) => {
                w.end(Terminal::Failed, Some(format!("graph node '{current}' returned a decision but is not a router")));
                continue;
            }
            (o, NodeTarget::Next(t)) => {
                merge::apply(o, &mut w.candidates, &mut w.feature_names, caps.as_ref(), &scope).await;
                t.clone()
            }
            (StepOutput::Decision(d), NodeTarget::Decisions(table)) => match table.get(&d.label) {
                Some(branch) => branch.pick(|c| match c {
                    Condition::Llm => caps.model_available(),
                }).clone(),
                None => {
                    let e = format!(
                        "router '{}' on graph node '{current}' returned decision '{}', which has no edge (edges: {})",
                        gnode.plugin.plugins().join("/"), d.label, table.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                    w.end(Terminal::Failed, Some(e));
                    continue;
                }
            },
            (_, NodeTarget::Decisions(_)) => {
                w.end(Terminal::Failed, Some(format!("graph node '{current}' has labelled edges but its plugin returned no decision")));
                continue;
            }
        };
        match next {
            Target::Node(n) => w.current = n,
            Target::Finish => w.end(Terminal::Finish, None),
            Target::Unmapped => w.end(Terminal::Unmapped, None),
        }
    }
}

/// The texts a retriever asks vectors for: each plan node's operator and fragment
/// (infrastructure nodes are not retrieved for).
pub fn retrieval_texts<'a>(nodes: impl Iterator<Item = &'a PlanNode>) -> Vec<String> {
    nodes.filter(|n| n.family != Family::Infrastructure).map(|n| format!("{} {}", n.operator, n.fragment)).collect()
}

/// Add a node's share of an invocation that served `n` nodes to its outcome: plugin,
/// host and boundary time (or, for a plugin that does not mark, a share of unmeasured).
fn charge(out: &mut NodeOutcome, rep: &InvokeReport, n: usize) {
    let k = n.max(1) as u32;
    out.plugin_time += rep.call / k;
    out.host_time += rep.usage.time / k;
    match rep.boundary() {
        Some(b) => out.boundary += b / k,
        None => out.unmarked += 1.0 / k as f64,
    }
}

/// The config text a graph node's plugin gets: the variant's (in an experiment) or the
/// node's, with `RETRIEVAL_TOP_K` laid over a retriever's `top_k`.
fn config_of(gnode: &GraphNode, variant: Option<&Variant>, ctx: &RunContext) -> String {
    match (variant, ctx.retrieval_top_k) {
        (_, Some(k)) if gnode.kind == planmap_runtime::Kind::Retriever => {
            let mut c = variant.and_then(|v| serde_json::from_str(&v.config_text).ok()).unwrap_or_else(|| gnode.config.clone());
            if let Some(o) = c.as_object_mut() {
                o.insert("top_k".into(), k.into());
            }
            c.to_string()
        }
        (Some(v), _) => v.config_text.clone(),
        (None, _) => gnode.config_text.clone(),
    }
}

/// A graph node's variant (or shadow variant) by name.
fn variant_named<'a>(gnode: &'a GraphNode, name: &str) -> Option<&'a Variant> {
    match &gnode.plugin {
        PluginChoice::Experiment { variants, shadow, .. } => variants.iter().chain(shadow).find(|v| v.name == name),
        PluginChoice::Single(_) => None,
    }
}

/// Fill in what a batch of walks hands a plugin: the union of their feature names, for
/// a matcher every site their candidates name (once), and every walk's candidates in
/// the batch's columns, their features against the union's; each walk's rows.
fn crossing<'a>(batch: &mut Batch, walks: impl Iterator<Item = (&'a [Candidate], &'a [String])> + Clone, with_sites: bool) -> Vec<Rows> {
    batch.feature_names = union_of(walks.clone().map(|(_, own)| own));
    let mut seen = std::collections::HashSet::new();
    if with_sites {
        batch.sites = walks.clone().flat_map(|(c, _)| c).filter(|c| seen.insert(c.site.id)).map(|c| c.site.clone()).collect();
    }
    walks
        .map(|(candidates, own)| {
            let slots = columns(own, &batch.feature_names);
            batch.push_candidates(candidates, &slots)
        })
        .collect()
}

/// The variant this run uses at a node (sticky by the experiment's key), if any.
fn choose(gnode: &GraphNode, ctx: &RunContext) -> (Option<Variant>, Option<String>) {
    match &gnode.plugin {
        PluginChoice::Single(_) => (None, None),
        PluginChoice::Experiment { name, salt, sticky_key, variants, .. } => {
            let key = match sticky_key {
                StickyKey::AnalysisId => &ctx.analysis_id,
                StickyKey::Repo => &ctx.repo,
                StickyKey::Tenant => &ctx.tenant,
            };
            (assign(salt, key, variants).cloned(), Some(name.clone()))
        }
    }
}

/// Invoke one plugin for a batch of walks; one result per walk. When the invocation
/// fails as a whole (trap, deadline, memory), each walk is retried alone, so the
/// failure lands on the node that caused it and the others go on.
#[allow(clippy::too_many_arguments)]
async fn step(
    runtime: &Runtime, snap: &Snapshot, gnode: &GraphNode, variant: Option<&Variant>, experiment: Option<String>,
    walks: &mut [Walk], chunk: &[usize], caps: &Arc<dyn Capabilities>, ctx: &RunContext, shadow: bool, max_visits: u32,
) -> Vec<Result<StepOutput, InvokeError>> {
    let plugin_name = match (&gnode.plugin, variant) {
        (_, Some(v)) => v.plugin.clone(),
        (PluginChoice::Single(p), None) => p.clone(),
        (PluginChoice::Experiment { .. }, None) => unreachable!("experiments always have a variant: weights are validated positive"),
    };
    // Validation guarantees every plugin a graph names is in the snapshot it was built with.
    let plugin = snap.plugins[&plugin_name].clone();
    let config = config_of(gnode, variant, ctx);
    // The inputs move into the batch and back.
    let mut batch = Batch::new(config, ctx.analysis_id.clone(), gnode.name.clone(), max_visits);
    let view: &[Walk] = walks;
    let rows = crossing(&mut batch, chunk.iter().map(|&i| (view[i].candidates.as_slice(), view[i].feature_names.as_slice())), gnode.kind == planmap_runtime::Kind::Matcher);
    for &i in chunk {
        let w = &mut walks[i];
        w.out.candidates_in += w.candidates.len();
    }
    let inputs = lend_inputs(walks, chunk, rows);
    if let Some(&first) = chunk.first() {
        walks[first].out.sites_in += batch.sites.len();
    }
    let ids: Vec<&str> = inputs.iter().map(|x| x.node.id.as_str()).collect();
    let scope = CallScope { analysis_id: ctx.analysis_id.clone(), plugin: plugin_name.clone(), graph_node: gnode.name.clone(), plan_node: batch_label(&ids) };
    let detail = if gnode.brief_node { NodeDetail::Brief } else { NodeDetail::Full };
    let call = BatchCall { batch: &mut batch, inputs: &inputs, detail, limits: gnode.limits, grants: gnode.grants, capabilities: caps.clone(), scope: scope.clone() };
    let (result, report) = runtime.invoke_batch(&plugin, call).await;
    let variant_name = variant.map(|v| v.name.as_str()).unwrap_or("");
    crate::metrics::record_invocation(&plugin_name, variant_name, report.outcome, report.call);
    // Each node's result with the report of the invocation that served it (its outcome
    // this node's) and how many nodes shared that invocation.
    let per_node: Vec<(Result<StepOutput, InvokeError>, InvokeReport, usize)> = match result {
        Ok(outs) => outs
            .into_iter()
            .zip(&inputs)
            .map(|(r, input)| {
                let mut rep = report.clone();
                let node_scope = CallScope { plan_node: input.node.id.clone(), ..scope.clone() };
                match r {
                    Ok(o) => {
                        rep.outcome = "ok";
                        (Ok(o), rep, inputs.len())
                    }
                    Err(e) => {
                        rep.outcome = "plugin-error";
                        let err = plugin_error(&plugin, &node_scope, e, &rep);
                        (Err(err), rep, inputs.len())
                    }
                }
            })
            .collect(),
        Err(e) if inputs.len() == 1 => vec![(Err(e), report, 1)],
        Err(_) => {
            // Find the culprit: each input alone.
            let mut v = Vec::with_capacity(inputs.len());
            for input in &inputs {
                let scope = CallScope { plan_node: input.node.id.clone(), ..scope.clone() };
                let one = Call { batch: &mut batch, input, detail, limits: gnode.limits, grants: gnode.grants, capabilities: caps.clone(), scope };
                let (r, rep) = runtime.invoke(&plugin, one).await;
                crate::metrics::record_invocation(&plugin_name, variant_name, rep.outcome, rep.call);
                v.push((r, rep, 1));
            }
            v
        }
    };
    give_back(walks, chunk, inputs);
    let mut results = Vec::with_capacity(chunk.len());
    for (&i, (r, rep, n)) in chunk.iter().zip(per_node) {
        let w = &mut walks[i];
        charge(&mut w.out, &rep, n);
        let (decision, reason) = match &r {
            Ok(StepOutput::Decision(Decision { label, reason })) => (Some(label.clone()), Some(reason.clone())),
            _ => (None, None),
        };
        w.out.steps.push(StepRecord {
            graph_node: gnode.name.clone(),
            plugin: plugin_name.clone(),
            digest: plugin.info.digest.clone(),
            experiment: experiment.clone(),
            variant: variant.map(|v| v.name.clone()),
            outcome: rep.outcome.to_string(),
            ms: (rep.call / n as u32).as_secs_f64() * 1e3,
            boundary_ms: rep.boundary().map(|b| (b / n as u32).as_secs_f64() * 1e3),
            decision,
            reason,
            shadow,
        });
        results.push(r);
    }
    results
}

/// How a batch is named in logs and errors: its node ids, shortened.
fn batch_label(ids: &[&str]) -> String {
    const SHOWN: usize = 8;
    if ids.len() <= SHOWN {
        ids.join(",")
    } else {
        format!("{} and {} more", ids[..SHOWN].join(","), ids.len() - SHOWN)
    }
}

/// The candidates of a finished walk that are put in words.
fn worded(w: &Walk) -> &[Candidate] {
    &w.out.candidates[..worded_len(&w.out.candidates)]
}


/// No candidate rows (a walk's input between calls).
const NO_ROWS: Rows = 0;

/// The walks' inputs for one invocation, moved out of them (no plan node is copied)
/// with the rows of the batch's candidates this call hands over; `give_back` returns
/// them.
fn lend_inputs(walks: &mut [Walk], chunk: &[usize], rows: Vec<Rows>) -> Vec<StepInput> {
    chunk
        .iter()
        .zip(rows)
        .map(|(&i, candidates)| {
            let stand_in = StepInput { node: PlanNode::named("", "", Family::Other), candidates: NO_ROWS, visit: 0 };
            let mut input = std::mem::replace(&mut walks[i].input, stand_in);
            input.candidates = candidates;
            input
        })
        .collect()
}

/// Each walk's input back from an invocation, without the call's rows.
fn give_back(walks: &mut [Walk], chunk: &[usize], inputs: Vec<StepInput>) {
    for (&i, mut input) in chunk.iter().zip(inputs) {
        input.candidates = NO_ROWS;
        walks[i].input = input;
    }
}
/// The feature names of several walks, each once, in order of first appearance.
fn union_of<'a>(lists: impl Iterator<Item = &'a [String]>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for list in lists {
        for n in list {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    names
}

/// Where each of `own` names sits in `names` (which holds them all).
fn columns(own: &[String], names: &[String]) -> Vec<usize> {
    own.iter().map(|n| names.iter().position(|x| x == n).unwrap_or(usize::MAX)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use planmap_runtime::model::{CodeSite, Location};

    fn scored(confidences: &[f64]) -> Vec<Candidate> {
        confidences
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let location = Location { file: "job.py".into(), symbol: "<module>".into(), line_start: i as u32 + 1, line_end: i as u32 + 1 };
                let site = CodeSite { id: i as u32, location, statement_start: 1, statement_end: 1, kind: "action".into(), columns: vec![], tables: vec![], literals: vec![], functions: vec![] };
                let mut cand = Candidate::proposed(site, 1.0);
                cand.assessed_mut().confidence = c;
                cand
            })
            .collect()
    }

    #[test]
    fn look_alikes_nearly_as_likely_as_the_best_are_worded_past_the_first_eight() {
        assert_eq!(worded_len(&[]), 0);
        assert_eq!(worded_len(&scored(&[0.9, 0.2])), 2);
        // Twenty copies of one count at 0.64 and 0.62, then weak ones: all the copies.
        let mut v = vec![0.64; 11];
        v.extend([0.62; 9]);
        v.extend([0.1; 5]);
        assert_eq!(worded_len(&scored(&v)), 20);
        // Never more than the cap, however many tie.
        assert_eq!(worded_len(&scored(&[0.5; 100])), MAX_WORDED);
        // Eight are always worded, even when they are weak.
        assert_eq!(worded_len(&scored(&[0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])), WORDED);
    }
}
