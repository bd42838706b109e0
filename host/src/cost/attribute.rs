//! Each node's share of the query's time. Spark times whole stages (task run time) and
//! codegen stages (`duration`), and only some operators time themselves (sort, build,
//! shuffle write, scan): a node gets its own timed part, plus a part of what is left of
//! its stage in proportion to the rows it reads.

use crate::plan::metrics::NodeMetrics;
use crate::plan::{Family, Plan};
use std::collections::HashMap;

/// Milliseconds per node id, and what they measure.
#[derive(Debug, Clone, Default)]
pub struct NodeTimes {
    pub ms: HashMap<String, f64>,
    pub total_ms: f64,
    /// `task time` (event logs: executor run time of the query's stages) or
    /// `operator time` (REST and profiles: the operators' own and codegen timings).
    pub basis: &'static str,
}

/// The rows a node works through: its inputs' output rows, or its own output for a leaf.
fn rows_in(plan: &Plan, id: &str) -> f64 {
    let m = &plan.metrics.nodes;
    let rows = |i: &str| m.get(i).and_then(NodeMetrics::output_rows).unwrap_or(0.0);
    let n = plan.node(id);
    let input: f64 = n.map(|n| n.children.iter().map(|c| rows(c)).sum()).unwrap_or(0.0);
    if input > 0.0 { input } else { rows(id) }
}

/// Split `pool` ms over `members` (id, own timed ms): own parts first (scaled down if
/// they exceed the pool), the rest by rows read. Adds into `out`.
fn split(plan: &Plan, pool: f64, members: &[(String, f64)], out: &mut HashMap<String, f64>) {
    if members.is_empty() || pool <= 0.0 {
        return;
    }
    let own: f64 = members.iter().map(|(_, t)| t).sum();
    let scale = if own > pool { pool / own } else { 1.0 };
    let rest = (pool - own).max(0.0);
    let code_owned = |id: &str| plan.node(id).is_some_and(|n| n.family != Family::Infrastructure);
    let takers: Vec<&(String, f64)> = if members.iter().any(|(id, _)| code_owned(id)) { members.iter().filter(|(id, _)| code_owned(id)).collect() } else { members.iter().collect() };
    let weights: Vec<f64> = takers.iter().map(|(id, _)| 1.0 + rows_in(plan, id)).collect();
    let wsum: f64 = weights.iter().sum();
    for (id, t) in members {
        *out.entry(id.clone()).or_default() += t * scale;
    }
    for ((id, _), w) in takers.iter().zip(&weights) {
        *out.entry(id.clone()).or_default() += rest * w / wsum;
    }
}

/// The time of every node the input has figures for.
pub fn node_times(plan: &Plan) -> NodeTimes {
    let mut ms = HashMap::new();
    let metrics = &plan.metrics;
    let basis = if !metrics.stages.is_empty() {
        for s in &metrics.stages {
            split(plan, s.task_ms, &s.nodes, &mut ms);
        }
        "task time"
    } else {
        // Codegen stages (REST lists them as nodes) time their members together.
        let mut stage_of: HashMap<u32, Vec<(String, f64)>> = HashMap::new();
        for n in &plan.nodes {
            let own = metrics.nodes.get(&n.id).and_then(NodeMetrics::own_time_ms).unwrap_or(0.0);
            match n.codegen_stage {
                Some(stage) if n.family != Family::Infrastructure => stage_of.entry(stage).or_default().push((n.id.clone(), own)),
                _ if own > 0.0 => *ms.entry(n.id.clone()).or_default() += own,
                _ => {}
            }
        }
        for n in plan.nodes.iter().filter(|n| n.operator.starts_with("WholeStageCodegen")) {
            let stage = n.operator.trim_start_matches("WholeStageCodegen").trim().trim_matches(['(', ')']).parse::<u32>().ok();
            let duration = metrics.nodes.get(&n.id).and_then(NodeMetrics::stage_duration_ms).unwrap_or(0.0);
            if let Some(members) = stage.and_then(|s| stage_of.remove(&s)) {
                let own: f64 = members.iter().map(|(_, t)| t).sum();
                split(plan, duration.max(own), &members, &mut ms);
            }
        }
        // Members of a stage whose duration is unknown keep their own timings.
        for (id, t) in stage_of.into_values().flatten() {
            *ms.entry(id).or_default() += t;
        }
        "operator time"
    };
    let total_ms = ms.values().sum();
    NodeTimes { ms, total_ms, basis }
}
