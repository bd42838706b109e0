//! Runs a mapping graph for one plan node: step by step through the graph's nodes,
//! following the router's decisions, within the loop bound, recording every step.

mod assign;
mod merge;

pub use assign::{assign, bucket};

use crate::graph::{Graph, GraphNode, NodeTarget, PluginChoice, StickyKey, Target, Variant};
use crate::snapshot::Snapshot;
use planmap_runtime::wit::{Candidate, Decision, PlanNode, StepContext, StepInput};
use planmap_runtime::{Call, CallScope, Capabilities, InvokeError, Runtime, StepOutput};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Hard cap on steps for one plan node, whatever the graph says: a graph of N nodes
/// with `max_visits` V can take at most N*V steps; this guards against a bug there.
pub const MAX_STEPS: usize = 256;

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
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    pub graph_node: String,
    pub plugin: String,
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub outcome: &'static str,
    pub ms: f64,
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
    /// Time spent inside plugin invocations (instantiate + call).
    pub plugin_time: std::time::Duration,
    /// Of which inside host capability calls.
    pub host_time: std::time::Duration,
    /// Candidates handed into steps, summed over steps (what crossed into the sandbox).
    pub candidates_in: usize,
    /// Of which already assessed (with features and evidence).
    pub assessed_in: usize,
}

