//! Cost by code span: every node's time, rows, shuffle and spill added to the span that
//! owns it (an induced shuffle or sort to the span that caused it), ranked by time.

use super::attribute::NodeTimes;
use crate::mapping::{MapResult, Mapping};
use crate::plan::metrics::{bytes, count, millis};
use crate::plan::Plan;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Operator families in the order that names a span holding several.
const PRIMARY: &[&str] = &["join", "aggregate", "window", "python-udf", "sort", "generate", "expand", "union", "limit", "write", "scan", "filter", "exchange", "project"];

/// One span of code and what its nodes cost.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hotspot {
    pub file: String,
    pub line_start: u32,
    pub line_end: u32,
    pub symbol: String,
    /// Estimated time of its nodes, and its share of the query's.
    pub ms: f64,
    pub share: f64,
    /// The span's own nodes and the nodes it induced.
    pub nodes: Vec<String>,
    pub induced: Vec<String>,
    /// Largest output of its nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shuffle_bytes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spill_bytes: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<f64>,
    /// What adaptive execution changed at its nodes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adaptive: Vec<String>,
    /// `orders.py:40-44 join: 61 % of task time: SortMergeJoin + 2 Exchange + 2 Sort, …`
    pub why: String,
}

/// The ranking of one plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hotspots {
    /// Whether the input had metrics at all, and what is not known.
    pub known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub basis: String,
    pub total_ms: f64,
    pub spans: Vec<Hotspot>,
    /// Time on nodes no span owns (unmapped nodes).
    pub unattributed_ms: f64,
}

impl Hotspots {
    /// The ranking of a plan whose input has no metrics.
    pub fn unknown(note: Option<String>, basis: &str) -> Hotspots {
        Hotspots { known: false, note, basis: basis.into(), total_ms: 0.0, spans: Vec::new(), unattributed_ms: 0.0 }
    }
}

/// The span a node's cost goes to: its cause's for an induced node, its own otherwise;
/// an infrastructure node's goes to the nearest owned node above it.
pub(super) fn owner<'a>(m: &'a Mapping, by_id: &HashMap<&str, &'a Mapping>) -> Option<&'a Mapping> {
    let mut at = m;
    for _ in 0..by_id.len() {
        if let Some(cause) = at.induced_by.as_deref().and_then(|c| by_id.get(c)) && cause.mapped_code.is_some() {
            return Some(cause);
        }
        if at.mapped_code.is_some() && at.ownership != "infrastructure" {
            return Some(at);
        }
        at = by_id.get(at.parent.as_deref()?)?;
    }
    None
}

