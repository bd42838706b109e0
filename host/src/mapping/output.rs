//! Rendering a job's result: a readable table, the JSON shape clients consume, and
//! SARIF 2.1.0 so editors and code review can show mappings on the lines.

use super::{MapResult, Mapping};
use std::fmt::Write;

/// Widest operator and location columns on a terminal; longer text is cut there
/// (piped output is never cut).
const MAX_OPERATOR: usize = 48;
const MAX_LOCATION: usize = 40;

/// The plan as an indented tree, one row per node: status, confidence, location,
/// symbol and explanation. `width` is the terminal's: rows are cut to it; `None`
/// (piped output, `--wide`) prints every text in full.
pub fn table(r: &MapResult, width: Option<usize>) -> String {
    let rows = tree_rows(r);
    let cap = |n: usize, max: usize| if width.is_some() { n.min(max) } else { n };
    let op_w = cap(rows.iter().map(|(prefix, m)| prefix.chars().count() + m.operator.chars().count()).max().unwrap_or(8).max(8), MAX_OPERATOR);
    let loc = |m: &Mapping| m.mapped_code.as_ref().map(|c| format!("{}:{}", c.file, c.lines)).unwrap_or_else(|| "-".into());
    let sym = |m: &Mapping| m.mapped_code.as_ref().map(|c| c.symbol.clone()).unwrap_or_else(|| "-".into());
    let loc_w = cap(rows.iter().map(|(_, m)| loc(m).chars().count()).max().unwrap_or(10).max(10), MAX_LOCATION);
    let sym_w = cap(rows.iter().map(|(_, m)| sym(m).chars().count()).max().unwrap_or(6).max(6), 24);
    let id_w = rows.iter().map(|(_, m)| m.dag_node_id.len()).max().unwrap_or(2).max(2);
    let mut out = String::new();
    let header = format!("{:>id_w$}  {:<op_w$}  {:<10} {:>5}  {:<loc_w$}  {:<sym_w$}  explanation", "id", "operator", "status", "conf", "file:lines", "symbol");
    let _ = writeln!(out, "{}", fit(&header, width));
    for (prefix, m) in &rows {
        let op = format!("{prefix}{}", m.operator);
        let status = if m.ownership == "infrastructure" { "infra" } else { m.status.as_str() };
        let conf = if m.mapped_code.is_some() { format!("{:.2}", m.confidence) } else { "-".into() };
        let row = format!(
            "{:>id_w$}  {:<op_w$}  {:<10} {:>5}  {:<loc_w$}  {:<sym_w$}  {}",
            m.dag_node_id,
            cut_end(&op, op_w),
            status,
            conf,
            cut_start(&loc(m), loc_w),
            cut_end(&sym(m), sym_w),
            m.explanation.replace('\n', " ")
        );
        let _ = writeln!(out, "{}", fit(&row, width));
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "\n{} nodes: {} confirmed, {} probable, {} uncertain, {} unmapped, {} infrastructure; coverage {:.0}%, mean confidence {:.2}; graph {} {}; commit {}; {:.0} ms",
        s.nodes, s.confirmed, s.probable, s.uncertain, s.unmapped, s.infrastructure, s.coverage * 100.0, s.average_confidence, r.graph.name, r.graph.version, r.repo.commit, s.ms
    );
    out
}

/// The mappings in plan-tree order (roots first, each node above its children, hosted
/// subqueries after the children), with the tree-drawing prefix of each row. Nodes
/// the tree does not reach (a malformed plan) follow at the top level.
fn tree_rows(r: &MapResult) -> Vec<(String, &Mapping)> {
    let by_id: std::collections::HashMap<&str, &Mapping> = r.mappings.iter().map(|m| (m.dag_node_id.as_str(), m)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::with_capacity(r.mappings.len());
    fn walk<'a>(m: &'a Mapping, lead: &str, prefix: String, by_id: &std::collections::HashMap<&str, &'a Mapping>, seen: &mut std::collections::HashSet<&'a str>, rows: &mut Vec<(String, &'a Mapping)>) {
        if !seen.insert(m.dag_node_id.as_str()) {
            return;
        }
        rows.push((prefix, m));
        let kids: Vec<&Mapping> = m.children.iter().chain(&m.subqueries).filter_map(|c| by_id.get(c.as_str()).copied()).filter(|c| !seen.contains(c.dag_node_id.as_str())).collect();
        for (i, k) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            let branch = if last { "└─ " } else { "├─ " };
            let next_lead = format!("{lead}{}", if last { "   " } else { "│  " });
            walk(k, &next_lead, format!("{lead}{branch}"), by_id, seen, rows);
        }
    }
    for m in r.mappings.iter().filter(|m| m.parent.is_none()) {
        walk(m, "", String::new(), &by_id, &mut seen, &mut rows);
    }
    for m in &r.mappings {
        walk(m, "", String::new(), &by_id, &mut seen, &mut rows);
    }
    rows
}

