//! Plan ingestion on real plans of every format: node counts, ids, families, key
//! semantics and ownership on hand-checked nodes; bad input; fuzzing.

mod bad_input;
mod eventlogs;
mod formats;
mod fuzz;
mod generated;

use planmap::plan::{self, Family, Ownership, ParseOptions, Plan, PlanInput, PlanNode};
use std::path::{Path, PathBuf};

/// A fixture under tests/fixtures/plans.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/plans").join(rel)
}

pub fn load(rel: &str) -> Plan {
    load_with(rel, None)
}

pub fn load_with(rel: &str, execution: Option<i64>) -> Plan {
    let p = fixture(rel);
    plan::parse(PlanInput::Path(&p), &ParseOptions { execution, ..Default::default() }).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn node<'a>(plan: &'a Plan, id: &str) -> &'a PlanNode {
    plan.node(id).unwrap_or_else(|| panic!("no node {id}; ids: {:?}", plan.nodes.iter().map(|n| &n.id).collect::<Vec<_>>()))
}

pub fn first<'a>(plan: &'a Plan, op: &str) -> &'a PlanNode {
    plan.nodes.iter().find(|n| n.spark_operator == op).unwrap_or_else(|| panic!("no {op} in plan"))
}

pub fn induced_by(n: &PlanNode) -> Option<&str> {
    match &n.ownership {
        Ownership::Induced { by, .. } => Some(by.as_str()),
        _ => None,
    }
}

pub fn reason(n: &PlanNode) -> String {
    match &n.ownership {
        Ownership::Induced { reason, .. } => reason.clone(),
        o => format!("{o:?}"),
    }
}

pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub fn count(plan: &Plan, f: Family) -> usize {
    plan.nodes.iter().filter(|n| n.family == f).count()
}
