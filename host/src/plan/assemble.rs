//! From raw nodes to normalised plan nodes: ids, operator names, families,
//! semantics and ownership, in pre-order from the roots.

use super::expr;
use super::family::{family_of, spark_name};
use super::model::{Family, Ownership, PlanNode};
use super::raw::RawNode;
use super::{ownership, semantics};

/// Longest fragment kept per node (plans of wide tables print huge lines).
pub const MAX_FRAGMENT: usize = 4096;

/// The printed operator name of a raw node: `Scan parquet`, `Execute InsertInto...`,
/// else the first word.
pub fn operator_name(raw: &RawNode) -> String {
    if let Some(op) = &raw.operator {
        return op.clone();
    }
    let text = raw.field("__header").unwrap_or(&raw.text);
    let head_end = text.find([' ', '[', '(']).unwrap_or(text.len());
    let head = &text[..head_end];
    if matches!(head, "Scan" | "FileScan" | "BatchScan" | "Execute")
        && let Some(second) = text[head_end..].split_whitespace().next() {
            let second = second.split(['[', '(']).next().unwrap_or(second);
            if !second.is_empty() {
                return format!("{head} {second}");
            }
        }
    head.to_string()
}

/// Spark operator for a printed name (vendor names mapped; `Execute X` → X).
fn spark_operator(name: &str) -> String {
    if let Some(cmd) = name.strip_prefix("Execute ") {
        return cmd.to_string();
    }
    let s = spark_name(name);
    if s == "FileScan" || s == "BatchScan" { "Scan".into() } else { s }
}

/// Build plan nodes from raw nodes. Ids: the format's own, else the pre-order index.
pub fn assemble(raw: Vec<RawNode>, warnings: &mut Vec<String>) -> Vec<PlanNode> {
    let raw = merge_repeats(raw, warnings);
    let order = preorder(&raw);
    let mut ids: Vec<String> = vec![String::new(); raw.len()];
    for (pos, &i) in order.iter().enumerate() {
        ids[i] = raw[i].id.clone().unwrap_or_else(|| pos.to_string());
    }
    // Ids must be unique: a format with conflicting duplicates falls back to pre-order
    // positions.
    let mut seen = std::collections::HashSet::new();
    if !ids.iter().all(|id| seen.insert(id.clone())) {
        warnings.push("operator ids in the input are not unique; pre-order positions are used as ids".into());
        for (pos, &i) in order.iter().enumerate() {
            ids[i] = pos.to_string();
        }
    }
    let mut hosted: Vec<Vec<usize>> = vec![Vec::new(); raw.len()];
    for (j, r) in raw.iter().enumerate() {
        if let Some(h) = r.subquery_of {
            hosted[h].push(j);
        }
    }
    let mut unknown = Vec::new();
    let mut nodes: Vec<PlanNode> = order
        .iter()
        .map(|&i| {
            let r = &raw[i];
            let operator = operator_name(r);
            let spark = spark_operator(&operator);
            let family = family_of(&spark);
            if family == Family::Other && !unknown.contains(&operator) {
                unknown.push(operator.clone());
            }
            let sem = semantics::extract(&spark, family, r);
            let mut fragment = r.text.clone();
            for (k, v) in r.fields.iter().filter(|(k, _)| k != "__header") {
                fragment.push_str(&format!("\n{k}: {v}"));
            }
            crate::text::truncate(&mut fragment, MAX_FRAGMENT, " …");
            PlanNode {
                id: ids[i].clone(),
                operator,
                spark_operator: spark,
                family,
                parent: r.parent.map(|p| ids[p].clone()).or_else(|| r.subquery_of.map(|h| ids[h].clone())),
                children: r.children.iter().map(|c| ids[*c].clone()).collect(),
                reuses: r.reuses.clone(),
                subqueries: hosted[i].iter().map(|&j| ids[j].clone()).collect(),
                codegen_stage: r.codegen,
                ownership: Ownership::Owned,
                semantics: sem,
                fragment,
            }
        })
        .collect();
    if !unknown.is_empty() {
        warnings.push(format!("unknown operators kept with family `other`: {}", unknown.join(", ")));
    }
    let truncated = nodes.iter().filter(|n| n.semantics.truncated || expr::is_truncated(&n.fragment)).count();
    if truncated > 0 {
        warnings.push(format!("Spark truncated the text of {truncated} node(s) (`... N more fields`); their semantics are incomplete"));
        for n in nodes.iter_mut() {
            if expr::is_truncated(&n.fragment) {
                n.semantics.truncated = true;
            }
        }
    }
    ownership::infer(&mut nodes);
    nodes
}

/// A plan that reads one cached DataFrame several times prints the cached relation's
/// operators under each `InMemoryTableScan` with the same `(N)` ids: a repeated id with
/// the same operator text is the same node, so later copies (and the subtrees under
/// them, copies too) are dropped and their parents point at the first one.
fn merge_repeats(raw: Vec<RawNode>, warnings: &mut Vec<String>) -> Vec<RawNode> {
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut canon: Vec<usize> = (0..raw.len()).collect();
    let mut repeated = 0;
    for (i, r) in raw.iter().enumerate() {
        let Some(id) = r.id.as_deref() else { continue };
        match first.get(id) {
            Some(&j) if raw[j].text == r.text => {
                canon[i] = j;
                repeated += 1;
            }
            Some(_) => return raw, // a real conflict: ids are positions (see `assemble`)
            None => {
                first.insert(id, i);
            }
        }
    }
    if repeated == 0 {
        return raw;
    }
    // Keep canonical nodes; a copy's subtree is dropped with it.
    let mut keep = vec![true; raw.len()];
    for i in 0..raw.len() {
        let copy = canon[i] != i;
        let under_copy = raw[i].parent.is_some_and(|p| !keep[p]) && raw[i].parent.is_some_and(|p| p < i);
        if copy || under_copy {
            keep[i] = false;
        }
    }
    let new_index: Vec<Option<usize>> = {
        let mut n = 0;
        keep.iter().map(|&k| k.then(|| { n += 1; n - 1 })).collect()
    };
    let at = |i: usize| new_index[canon[i]];
    let mut out = Vec::with_capacity(raw.len() - repeated);
    for (i, mut r) in raw.into_iter().enumerate() {
        if !keep[i] {
            continue;
        }
        r.parent = r.parent.and_then(at);
        let mut children: Vec<usize> = r.children.iter().filter_map(|&c| at(c)).collect();
        children.dedup();
        r.children = children;
        r.subquery_of = r.subquery_of.and_then(at);
        out.push(r);
    }
    warnings.push(format!("{repeated} operator(s) are printed more than once with the same id (a cached relation read several times); each is one node"));
    out
}

/// Pre-order over the roots: main roots (no parent, not a subquery) first, then subqueries.
fn preorder(raw: &[RawNode]) -> Vec<usize> {
    let mut out = Vec::with_capacity(raw.len());
    let mut seen = vec![false; raw.len()];
    let roots: Vec<usize> = (0..raw.len())
        .filter(|&i| raw[i].parent.is_none() && raw[i].subquery_of.is_none())
        .chain((0..raw.len()).filter(|&i| raw[i].parent.is_none() && raw[i].subquery_of.is_some()))
        .collect();
    for r in roots {
        let mut stack = vec![r];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.push(i);
            for &c in raw[i].children.iter().rev() {
                stack.push(c);
            }
        }
    }
    // Anything unreachable (a cycle in broken input) is still kept, never dropped.
    out.extend((0..raw.len()).filter(|&i| !seen[i]));
    out
}