/// A row cut to the terminal's width (never on piped output).
fn fit(row: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if row.chars().count() > w => row.chars().take(w.saturating_sub(1)).collect::<String>() + "…",
        _ => row.to_string(),
    }
}

/// Keep the end of a path (the file name matters most).
fn cut_start(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n { s.to_string() } else { format!("…{}", s.chars().skip(len - n + 1).collect::<String>()) }
}

/// Keep the start of a name.
fn cut_end(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

/// SARIF 2.1.0 of one result: one result per mapped node, located on its lines.
pub fn sarif(r: &MapResult) -> serde_json::Value {
    sarif_document(vec![sarif_run(r)])
}

/// A SARIF document of several runs (one per execution of an event log).
pub fn sarif_document(runs: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": runs})
}

/// One SARIF run: the tool, its rules (one per operator family) and the results.
pub fn sarif_run(r: &MapResult) -> serde_json::Value {
    let results: Vec<serde_json::Value> = r
        .mappings
        .iter()
        .filter_map(|m| {
            let c = m.mapped_code.as_ref()?;
            let spent = m.cost.as_ref().and_then(|c| c.estimated_ms).filter(|_| r.cost.hotspots.total_ms > 0.0);
            let cost_text = spent.map(|ms| format!(" [{:.1} % of {}, {}]", 100.0 * ms / r.cost.hotspots.total_ms, r.cost.hotspots.basis, crate::plan::metrics::millis(ms))).unwrap_or_default();
            let mut properties = serde_json::json!({"dagNodeId": m.dag_node_id, "status": m.status, "confidence": m.confidence, "symbol": c.symbol, "ownership": m.ownership});
            if let Some(cost) = &m.cost {
                properties["estimatedMs"] = cost.estimated_ms.into();
                properties["metrics"] = serde_json::to_value(&cost.metrics).unwrap_or_default();
            }
            Some(serde_json::json!({
                "ruleId": format!("planmap/{}", m.family),
                "level": "note",
                "message": {"text": format!("Spark plan node {} {} ({}, confidence {:.2}){cost_text}: {}", m.dag_node_id, m.operator, m.status, m.confidence, m.explanation)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": c.file}, "region": {"startLine": c.line_start, "endLine": c.line_end}}}],
                // The ranked alternatives, so a reviewer can jump to the other candidates.
                "relatedLocations": m.alternatives.iter().enumerate().map(|(i, a)| serde_json::json!({
                    "id": i + 1,
                    "physicalLocation": {"artifactLocation": {"uri": a.file}, "region": {"startLine": a.line_start, "endLine": a.line_end}},
                    "message": {"text": format!("alternative {} ({}, confidence {:.2}): {}", i + 1, a.symbol, a.confidence, a.reasoning)},
                })).collect::<Vec<_>>(),
                "properties": properties,
            }))
        })
        .chain(r.cost.findings.iter().map(|f| {
            let location = match (&f.file, f.line_start, f.line_end) {
                (Some(file), Some(a), Some(b)) => vec![serde_json::json!({"physicalLocation": {"artifactLocation": {"uri": file}, "region": {"startLine": a, "endLine": b}}})],
                _ => vec![],
            };
            serde_json::json!({
                "ruleId": f.rule,
                "level": "warning",
                "message": {"text": format!("{} Fix: {}", f.message, f.suggestion)},
                "locations": location,
                "relatedLocations": [],
                "properties": {"dagNodeId": f.node, "operator": f.operator, "evidence": f.evidence},
            })
        }))
        .collect();
    let finding_rules = crate::cost::RULES.iter().filter(|rule| r.cost.findings.iter().any(|f| f.rule == rule.id)).map(|rule| serde_json::json!({"id": rule.id, "name": rule.name, "shortDescription": {"text": rule.name}, "help": {"text": rule.help}}));
    let mut families: Vec<&str> = r.mappings.iter().map(|m| m.family.as_str()).collect();
    families.sort();
    families.dedup();
    serde_json::json!({
        "tool": {"driver": {
            "name": "planmap",
            "version": env!("CARGO_PKG_VERSION"),
            "rules": families.iter().map(|f| serde_json::json!({"id": format!("planmap/{f}"), "shortDescription": {"text": format!("Spark {f} operator mapped to code")}})).chain(finding_rules).collect::<Vec<_>>(),
        }},
        "properties": {"commit": r.repo.commit, "graph": r.graph.name, "graphVersion": r.graph.version},
        "results": results,
    })
}
