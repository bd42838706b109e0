//! Who owns each node: code-owned, planner-induced (and by which neighbour, why), or
//! pure infrastructure. Induced nodes are attributed to the operator that required
//! them so the mapper can point at the code of that operator.

use super::model::{Family, Ownership, PlanNode};
use std::collections::HashMap;

/// How far up the tree a cause is searched; deeper chains are not planner patterns.
const MAX_CLIMB: usize = 12;

fn label(n: &PlanNode) -> String {
    format!("{} ({})", n.operator, n.id)
}

fn has(n: &PlanNode, flag: &str) -> bool {
    n.semantics.flags.iter().any(|f| f == flag)
}

/// Walk up from `i`, skipping nodes for which `skip` holds, and return the first
/// ancestor for which `want` holds.
fn ancestor(nodes: &[PlanNode], pos: &HashMap<String, usize>, i: usize, skip: impl Fn(&PlanNode) -> bool, want: impl Fn(&PlanNode) -> bool) -> Option<usize> {
    let mut cur = i;
    for _ in 0..MAX_CLIMB {
        let p = *pos.get(nodes[cur].parent.as_ref()?)?;
        if want(&nodes[p]) {
            return Some(p);
        }
        if !skip(&nodes[p]) {
            return None;
        }
        cur = p;
    }
    None
}

fn is_infra(n: &PlanNode) -> bool {
    n.family == Family::Infrastructure
}

fn local_sort(n: &PlanNode) -> bool {
    n.family == Family::Sort && !has(n, "global")
}

/// Fill in `ownership` for every node.
pub fn infer(nodes: &mut [PlanNode]) {
    let pos: HashMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id.clone(), i)).collect();
    let mut result: Vec<Ownership> = Vec::with_capacity(nodes.len());
    for i in 0..nodes.len() {
        result.push(classify(nodes, &pos, i));
    }
    // A cause that is itself induced (a shuffle under a partial aggregate) hands the
    // node on to that cause's owner, so `by` always names code-owned work.
    let resolved: Vec<Ownership> = result
        .iter()
        .map(|o| match o {
            Ownership::Induced { by, reason } => {
                let mut owner = by.clone();
                for _ in 0..MAX_CLIMB {
                    match pos.get(&owner).map(|&p| &result[p]) {
                        Some(Ownership::Induced { by: next, .. }) if *next != owner => owner = next.clone(),
                        _ => break,
                    }
                }
                Ownership::Induced { by: owner, reason: reason.clone() }
            }
            other => other.clone(),
        })
        .collect();
    for (n, o) in nodes.iter_mut().zip(resolved) {
        n.ownership = o;
    }
}

fn induced(by: &PlanNode, reason: String) -> Ownership {
    Ownership::Induced { by: by.id.clone(), reason }
}

