//! A JSON list of DAG nodes as other tools send them:
//! `{id, operator, keys?, aggregations?, filters?, sortColumns?, children?, physicalPlanFragment, metadata?}`.

use super::raw::{link, RawNode};
use super::{text, PlanError};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DagNode {
    pub id: serde_json::Value,
    pub operator: String,
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub aggregations: Vec<String>,
    #[serde(default)]
    pub filters: Vec<String>,
    #[serde(default)]
    pub sort_columns: Vec<String>,
    #[serde(default)]
    pub children: Vec<serde_json::Value>,
    #[serde(default)]
    pub physical_plan_fragment: String,
    #[serde(default)]
    pub metadata: HashMap<String, serde_json::Value>,
}

fn id_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Raw nodes from the list; the fragment is read like a tree line for semantics, and
/// the explicit fields are added as details.
pub fn raw_nodes(list: &[DagNode]) -> Result<(Vec<RawNode>, Vec<String>), PlanError> {
    if list.is_empty() {
        return Err(PlanError::NoPlan("the DAG node list is empty".into()));
    }
    let mut warnings = Vec::new();
    let mut nodes = Vec::with_capacity(list.len());
    let mut pos = HashMap::new();
    for (i, d) in list.iter().enumerate() {
        let id = id_str(&d.id);
        if pos.insert(id.clone(), i).is_some() {
            return Err(PlanError::Malformed(format!("DAG node id {id} appears twice (at index {i})")));
        }
        let fragment = if d.physical_plan_fragment.trim().is_empty() { d.operator.clone() } else { d.physical_plan_fragment.trim().to_string() };
        let first = fragment.lines().next().unwrap_or("");
        let mut raw = text::node_from_line(first.trim_start_matches([' ', ':', '|', '+', '-']));
        raw.id = Some(id);
        raw.operator = Some(d.operator.clone());
        for line in fragment.lines().skip(1) {
            if let Some((k, v)) = line.split_once(": ") {
                raw.fields.push((k.split(" [").next().unwrap_or(k).trim().to_string(), v.trim().to_string()));
            }
        }
        if !d.keys.is_empty() {
            let keys = format!("[{}]", d.keys.join(", "));
            if d.operator.contains("Join") {
                raw.fields.push(("Left keys".into(), keys.clone()));
                raw.fields.push(("Right keys".into(), keys));
            } else {
                raw.fields.push(("Keys".into(), keys));
            }
        }
        if !d.aggregations.is_empty() {
            raw.fields.push(("Functions".into(), format!("[{}]", d.aggregations.join(", "))));
        }
        if !d.filters.is_empty() {
            raw.fields.push(("Condition".into(), d.filters.join(" AND ")));
        }
        if !d.sort_columns.is_empty() {
            raw.fields.push(("Arguments".into(), format!("[{}], true, 0", d.sort_columns.join(", "))));
        }
        for (k, v) in &d.metadata {
            raw.fields.push((k.clone(), match v { serde_json::Value::String(s) => s.clone(), o => o.to_string() }));
        }
        nodes.push(raw);
    }
    for (i, d) in list.iter().enumerate() {
        for c in &d.children {
            match pos.get(&id_str(c)) {
                Some(&ci) if nodes[ci].parent.is_none() && ci != i => link(&mut nodes, i, ci),
                Some(_) => warnings.push(format!("node {} lists child {} which already has a parent; ignored", id_str(&d.id), id_str(c))),
                None => warnings.push(format!("node {} lists unknown child {}; ignored", id_str(&d.id), id_str(c))),
            }
        }
    }
    Ok((nodes, warnings))
}
