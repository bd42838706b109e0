//! Databricks query-profile export: `graphs[].nodes` with metadata keys and
//! parent → child `edges`. Node ids are the profile's ids.

use super::family::spark_name_from_tag;
use super::metrics::{Metric, NodeMetrics, PlanMetrics, Unit};
use super::raw::{link, RawNode};
use super::PlanError;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
pub struct Profile {
    pub graphs: Vec<Graph>,
}

#[derive(Deserialize)]
pub struct Graph {
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

#[derive(Deserialize)]
pub struct Node {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub metadata: Vec<Meta>,
    #[serde(default)]
    pub metrics: Vec<ProfileMetric>,
    #[serde(rename = "keyMetrics", default)]
    pub key_metrics: HashMap<String, serde_json::Value>,
}

/// One metric of a profile node: label, type and a numeric value.
#[derive(Deserialize)]
pub struct ProfileMetric {
    pub label: String,
    #[serde(rename = "metricType", default)]
    pub metric_type: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// The profile's metrics by node id. Photon reports each operator's exclusive time; a
/// cumulative time includes its children's and is kept under its name but never added.
pub fn metrics(p: &Profile) -> PlanMetrics {
    let mut out = PlanMetrics { source: Some("Databricks query profile: per-operator metrics".into()), ..Default::default() };
    let Some(g) = p.graphs.first() else { return out };
    for n in &g.nodes {
        let mut node = NodeMetrics::default();
        for m in &n.metrics {
            let Some(v) = super::accumulators::number(&m.value) else { continue };
            let (unit, scale) = match m.metric_type.as_str() {
                "TIMING_METRIC_NS" => (Unit::Millis, 1e-6),
                "TIMING_METRIC_MS" => (Unit::Millis, 1.0),
                "SIZE_METRIC_BYTES" => (Unit::Bytes, 1.0),
                _ => (Unit::Count, 1.0),
            };
            // Cumulative times overlap their children's: not this operator's own cost.
            let unit = if unit == Unit::Millis && m.label.to_ascii_lowercase().contains("cumulative") { Unit::Cumulative } else { unit };
            node.metrics.push(Metric::total(&m.label, unit, v * scale));
        }
        if node.output_rows().is_none() && let Some(rows) = n.key_metrics.get("rowsNum").and_then(super::accumulators::number) {
            node.metrics.push(Metric::total("number of output rows", Unit::Count, rows));
        }
        if node.peak_memory().is_none() && let Some(b) = n.key_metrics.get("peakMemoryBytes").and_then(super::accumulators::number) {
            node.metrics.push(Metric::total("peak memory", Unit::Bytes, b));
        }
        out.nodes.insert(n.id.clone(), node);
    }
    out
}

#[derive(Deserialize)]
pub struct Meta {
    pub key: String,
    pub value: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Deserialize)]
pub struct Edge {
    #[serde(rename = "fromId")]
    pub from: String,
    #[serde(rename = "toId")]
    pub to: String,
}

/// Raw nodes of the profile's first graph.
pub fn raw_nodes(p: &Profile) -> Result<(Vec<RawNode>, Vec<String>), PlanError> {
    let g = p.graphs.first().ok_or_else(|| PlanError::NoPlan("query profile has no graphs".into()))?;
    let mut warnings = Vec::new();
    if p.graphs.len() > 1 {
        warnings.push(format!("query profile has {} graphs; the first was used", p.graphs.len()));
    }
    let mut nodes = Vec::with_capacity(g.nodes.len());
    let mut pos = HashMap::new();
    for n in &g.nodes {
        pos.insert(n.id.clone(), nodes.len());
        let spark = spark_name_from_tag(&n.tag).unwrap_or_else(|| n.name.replace(' ', ""));
        let fields: Vec<(String, String)> = n
            .metadata
            .iter()
            .map(|m| (m.key.clone(), if m.values.is_empty() { m.value.clone().unwrap_or_default() } else { format!("[{}]", m.values.join(", ")) }))
            .collect();
        let text = if spark == "Scan" { format!("Scan {}", n.name.trim_start_matches("Scan ")) } else { n.name.clone() };
        let mut fields = fields;
        fields.push(("PROFILE_NAME".into(), n.name.clone()));
        nodes.push(RawNode { id: Some(n.id.clone()), text, operator: Some(spark), fields, ..Default::default() });
    }
    for e in &g.edges {
        match (pos.get(&e.from), pos.get(&e.to)) {
            (Some(&p), Some(&c)) if nodes[c].parent.is_none() && p != c => link(&mut nodes, p, c),
            (Some(_), Some(_)) => {}
            _ => warnings.push(format!("edge {} → {} names an unknown node; ignored", e.from, e.to)),
        }
    }
    Ok((nodes, warnings))
}