fn classify(nodes: &[PlanNode], pos: &HashMap<String, usize>, i: usize) -> Ownership {
    let n = &nodes[i];
    let op = n.spark_operator.as_str();
    if is_infra(n) {
        return Ownership::Infrastructure;
    }
    // A CSV reader infers its header and schema with a query of its own: a text scan of
    // the file, blank lines filtered out, (for the header) the first row taken.
    if let Some(scan) = csv_inference_scan(nodes, pos, i) {
        return induced(&nodes[scan], format!("the CSV reader's own query over {} (header or schema inference)", label(&nodes[scan])));
    }
    // The cached relation an `InMemoryTableScan` reads is that scan's data: the code that
    // cached it.
    if op == "InMemoryRelation"
        && let Some(&p) = n.parent.as_ref().and_then(|p| pos.get(p))
        && nodes[p].spark_operator == "InMemoryTableScan" {
            return induced(&nodes[p], format!("the cached relation {} reads", label(&nodes[p])));
        }
    let subquery_root = n.parent.as_ref().and_then(|p| pos.get(p)).is_some_and(|&h| nodes[h].subqueries.contains(&n.id));
    if subquery_root && matches!(n.family, Family::Exchange | Family::Subquery) && n.spark_operator != "Subquery" {
        let h = pos[n.parent.as_ref().unwrap()];
        return induced(&nodes[h], format!("dynamic partition pruning for {}", label(&nodes[h])));
    }
    if let Some(r) = &n.reuses
        && let Some(&t) = pos.get(r) {
            let consumer = ancestor(nodes, pos, i, |a| is_infra(a) || local_sort(a) || matches!(a.family, Family::Project | Family::Filter), |a| matches!(a.family, Family::Join | Family::Aggregate | Family::Window | Family::Union));
            return match consumer {
                Some(c) => induced(&nodes[c], format!("reuses {} for {}", label(&nodes[t]), label(&nodes[c]))),
                None => induced(&nodes[t], format!("reuses {} computed for another part of the query", label(&nodes[t]))),
            };
        }
    // WriteFiles is the file-writing half of the write command above it.
    if op == "WriteFiles"
        && let Some(&p) = n.parent.as_ref().and_then(|p| pos.get(p))
        && nodes[p].family == Family::Write {
            return induced(&nodes[p], format!("file writer of {}", label(&nodes[p])));
        }
    match n.family {
        Family::Exchange if op == "BroadcastExchange" => {
            match ancestor(nodes, pos, i, is_infra, |a| a.family == Family::Join) {
                Some(j) => induced(&nodes[j], format!("broadcast of the build side of {}", label(&nodes[j]))),
                None => match nodes[i].parent.as_ref().and_then(|p| pos.get(p)) {
                    Some(&p) => induced(&nodes[p], format!("broadcast required by {}", label(&nodes[p]))),
                    None => Ownership::Owned,
                },
            }
        }
        Family::Exchange if op == "Coalesce" => Ownership::Owned,
        Family::Exchange => {
            let user = ["repartition-by-col", "repartition-by-num", "rebalance-partitions-by-col", "rebalance-partitions-by-none"].iter().any(|f| has(n, f));
            if user {
                return Ownership::Owned;
            }
            // `limit(n)` on a partitioned input: each partition's LocalLimit, then one
            // partition to take the first n (AQE may drop the GlobalLimit above).
            if has(n, "single-partition")
                && let Some(&c) = n.children.first().and_then(|c| pos.get(c))
                && nodes[c].spark_operator == "LocalLimit" {
                    return induced(&nodes[c], format!("gathers the rows of {} into one partition", label(&nodes[c])));
                }
            // A shuffle planned for a sort-merge join that AQE turned into a broadcast sits
            // under the BroadcastExchange of the join's build side.
            let skip = |a: &PlanNode| is_infra(a) || local_sort(a) || matches!(a.family, Family::Project | Family::Filter) || a.spark_operator == "BroadcastExchange";
            let want = |a: &PlanNode| matches!(a.family, Family::Join | Family::Aggregate | Family::Window | Family::Limit | Family::PythonUdf | Family::Write | Family::Union) || (a.family == Family::Sort && has(a, "global"));
            match ancestor(nodes, pos, i, skip, want) {
                Some(c) => induced(&nodes[c], format!("shuffle required by {}", label(&nodes[c]))),
                // The nearest operator above it, not a query stage wrapping it.
                None => match ancestor(nodes, pos, i, is_infra, |a| !is_infra(a)) {
                    Some(p) => induced(&nodes[p], format!("shuffle inserted by the planner under {}", label(&nodes[p]))),
                    None => Ownership::Owned,
                },
            }
        }
        Family::Sort if !has(n, "global") => {
            match ancestor(nodes, pos, i, is_infra, |a| matches!(a.family, Family::Join | Family::Window | Family::Aggregate | Family::PythonUdf | Family::Write)) {
                Some(c) => induced(&nodes[c], format!("sort required by {}", label(&nodes[c]))),
                None => Ownership::Owned,
            }
        }
        Family::Aggregate => {
            // The lower aggregates of a partial/final chain belong to the top one. A lower
            // aggregate is part of the chain when it is a partial or merge step, when it
            // groups by the same keys as the one above (the first half of `distinct`), or
            // when the one above counts it distinctly; otherwise it is an aggregation of
            // its own (`groupBy(...).sum(...)` before a `count()`, `distinct()` before a
            // `groupBy`), and owned.
            let above = |k: usize| ancestor(nodes, pos, k, |a| is_infra(a) || a.family == Family::Exchange || local_sort(a) || a.family == Family::Project, |a| a.family == Family::Aggregate);
            let part_of = |k: usize, a: usize| {
                let (lo, hi) = (&nodes[k], &nodes[a]);
                has(lo, "partial") || has(lo, "merge") || same_set(&lo.semantics.grouping_keys, &hi.semantics.grouping_keys) || ((has(hi, "partial") || has(hi, "merge")) && hi.fragment.contains("(distinct ")) || distinct_rewrite(lo, hi)
            };
            match above(i) {
                Some(a) if part_of(i, a) => {
                    let mut top = a;
                    for _ in 0..MAX_CLIMB {
                        match above(top) {
                            Some(b) if part_of(top, b) => top = b,
                            _ => break,
                        }
                    }
                    induced(&nodes[top], format!("partial aggregation for {}", label(&nodes[top])))
                }
                _ => Ownership::Owned,
            }
        }
        Family::Expand => match ancestor(nodes, pos, i, |a| is_infra(a) || a.family == Family::Exchange || a.family == Family::Aggregate, |a| a.family == Family::Aggregate) {
            Some(a) => {
                // Climb to the top aggregate of the chain.
                let mut top = a;
                while let Some(b) = ancestor(nodes, pos, top, |x| is_infra(x) || x.family == Family::Exchange, |x| x.family == Family::Aggregate) {
                    top = b;
                }
                induced(&nodes[top], format!("expand for the grouping sets or distinct aggregates of {}", label(&nodes[top])))
            }
            None => Ownership::Owned,
        },
        Family::Window if op == "WindowGroupLimit" => match ancestor(nodes, pos, i, |a| is_infra(a) || matches!(a.family, Family::Exchange | Family::Sort) || a.spark_operator == "WindowGroupLimit", |a| a.spark_operator == "Window") {
            Some(w) => induced(&nodes[w], format!("group limit pushed below {} by the optimizer (rank filter)", label(&nodes[w]))),
            None => Ownership::Owned,
        },
        // `show()` formats the rows it prints (`toprettystring`) under its limit.
        Family::Project if !n.semantics.functions.is_empty() && n.semantics.functions.iter().all(|f| f == "toprettystring") => match ancestor(nodes, pos, i, is_infra, |a| a.family == Family::Limit) {
            Some(l) => induced(&nodes[l], format!("formats the rows {} prints (show)", label(&nodes[l]))),
            None => Ownership::Owned,
        },
        Family::Limit if op == "LocalLimit" => match ancestor(nodes, pos, i, is_infra, |a| a.spark_operator == "GlobalLimit") {
            Some(g) => induced(&nodes[g], format!("per-partition part of {}", label(&nodes[g]))),
            // The optimizer pushes a limit down through an outer join or a union to the
            // side that keeps every row: a LocalLimit of the same count far below.
            None => match ancestor(nodes, pos, i, |_| true, |a| a.family == Family::Limit && a.semantics.limit.is_some() && a.semantics.limit == n.semantics.limit) {
                Some(l) => induced(&nodes[l], format!("{} pushed down by the optimizer", label(&nodes[l]))),
                None => Ownership::Owned,
            },
        },
        Family::Filter if only_null_checks(n) => {
            // The join right above, or one further up whose keys are exactly what is
            // checked: Spark infers `isnotnull(key)` from a join and pushes it down
            // through windows, aggregates and shuffles partitioned by that key.
            // Only a join's keys are inferred not null: a check of another column is the
            // user's own (`where(col.isNotNull())`). A join whose keys the plan does not
            // show (text without details, a non-equi join) is taken at its word.
            let checked = null_checked(n);
            let keyed = |a: &PlanNode| !checked.is_empty() && checked.iter().all(|c| a.semantics.left_keys.contains(c) || a.semantics.right_keys.contains(c));
            let keys_unknown = |a: &PlanNode| a.semantics.left_keys.is_empty() && a.semantics.right_keys.is_empty();
            let near = ancestor(nodes, pos, i, |a| is_infra(a) || matches!(a.family, Family::Project | Family::Exchange | Family::Sort | Family::Filter), |a| a.family == Family::Join).filter(|&j| keys_unknown(&nodes[j]) || keys_above(nodes, pos, i, &checked));
            let far = || ancestor(nodes, pos, i, |_| true, |a| a.family == Family::Join && keyed(a));
            match near.or_else(far) {
                Some(j) => induced(&nodes[j], format!("null filter inferred from the join keys of {}", label(&nodes[j]))),
                None => Ownership::Owned,
            }
        }
        Family::Subquery if op == "SubqueryBroadcast" || op == "SubqueryAdaptiveBroadcast" => match n.parent.as_ref().and_then(|p| pos.get(p)) {
            Some(&h) => induced(&nodes[h], format!("dynamic partition pruning for {}", label(&nodes[h]))),
            None => Ownership::Owned,
        },
        _ => Ownership::Owned,
    }
}

