//! Rendering a job's result: a readable table, the JSON shape clients consume, and
//! SARIF 2.1.0 so editors and code review can show mappings on the lines.

use super::MapResult;
use std::fmt::Write;

/// One row per node.
pub fn table(r: &MapResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:>5}  {:<28} {:<10} {:>5}  {:<34} {:<22} explanation", "id", "operator", "status", "conf", "file:lines", "symbol");
    for m in &r.mappings {
        let (loc, sym) = match &m.mapped_code {
            Some(c) => (format!("{}:{}", c.file, c.lines), c.symbol.clone()),
            None => ("-".into(), "-".into()),
        };
        let status = if m.ownership == "infrastructure" { "infra".to_string() } else { m.status.clone() };
        let conf = if m.mapped_code.is_some() { format!("{:.2}", m.confidence) } else { "-".into() };
        let mut expl = m.explanation.replace('\n', " ");
        if expl.chars().count() > 110 {
            expl = expl.chars().take(107).collect::<String>() + "...";
        }
        let op: String = m.operator.chars().take(28).collect();
        let _ = writeln!(out, "{:>5}  {:<28} {:<10} {:>5}  {:<34} {:<22} {}", m.dag_node_id, op, status, conf, trunc(&loc, 34), trunc(&sym, 22), expl);
    }
    let s = &r.summary;
    let _ = writeln!(
        out,
        "\n{} nodes: {} confirmed, {} probable, {} uncertain, {} unmapped, {} infrastructure; coverage {:.0}%, mean confidence {:.2}; graph {} {}; commit {}; {:.0} ms",
        s.nodes, s.confirmed, s.probable, s.uncertain, s.unmapped, s.infrastructure, s.coverage * 100.0, s.average_confidence, r.graph.name, r.graph.version, r.repo.commit, s.ms
    );
    out
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("…{}", s.chars().rev().take(n - 1).collect::<Vec<_>>().into_iter().rev().collect::<String>()) }
}

/// SARIF 2.1.0: one result per mapped node, located on its lines.
pub fn sarif(r: &MapResult) -> serde_json::Value {
    let results: Vec<serde_json::Value> = r
        .mappings
        .iter()
        .filter_map(|m| {
            let c = m.mapped_code.as_ref()?;
            Some(serde_json::json!({
                "ruleId": format!("planmap/{}", m.family),
                "level": "note",
                "message": {"text": format!("Spark plan node {} {} ({}, confidence {:.2}): {}", m.dag_node_id, m.operator, m.status, m.confidence, m.explanation)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": c.file}, "region": {"startLine": c.line_start, "endLine": c.line_end}}}],
                "properties": {"dagNodeId": m.dag_node_id, "status": m.status, "confidence": m.confidence, "symbol": c.symbol, "ownership": m.ownership},
            }))
        })
        .collect();
    let mut families: Vec<&str> = r.mappings.iter().map(|m| m.family.as_str()).collect();
    families.sort();
    families.dedup();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "planmap",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": families.iter().map(|f| serde_json::json!({"id": format!("planmap/{f}"), "shortDescription": {"text": format!("Spark {f} operator mapped to code")}})).collect::<Vec<_>>(),
            }},
            "properties": {"commit": r.repo.commit, "graph": r.graph.name, "graphVersion": r.graph.version},
            "results": results,
        }]
    })
}