/// Run `graph` for `node`. Plugin failures end this node's run (recorded in the
/// outcome); they never propagate to the rest of the job.
pub async fn run_node(runtime: &Runtime, snap: &Snapshot, graph: &Graph, node: PlanNode, caps: Arc<dyn Capabilities>, ctx: &RunContext) -> NodeOutcome {
    let mut out = NodeOutcome { candidates: Vec::new(), terminal: Terminal::Failed, steps: Vec::new(), error: None, plugin_time: Default::default(), host_time: Default::default(), candidates_in: 0, assessed_in: 0 };
    let mut visits: BTreeMap<String, u32> = BTreeMap::new();
    let mut current = graph.entry.clone();
    let mut input = StepInput { node, candidates: Vec::new(), config: String::new(), context: StepContext { analysis_id: ctx.analysis_id.clone(), graph_node: String::new(), visit: 0, max_visits: graph.max_visits } };
    for _ in 0..MAX_STEPS {
        let gnode = &graph.nodes[&current];
        let visit = visits.entry(current.clone()).or_default();
        *visit += 1;
        if *visit > graph.max_visits {
            // The loop bound is reached: report what we have.
            out.terminal = Terminal::Finish;
            out.candidates = input.candidates;
            return out;
        }
        input.context.graph_node = current.clone();
        input.context.visit = *visit;
        let (variant, experiment) = choose(gnode, ctx);
        let result = step(runtime, snap, gnode, variant.as_ref(), experiment.clone(), &mut input, caps.clone(), ctx, false, &mut out).await;
        if let PluginChoice::Experiment { shadow, .. } = &gnode.plugin
            && !ctx.skip_shadows {
                for s in shadow {
                    let _ = step(runtime, snap, gnode, Some(s), experiment.clone(), &mut input, caps.clone(), ctx, true, &mut out).await;
                }
            }
        let output = match result {
            Ok(o) => o,
            Err(e) => {
                out.error = Some(e.to_string());
                out.terminal = Terminal::Failed;
                out.candidates = input.candidates;
                return out;
            }
        };
        let scope = CallScope { analysis_id: ctx.analysis_id.clone(), plugin: String::new(), graph_node: current.clone(), plan_node: input.node.id.clone() };
        let next = match (output, &graph.routes[&current]) {
            (StepOutput::Decision(_), NodeTarget::Next(_)) => {
                out.error = Some(format!("graph node '{current}' returned a decision but is not a router"));
                out.candidates = input.candidates;
                return out;
            }
            (o, NodeTarget::Next(t)) => {
                merge::apply(o, &mut input.candidates, caps.as_ref(), &scope).await;
                t.clone()
            }
            (StepOutput::Decision(d), NodeTarget::Decisions(table)) => match table.get(&d.label) {
                Some(t) => t.clone(),
                None => {
                    out.error = Some(format!(
                        "router '{}' on graph node '{current}' returned decision '{}', which has no edge (edges: {})",
                        gnode.plugin.plugins().join("/"), d.label, table.keys().cloned().collect::<Vec<_>>().join(", ")
                    ));
                    out.candidates = input.candidates;
                    return out;
                }
            },
            (_, NodeTarget::Decisions(_)) => {
                out.error = Some(format!("graph node '{current}' has labelled edges but its plugin returned no decision"));
                out.candidates = input.candidates;
                return out;
            }
        };
        match next {
            Target::Node(n) => current = n,
            Target::Finish => {
                out.terminal = Terminal::Finish;
                out.candidates = input.candidates;
                return out;
            }
            Target::Unmapped => {
                out.terminal = Terminal::Unmapped;
                out.candidates = input.candidates;
                return out;
            }
        }
    }
    out.error = Some(format!("graph '{}' took more than {MAX_STEPS} steps", graph.name));
    out.candidates = input.candidates;
    out
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

#[allow(clippy::too_many_arguments)]
async fn step(
    runtime: &Runtime, snap: &Snapshot, gnode: &GraphNode, variant: Option<&Variant>, experiment: Option<String>,
    input: &mut StepInput, caps: Arc<dyn Capabilities>, ctx: &RunContext, shadow: bool, out: &mut NodeOutcome,
) -> Result<StepOutput, InvokeError> {
    let plugin_name = match (&gnode.plugin, variant) {
        (_, Some(v)) => v.plugin.clone(),
        (PluginChoice::Single(p), None) => p.clone(),
        (PluginChoice::Experiment { .. }, None) => unreachable!("experiments always have a variant: weights are validated positive"),
    };
    // Validation guarantees every plugin a graph names is in the snapshot it was built with.
    let plugin = snap.plugins[&plugin_name].clone();
    input.config = match (variant, ctx.retrieval_top_k) {
        (_, Some(k)) if gnode.kind == planmap_runtime::Kind::Retriever => {
            let mut c = variant.and_then(|v| serde_json::from_str(&v.config_text).ok()).unwrap_or_else(|| gnode.config.clone());
            if let Some(o) = c.as_object_mut() {
                o.insert("top_k".into(), k.into());
            }
            c.to_string()
        }
        (Some(v), _) => v.config_text.clone(),
        (None, _) => gnode.config_text.clone(),
    };
    let scope = CallScope { analysis_id: ctx.analysis_id.clone(), plugin: plugin_name.clone(), graph_node: gnode.name.clone(), plan_node: input.node.id.clone() };
    out.candidates_in += input.candidates.len();
    out.assessed_in += input.candidates.iter().filter(|c| c.assessed.is_some()).count();
    let call = Call { input, limits: gnode.limits, grants: gnode.grants, capabilities: caps, scope };
    let (result, report) = runtime.invoke(&plugin, call).await;
    out.plugin_time += report.call;
    out.host_time += report.usage.time;
    crate::metrics::record_invocation(&plugin_name, variant.map(|v| v.name.as_str()).unwrap_or(""), report.outcome, report.call);
    let (decision, reason) = match &result {
        Ok(StepOutput::Decision(Decision { label, reason })) => (Some(label.clone()), Some(reason.clone())),
        _ => (None, None),
    };
    out.steps.push(StepRecord {
        graph_node: gnode.name.clone(),
        plugin: plugin_name,
        digest: plugin.info.digest.clone(),
        experiment,
        variant: variant.map(|v| v.name.clone()),
        outcome: report.outcome,
        ms: report.call.as_secs_f64() * 1e3,
        decision,
        reason,
        shadow,
    });
    result
}