/// Rank the spans of `result` (the mapping of `plan`) by the time of their nodes.
pub fn rank(plan: &Plan, result: &MapResult, times: &NodeTimes) -> Hotspots {
    let metrics = &plan.metrics;
    if !metrics.known() {
        return Hotspots::unknown(metrics.note.clone(), times.basis);
    }
    let by_id: HashMap<&str, &Mapping> = result.mappings.iter().map(|m| (m.dag_node_id.as_str(), m)).collect();
    let mut spans: BTreeMap<(String, u32, u32), Hotspot> = BTreeMap::new();
    let mut unattributed = 0.0;
    for m in &result.mappings {
        let t = times.ms.get(&m.dag_node_id).copied().unwrap_or(0.0);
        let nm = metrics.nodes.get(&m.dag_node_id);
        let Some(o) = owner(m, &by_id) else {
            unattributed += t;
            continue;
        };
        let code = o.mapped_code.as_ref().expect("owner has code");
        let h = spans.entry((code.file.clone(), code.line_start, code.line_end)).or_insert_with(|| Hotspot {
            file: code.file.clone(),
            line_start: code.line_start,
            line_end: code.line_end,
            symbol: code.symbol.clone(),
            ms: 0.0,
            share: 0.0,
            nodes: Vec::new(),
            induced: Vec::new(),
            rows: None,
            shuffle_bytes: None,
            spill_bytes: None,
            peak_memory_bytes: None,
            adaptive: Vec::new(),
            why: String::new(),
        });
        h.ms += t;
        if m.ownership == "infrastructure" {
            // Readers and stage wrappers: their figures count, they are not listed.
        } else if std::ptr::eq(o, m) {
            h.nodes.push(m.dag_node_id.clone());
        } else {
            h.induced.push(m.dag_node_id.clone());
        }
        if let Some(nm) = nm {
            let add = |slot: &mut Option<f64>, v: Option<f64>| if let Some(v) = v { *slot = Some(slot.unwrap_or(0.0) + v) };
            if m.ownership != "infrastructure" {
                h.rows = match (h.rows, nm.output_rows()) { (Some(a), Some(b)) => Some(a.max(b)), (a, b) => a.or(b) };
            }
            add(&mut h.shuffle_bytes, nm.shuffle_written());
            add(&mut h.spill_bytes, nm.spill().filter(|s| *s > 0.0));
            h.peak_memory_bytes = match (h.peak_memory_bytes, nm.peak_memory().filter(|p| *p > 0.0)) { (Some(a), Some(b)) => Some(a.max(b)), (a, b) => a.or(b) };
        }
        for c in metrics.adaptive.iter().filter(|c| c.node == m.dag_node_id) {
            if !h.adaptive.contains(&c.detail) {
                h.adaptive.push(c.detail.clone());
            }
        }
    }
    let total = times.total_ms;
    let mut ranked: Vec<Hotspot> = spans.into_values().filter(|h| !h.nodes.is_empty() || !h.induced.is_empty()).collect();
    for h in &mut ranked {
        h.share = if total > 0.0 { h.ms / total } else { 0.0 };
        h.why = explain(h, &by_id, times.basis);
    }
    ranked.sort_by(|a, b| b.ms.total_cmp(&a.ms).then_with(|| (a.file.as_str(), a.line_start).cmp(&(b.file.as_str(), b.line_start))));
    Hotspots { known: true, note: metrics.note.clone(), basis: times.basis.into(), total_ms: total, spans: ranked, unattributed_ms: unattributed }
}

/// `jobs/orders.py:40-44 join: 61 % of task time (2.1 s): SortMergeJoin + 2 Exchange + 2 Sort, 3.1 GB shuffled, 400 MB spilled`
fn explain(h: &Hotspot, by_id: &HashMap<&str, &Mapping>, basis: &str) -> String {
    let mut ops: Vec<(String, usize)> = Vec::new();
    for id in h.nodes.iter().chain(&h.induced) {
        let Some(m) = by_id.get(id.as_str()) else { continue };
        match ops.iter_mut().find(|(o, _)| *o == m.operator) {
            Some((_, n)) => *n += 1,
            None => ops.push((m.operator.clone(), 1)),
        }
    }
    let ops: Vec<String> = ops.into_iter().map(|(o, n)| if n > 1 { format!("{n} {o}") } else { o }).collect();
    // The span is named by the operation that defines it: a join over the projection
    // that trims its output, an aggregate over its partial half.
    let rank = |f: &str| PRIMARY.iter().position(|p| *p == f).unwrap_or(PRIMARY.len());
    let family = h.nodes.iter().filter_map(|id| by_id.get(id.as_str())).map(|m| m.family.as_str()).min_by_key(|f| rank(f)).unwrap_or_default().to_string();
    let lines = if h.line_start == h.line_end { h.line_start.to_string() } else { format!("{}-{}", h.line_start, h.line_end) };
    let mut why = format!("{}:{lines} {family}: {:.0} % of {basis} ({}): {}", h.file, h.share * 100.0, millis(h.ms), ops.join(" + "));
    if let Some(r) = h.rows {
        why.push_str(&format!(", {} rows out", count(r)));
    }
    if let Some(b) = h.shuffle_bytes.filter(|b| *b > 0.0) {
        why.push_str(&format!(", {} shuffled", bytes(b)));
    }
    if let Some(s) = h.spill_bytes {
        why.push_str(&format!(", {} spilled", bytes(s)));
    }
    for a in &h.adaptive {
        why.push_str(&format!("; {a}"));
    }
    why
}
