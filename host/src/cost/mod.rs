//! Where the time goes, by line of code: each plan node's share of the query's task
//! time (from the metrics the input carries), added up by the code span that owns it —
//! its own nodes and the shuffles and sorts it induced — and the anti-patterns a Spark
//! engineer would fix, each at its span with the numbers that show it.

mod attribute;
pub mod findings;
pub mod hotspots;

pub use attribute::{node_times, NodeTimes};
pub use findings::{find, Finding, RULES};
pub use hotspots::{rank, Hotspot, Hotspots};

use crate::mapping::MapResult;
use crate::plan::metrics::Metric;
use crate::plan::Plan;
use serde::{Deserialize, Serialize};

/// One node's cost, beside its mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCost {
    /// Its estimated share of the query's time (see `Hotspots::basis`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_ms: Option<f64>,
    /// The metrics as the input reports them, units normalised.
    pub metrics: Vec<Metric>,
    /// What the input does not say about this node, of rows, time, shuffle and spill.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// The quantities a node's cost is read from, and whether its metrics hold each.
fn unknown(family: &str, m: Option<&crate::plan::metrics::NodeMetrics>, ms: Option<f64>) -> Vec<String> {
    let mut out = Vec::new();
    let has = |f: &dyn Fn(&crate::plan::metrics::NodeMetrics) -> bool| m.is_some_and(f);
    if !has(&|m| m.output_rows().is_some() || m.get("records read").is_some()) {
        out.push("rows".to_string());
    }
    if ms.is_none() {
        out.push("time".to_string());
    }
    if family == "exchange" && !has(&|m| m.shuffle_written().is_some() || m.data_size().is_some()) {
        out.push("shuffle bytes".to_string());
    }
    if matches!(family, "sort" | "aggregate" | "join" | "window") && !has(&|m| m.spill().is_some()) {
        out.push("spill".to_string());
    }
    out
}

/// A mapped plan's costs: the ranking by span and the findings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub hotspots: Hotspots,
    pub findings: Vec<Finding>,
}

impl Default for Cost {
    fn default() -> Self {
        Cost { hotspots: Hotspots::unknown(None, ""), findings: Vec::new() }
    }
}

/// Put each node's metrics on its mapping and the plan's ranking and findings on the result.
pub fn annotate(plan: &Plan, result: &mut MapResult) {
    let times = node_times(plan);
    for m in &mut result.mappings {
        let metrics = plan.metrics.nodes.get(&m.dag_node_id);
        let ms = times.ms.get(&m.dag_node_id).copied();
        // Where the plan has metrics at all, every node that code owns says what is known.
        let reported = metrics.is_some_and(|n| !n.metrics.is_empty());
        if reported || ms.is_some() || (plan.metrics.known() && m.ownership != "infrastructure") {
            m.cost = Some(NodeCost { estimated_ms: ms, metrics: metrics.map(|n| n.metrics.clone()).unwrap_or_default(), unknown: unknown(&m.family, metrics, ms) });
        }
    }
    result.cost = Cost { hotspots: rank(plan, result, &times), findings: find(plan, result, &times) };
}