/// For the Filter and Limit of a CSV reader's inference query (`Scan text` of the file
/// under `Filter (length(trim(value)) > 0)`, a `CollectLimit 1` for the header): the scan.
fn csv_inference_scan(nodes: &[PlanNode], pos: &HashMap<String, usize>, i: usize) -> Option<usize> {
    let blank_filter = |n: &PlanNode| n.family == Family::Filter && n.semantics.predicates.first().is_some_and(|p| p.replace(' ', "").starts_with("(length(trim(value"));
    let text_scan = |n: &PlanNode| n.family == Family::Scan && n.semantics.format.as_deref() == Some("text");
    let child = |n: &PlanNode| n.children.first().and_then(|c| pos.get(c)).copied();
    let mut cur = i;
    // Down through the limit and infrastructure to the filter, then the scan.
    for _ in 0..MAX_CLIMB {
        let n = &nodes[cur];
        if blank_filter(n) {
            let s = child(n)?;
            let s = if is_infra(&nodes[s]) { child(&nodes[s])? } else { s };
            return text_scan(&nodes[s]).then_some(s);
        }
        if !(n.family == Family::Limit || is_infra(n) || (cur != i && n.family == Family::Project)) || n.children.len() != 1 {
            return None;
        }
        cur = child(n)?;
    }
    None
}

