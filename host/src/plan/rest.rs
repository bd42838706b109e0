//! Spark REST `/api/v1/applications/<app>/sql/<id>` JSON: nodes and edges without
//! descriptions. Node ids are Spark's `nodeId`; semantics come from `planDescription`
//! when present, aligned to the nodes by operator name in pre-order.

use super::assemble::operator_name;
use super::metrics::{parse_rest_metric, NodeMetrics, PlanMetrics};
use super::raw::{link, RawNode};
use super::{text, PlanError};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
pub struct Execution {
    pub id: i64,
    #[serde(default)]
    pub description: String,
    #[serde(rename = "planDescription", default)]
    pub plan_description: String,
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
}

#[derive(Deserialize)]
pub struct Node {
    #[serde(rename = "nodeId")]
    pub node_id: i64,
    #[serde(rename = "nodeName")]
    pub node_name: String,
    #[serde(rename = "wholeStageCodegenId")]
    pub codegen: Option<u32>,
    #[serde(default)]
    pub metrics: Vec<RestMetric>,
}

/// A metric as the REST API prints it: name and display value.
#[derive(Deserialize)]
pub struct RestMetric {
    pub name: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

/// The execution's metrics by node id, read from the values the REST API displays.
pub fn metrics(e: &Execution) -> PlanMetrics {
    let mut out = PlanMetrics { source: Some(format!("REST execution {}: the metric values Spark displays", e.id)), ..Default::default() };
    let mut unreadable = 0;
    for n in &e.nodes {
        let mut node = NodeMetrics::default();
        for m in &n.metrics {
            let value = match &m.value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match parse_rest_metric(&m.name, &value) {
                Some(metric) => node.metrics.push(metric),
                None => unreadable += 1,
            }
        }
        out.nodes.insert(n.node_id.to_string(), node);
    }
    if unreadable > 0 {
        out.note = Some(format!("{unreadable} metric value(s) are not numbers Spark's UI prints and were left out"));
    }
    out
}

#[derive(Deserialize)]
pub struct Edge {
    #[serde(rename = "fromId")]
    pub from: i64,
    #[serde(rename = "toId")]
    pub to: i64,
}

/// Raw nodes of one execution, plus warnings.
pub fn raw_nodes(e: &Execution) -> Result<(Vec<RawNode>, Vec<String>), PlanError> {
    let mut warnings = Vec::new();
    if e.nodes.is_empty() {
        return Err(PlanError::NoPlan(format!("REST execution {} has no nodes", e.id)));
    }
    let mut nodes: Vec<RawNode> = Vec::with_capacity(e.nodes.len());
    let mut pos: HashMap<i64, usize> = HashMap::new();
    // Spark assigns REST ids in pre-order, so sorting by id restores that order.
    let mut sorted: Vec<&Node> = e.nodes.iter().collect();
    sorted.sort_by_key(|n| n.node_id);
    for n in sorted {
        pos.insert(n.node_id, nodes.len());
        let mut raw = text::node_from_line(n.node_name.trim());
        raw.id = Some(n.node_id.to_string());
        raw.operator = Some(n.node_name.trim().to_string());
        raw.codegen = n.codegen;
        nodes.push(raw);
    }
    for edge in &e.edges {
        // An edge goes from a child to its parent.
        match (pos.get(&edge.to), pos.get(&edge.from)) {
            (Some(&p), Some(&c)) if nodes[c].parent.is_none() && p != c => link(&mut nodes, p, c),
            (Some(_), Some(_)) => {}
            _ => warnings.push(format!("edge {} → {} names an unknown node; ignored", edge.from, edge.to)),
        }
    }
    if !e.plan_description.trim().is_empty() {
        match text::parse(&e.plan_description) {
            Ok(tp) => align(&mut nodes, &tp.nodes),
            Err(err) => warnings.push(format!("planDescription could not be read ({err}); semantics come from node names only")),
        }
    } else {
        warnings.push("no planDescription: semantics are limited to operator names".into());
    }
    Ok((nodes, warnings))
}

/// Copy text and detail fields from described nodes onto REST nodes with the same
/// operator, walking both in pre-order.
fn align(nodes: &mut [RawNode], described: &[RawNode]) {
    let key = |r: &RawNode| super::family::spark_name(&operator_name(r));
    let mut cursor = 0;
    for n in nodes.iter_mut() {
        let k = key(n);
        if let Some(off) = described[cursor.min(described.len())..].iter().take(12).position(|d| key(d) == k) {
            let d = &described[cursor + off];
            n.text = d.text.clone();
            n.fields = d.fields.clone();
            n.fields.retain(|(k, _)| k != "__header");
            n.fields.push(("explainId".into(), d.id.clone().unwrap_or_default()));
            if let Some(h) = d.field("__header") {
                n.fields.insert(0, ("__header".into(), h.to_string()));
            }
            n.reuses = None;
            cursor += off + 1;
        }
    }
}
