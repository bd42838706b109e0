//! What adaptive query execution changed, read from EXPLAIN FORMATTED text that holds
//! both the final and the initial plan: a join whose strategy changed at run time, and
//! shuffle reads that were coalesced, split for skew or read locally.

use super::metrics::AdaptiveChange;
use super::model::{Family, PlanNode};
use std::collections::HashMap;

/// The changes, each at a node of the final plan (`nodes`).
pub fn changes(text: &str, nodes: &[PlanNode]) -> Vec<AdaptiveChange> {
    if !text.contains("AdaptiveSparkPlan") {
        return Vec::new();
    }
    let blocks = super::text::detail_blocks(text);
    let by_id: HashMap<&str, &PlanNode> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let field = |fields: &[(String, String)], k: &str| fields.iter().find(|(f, _)| f.eq_ignore_ascii_case(k)).map(|(_, v)| strip_ids(v)).unwrap_or_default();
    let join_key = |fields: &[(String, String)]| (field(fields, "Left keys"), field(fields, "Right keys"), field(fields, "Join type"));
    let operator = |header: &str| header.split([' ', '[']).next().unwrap_or("").to_string();
    let mut out = Vec::new();
    // Joins of the initial plan are the blocks whose ids the final plan does not have.
    let mut planned: HashMap<(String, String, String), String> = HashMap::new();
    for (id, header, fields) in &blocks {
        if !by_id.contains_key(id.as_str()) && is_join(&operator(header)) {
            planned.entry(join_key(fields)).or_insert_with(|| operator(header));
        }
    }
    let mut final_blocks: Vec<&(String, String, Vec<(String, String)>)> = blocks.iter().filter(|(id, _, _)| by_id.contains_key(id.as_str())).collect();
    final_blocks.sort_by_key(|(id, _, _)| id.parse::<u64>().unwrap_or(u64::MAX));
    for (id, header, fields) in final_blocks {
        let op = operator(header);
        if is_join(&op)
            && let Some(before) = planned.get(&join_key(fields))
            && *before != op {
                out.push(AdaptiveChange {
                    node: id.clone(),
                    kind: "join-strategy".into(),
                    detail: format!("AQE replaced the planned {before} with a {op} at run time (one side turned out smaller than planned)"),
                });
            }
        if matches!(op.as_str(), "AQEShuffleRead" | "CustomShuffleReader") {
            let args = format!("{} {}", header, field(fields, "Arguments")).to_ascii_lowercase();
            let consumer = consumer(id, &by_id).unwrap_or_else(|| id.clone());
            for (word, kind, detail) in [
                ("coalesced", "coalesced", "AQE coalesced the shuffle's small partitions into fewer"),
                ("skewed", "skew-split", "AQE split skewed shuffle partitions (a skewed key)"),
                ("local", "local-read", "AQE reads the shuffle locally (a join turned broadcast after the shuffle ran)"),
            ] {
                if args.contains(word) {
                    out.push(AdaptiveChange { node: consumer.clone(), kind: kind.into(), detail: detail.into() });
                }
            }
        }
    }
    out
}

fn is_join(op: &str) -> bool {
    matches!(op, "SortMergeJoin" | "BroadcastHashJoin" | "ShuffledHashJoin" | "BroadcastNestedLoopJoin" | "CartesianProduct")
}

/// The first operator above an AQE reader that code owns (the reader and query stages
/// are execution infrastructure).
fn consumer(id: &str, by_id: &HashMap<&str, &PlanNode>) -> Option<String> {
    let mut at = by_id.get(id)?.parent.clone();
    while let Some(p) = at {
        let n = by_id.get(p.as_str())?;
        if n.family != Family::Infrastructure {
            return Some(n.id.clone());
        }
        at = n.parent.clone();
    }
    None
}

/// Expression ids (`#82`, `#101L`) differ between the initial and the final plan's
/// printing; keys compare without them.
fn strip_ids(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' {
            while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric()) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_join_that_aqe_turned_broadcast_is_reported_at_the_final_join() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/public/plans/la-crime-variants/query-3-no-hint/9.txt")).unwrap();
        let plan = crate::plan::parse_text(&text).unwrap();
        let changes = &plan.metrics.adaptive;
        // The initial plan's SortMergeJoin LeftSemi (84) ran as BroadcastHashJoin (39).
        assert!(changes.iter().any(|c| c.node == "39" && c.kind == "join-strategy" && c.detail.contains("SortMergeJoin")), "{changes:?}");
        assert!(changes.iter().all(|c| plan.node(&c.node).is_some()));
    }
}
