//! `planmap plan show` output: the normalised tree, one line per node.

use super::model::{Ownership, Plan, PlanNode, Semantics};
use std::fmt::Write;

/// The key semantics of a node on one line.
pub fn semantics_line(s: &Semantics) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut list = |name: &str, v: &[String]| {
        if !v.is_empty() {
            parts.push(format!("{name}=[{}]", v.join(", ")));
        }
    };
    list("tables", &s.tables);
    list("paths", &s.paths);
    list("left", &s.left_keys);
    list("right", &s.right_keys);
    list("keys", &s.grouping_keys);
    list("agg", &s.aggregate_functions);
    list("window", &s.window_functions);
    list("partition", &s.window_partition);
    list("udf", &s.udfs);
    list("aliases", &s.aliases);
    list("pred", &s.predicates);
    if !s.sort_keys.is_empty() {
        parts.push(format!("sort=[{}]", s.sort_keys.iter().map(|k| format!("{} {}", k.expr, if k.ascending { "asc" } else { "desc" })).collect::<Vec<_>>().join(", ")));
    }
    if let Some(j) = &s.join_type {
        parts.push(format!("join={j}{}", s.build_side.as_ref().map(|b| format!("/{b}")).unwrap_or_default()));
    }
    if let Some(l) = s.limit {
        parts.push(format!("limit={l}"));
    }
    if let Some(w) = &s.write_target {
        parts.push(format!("target={w}"));
    }
    if parts.is_empty() && !s.columns.is_empty() {
        parts.push(format!("cols=[{}]", s.columns.iter().take(8).cloned().collect::<Vec<_>>().join(", ")));
    }
    if !s.flags.is_empty() {
        parts.push(format!("({})", s.flags.join(",")));
    }
    if s.truncated {
        parts.push("[truncated]".into());
    }
    parts.join(" ")
}

fn ownership(n: &PlanNode) -> String {
    match &n.ownership {
        Ownership::Owned => "owned".into(),
        Ownership::Infrastructure => "infra".into(),
        Ownership::Induced { by, reason } => format!("induced({by}: {reason})"),
    }
}

/// The plan as an indented text tree.
pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "format: {:?}, source: {}, {} nodes", plan.format, plan.source, plan.nodes.len());
    if let Some(e) = &plan.execution {
        let _ = writeln!(out, "execution {}: {} ({} at {})", e.id, e.description, e.nodes, e.call_site);
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let by_id: std::collections::HashMap<&str, &PlanNode> = plan.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    fn walk(out: &mut String, by_id: &std::collections::HashMap<&str, &PlanNode>, n: &PlanNode, depth: usize) {
        let _ = writeln!(out, "{}{:>4} {} [{}] {} {}", "  ".repeat(depth), n.id, n.operator, n.family.name(), ownership(n), semantics_line(&n.semantics));
        for c in n.children.iter().chain(&n.subqueries) {
            if let Some(child) = by_id.get(c.as_str()) {
                walk(out, by_id, child, depth + 1);
            }
        }
    }
    for r in plan.nodes.iter().filter(|n| n.parent.is_none()) {
        walk(&mut out, &by_id, r, 0);
    }
    out
}