/// Whether `lo` is the first level of Spark's rewrite of distinct aggregates (a
/// `COUNT(DISTINCT x)` beside other aggregates): it groups by the Expand's `gid` and
/// the level above picks each aggregate's rows with `FILTER (WHERE (gid = …))`.
fn distinct_rewrite(lo: &PlanNode, hi: &PlanNode) -> bool {
    lo.semantics.grouping_keys.iter().any(|k| planmap_plugin_sdk::base_name(k) == "gid") && hi.fragment.contains("(WHERE (gid#")
}

fn same_set(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// A Filter whose condition is only `isnotnull(...)` checks (inferred by the optimizer).
/// The columns a null-check-only filter checks: `isnotnull(customer_id)` -> `customer_id`.
/// Whether every column in `checked` is in the condition of some join above node `i`
/// (Spark infers `isnotnull` from a join's keys and from the rest of its condition, and
/// a star join checks the keys of every dimension at once), followed through the
/// renames of the projects on the way (`product_id AS p1` under a join on `p1`).
fn keys_above(nodes: &[PlanNode], pos: &HashMap<String, usize>, i: usize, checked: &[String]) -> bool {
    let mut names = checked.to_vec();
    let mut found = vec![false; names.len()];
    let mut cur = i;
    for _ in 0..MAX_CLIMB * 2 {
        let Some(&p) = nodes[cur].parent.as_ref().and_then(|p| pos.get(p)) else { break };
        let a = &nodes[p];
        if a.family == Family::Project {
            for (from, to) in a.semantics.output_columns.iter().filter_map(|c| c.split_once(" AS ")) {
                names.iter_mut().filter(|n| n.as_str() == from.trim()).for_each(|n| *n = to.trim().to_string());
            }
        }
        if a.family == Family::Join {
            for (n, f) in names.iter().zip(found.iter_mut()) {
                *f |= a.semantics.left_keys.contains(n) || a.semantics.right_keys.contains(n) || a.semantics.predicates.iter().any(|p| mentions(p, n));
            }
        }
        cur = p;
    }
    !checked.is_empty() && found.iter().all(|f| *f)
}

/// Whether an expression names a column (as a whole identifier).
fn mentions(expr: &str, column: &str) -> bool {
    expr.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == column)
}

fn null_checked(n: &PlanNode) -> Vec<String> {
    let Some(p) = n.semantics.predicates.first() else { return vec![] };
    p.split(" AND ")
        .filter_map(|t| t.trim_matches(|c| c == '(' || c == ')' || c == ' ').strip_prefix("isnotnull").map(|c| c.trim_matches(|c| c == '(' || c == ')').to_string()))
        .collect()
}

fn only_null_checks(n: &PlanNode) -> bool {
    let Some(p) = n.semantics.predicates.first() else { return false };
    let terms: Vec<&str> = p.split(" AND ").map(|t| t.trim_matches(|c| c == '(' || c == ')' || c == ' ')).collect();
    !terms.is_empty() && terms.iter().all(|t| t.starts_with("isnotnull"))
}
