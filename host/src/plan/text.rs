//! EXPLAIN text: the simple tree, the physical section of EXTENDED, and FORMATTED (outline
//! with `(N)` ids, detail blocks, Subqueries section), with AQE Final/Initial plan choice.

use super::raw::{link, RawNode};
use super::PlanError;
use regex::Regex;
use std::collections::HashMap;
use std::sync::LazyLock;

static DETAIL_HEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\((\d+)\) (.+?)\s*$").unwrap());
static TREE_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^(.*?) \((\d+)\)(.*)$").unwrap());
static CODEGEN_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[codegen id : (\d+)\]").unwrap());
static CODEGEN_PREFIX: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\*\((\d+)\) ").unwrap());
static SUBQUERY_HEADER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^Subquery:(\d+) Hosting operator id = (\d+)").unwrap());
static REUSES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[Reuses operator id: (\d+)\]").unwrap());

/// Which plan of an AQE explain was used.
pub struct TextPlan {
    pub nodes: Vec<RawNode>,
    pub source: String,
    pub warnings: Vec<String>,
}

/// Parse EXPLAIN text of any mode.
/// A FORMATTED tree without its `(N) Operator` blocks holds operators only.
const PARTIAL_FORMATTED: &str = "this EXPLAIN FORMATTED tree comes without its detail blocks (the `(1) Scan parquet …` sections after it): columns, keys, conditions and paths are unknown, so answers rest on operators alone; paste the whole output";

pub fn parse(text: &str) -> Result<TextPlan, PlanError> {
    if text.trim_start().starts_with("Found ") && text.contains("WholeStageCodegen subtrees") {
        return Err(PlanError::Malformed("this is EXPLAIN CODEGEN output (generated Java per codegen stage), which does not hold the whole plan; use EXPLAIN FORMATTED".into()));
    }
    let lines: Vec<&str> = text.lines().collect();
    // The physical section: after `== Physical Plan ==` when present, else everything.
    let start = lines.iter().position(|l| l.trim() == "== Physical Plan ==").map(|i| i + 1).unwrap_or(0);
    let body = &lines[start..];
    let tree_end = body.iter().position(|l| l.trim().is_empty() || (l.starts_with("== ") && l.ends_with(" ==") && !l.contains("Plan =="))).unwrap_or(body.len());
    let tree = &body[..tree_end];
    if tree.iter().all(|l| l.trim().is_empty()) {
        return Err(PlanError::NoPlan("no plan tree found (expected `== Physical Plan ==` or an operator tree)".into()));
    }
    let (tree, source, mut warnings) = choose_aqe_section(tree);
    let tree: Vec<&str> = tree.iter().map(String::as_str).collect();
    let mut nodes = parse_tree(&tree, None)?;
    let rest = &body[tree_end..];
    // Detail blocks end where another plan or section starts (golden files hold several).
    let rest_end = rest.iter().position(|l| l.starts_with("== ") || l.starts_with("-- !query")).unwrap_or(rest.len());
    let rest = &rest[..rest_end];
    let formatted = nodes.iter().any(|n| n.id.is_some()) && rest.iter().any(|l| DETAIL_HEADER.is_match(l));
    if nodes.iter().any(|n| n.id.is_some()) && !formatted {
        warnings.push(PARTIAL_FORMATTED.into());
    }
    if formatted {
        let sub_start = rest.iter().position(|l| l.trim().starts_with("===== Subqueries =====")).unwrap_or(rest.len());
        let mut details = parse_details(&rest[..sub_start]);
        parse_subqueries(&rest[sub_start..], &mut nodes, &mut details, &mut warnings)?;
        attach_details(&mut nodes, &details);
        let missing: Vec<&str> = nodes.iter().filter(|n| n.fields.is_empty()).filter_map(|n| n.id.as_deref()).collect();
        if !missing.is_empty() {
            warnings.push(format!("the EXPLAIN FORMATTED output lacks the detail blocks of operators {} (cut short?): their columns, keys and conditions are unknown", missing.join(", ")));
        }
    }
    Ok(TextPlan { nodes, source, warnings })
}

/// Keep the AQE final plan of every adaptive plan in the tree (else its initial one),
/// dropping the markers. Adaptive plans nest: a cached relation's plan is an
/// `AdaptiveSparkPlan` of its own under `InMemoryRelation`, with its own Final and
/// Initial sections; each keeps its final one. A kept section's lines are shifted one
/// column right so they hang under the `AdaptiveSparkPlan` whose markers stand at its
/// own column.
fn choose_aqe_section(tree: &[&str]) -> (Vec<String>, String, Vec<String>) {
    #[derive(PartialEq, Clone, Copy)]
    enum Section {
        Final,
        Initial,
    }
    let has_final_at = |from: usize, col: usize| {
        tree[from..].iter().map(|l| split_prefix(l)).take_while(|(c, _)| *c >= col).any(|(c, t)| c == col && (t.starts_with("== Final Plan ==") || t.starts_with("== Current Plan ==")))
    };
    let mut out = Vec::with_capacity(tree.len());
    let mut open: Vec<(usize, Section)> = Vec::new();
    let mut source: Option<(String, Vec<String>)> = None;
    for (i, line) in tree.iter().enumerate() {
        let (col, content) = split_prefix(line);
        while open.last().is_some_and(|(c, _)| col < *c) {
            open.pop();
        }
        let is_final = content.starts_with("== Final Plan ==") || content.starts_with("== Current Plan ==");
        if is_final {
            if source.is_none() {
                source = Some(if content.contains("Current Plan") {
                    ("AQE current plan".into(), vec!["the query was still running: the AQE current plan was used (it may change)".into()])
                } else {
                    ("AQE final plan".into(), vec![])
                });
            }
            open.push((col, Section::Final));
            continue;
        }
        if content.starts_with("== Initial Plan ==") {
            if open.last().is_some_and(|(c, s)| *c == col && *s == Section::Final) {
                open.pop();
                open.push((col, Section::Initial));
            } else if has_final_at(i + 1, col) {
                open.push((col, Section::Initial));
            } else {
                // No final plan at this level (the query had not finished): keep the
                // initial one.
                if source.is_none() {
                    source = Some(("AQE initial plan".into(), vec!["the plan has no AQE final plan (the query had not finished); the initial plan was used".into()]));
                }
                open.push((col, Section::Final));
            }
            continue;
        }
        if open.iter().any(|(_, s)| *s == Section::Initial) {
            continue;
        }
        let shift = open.len();
        out.push(format!("{}{line}", " ".repeat(shift)));
    }
    let (src, mut warnings) = source.unwrap_or_else(|| ("physical plan".into(), vec![]));
    if let Some(w) = keep_final_limit(tree, &mut out) {
        warnings.push(w);
    }
    (out, src, warnings)
}

/// Operators that end a query at the driver (`show()`, `take()`, `limit().collect()`):
/// Spark 4's AQE final plan may leave them out above its `ResultQueryStage`, though they
/// ran.
const DRIVER_LIMITS: &[&str] = &["CollectLimit", "CollectTail", "TakeOrderedAndProject"];

/// When the outermost AQE final plan is a `ResultQueryStage` without the driver-side
/// limit its initial plan ends with, put that limit back on top of the final plan: the
/// query returned at most that many rows, and the limit is the `show()`/`take()` line a
/// user looks for. Returns the warning that says so.
fn keep_final_limit(tree: &[&str], out: &mut Vec<String>) -> Option<String> {
    let content = |l: &str| split_prefix(l).1.to_string();
    let op = |c: &str| node_from_line(c).text.split(|ch: char| !ch.is_ascii_alphanumeric()).next().unwrap_or("").to_string();
    // The outermost final section starts right after its marker; its first line is the stage.
    let marker = tree.iter().position(|l| { let c = split_prefix(l).1; c.starts_with("== Final Plan ==") })?;
    let (final_col, _) = split_prefix(tree[marker]);
    let initial = tree.iter().skip(marker + 1).position(|l| { let (c, t) = split_prefix(l); c == final_col && t.starts_with("== Initial Plan ==") })? + marker + 1;
    let limit = tree.get(initial + 1).map(|l| content(l))?;
    if !DRIVER_LIMITS.contains(&op(&limit).as_str()) {
        return None;
    }
    let stage_line = content(tree.get(marker + 1)?);
    if op(&stage_line) != "ResultQueryStage" {
        return None;
    }
    let first_kept = tree.get(marker + 2).map(|l| content(l));
    if first_kept.is_some_and(|c| op(&c) == op(&limit)) {
        return None;
    }
    // Where the stage sits in the kept lines, and how far its subtree reaches.
    let at = out.iter().position(|l| content(l) == stage_line)?;
    let (col, _) = split_prefix(&out[at]);
    let end = out.iter().skip(at + 1).position(|l| split_prefix(l).0 <= col).map_or(out.len(), |k| k + at + 1);
    for l in &mut out[at..end] {
        l.insert_str(0, "   ");
    }
    out.insert(at, format!("{}{limit}", " ".repeat(col)));
    Some(format!("the AQE final plan leaves out {limit} of the initial plan, which ran at the driver; it is kept above the final plan"))
}

/// Column where a tree line's content starts, and the content.
fn split_prefix(line: &str) -> (usize, &str) {
    let start = line.find(|c: char| !matches!(c, ' ' | ':' | '|' | '+' | '-')).unwrap_or(line.len());
    // A `- ` inside the prefix is a tree edge; content that itself starts with `-` is not expected.
    (start, &line[start..])
}

/// Parse an indented operator tree. `host` marks the roots as subqueries of a node.
fn parse_tree(lines: &[&str], host: Option<usize>) -> Result<Vec<RawNode>, PlanError> {
    let mut nodes: Vec<RawNode> = Vec::new();
    let mut stack: Vec<(usize, usize)> = Vec::new(); // (content column, node index)
    for (lineno, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (col, content) = split_prefix(line);
        if content.is_empty() {
            continue;
        }
        let mut node = node_from_line(content);
        node.subquery_of = if nodes.is_empty() { host } else { None };
        while let Some(&(c, _)) = stack.last() {
            if c >= col {
                stack.pop();
            } else {
                break;
            }
        }
        let idx = nodes.len();
        nodes.push(node);
        match stack.last() {
            Some(&(_, parent)) => link(&mut nodes, parent, idx),
            None if idx > 0 => {
                return Err(PlanError::Malformed(format!("line {}: `{}` is not indented under the plan root", lineno + 1, line.trim())));
            }
            None => {}
        }
        stack.push((col, idx));
    }
    Ok(nodes)
}

/// One tree line's content → raw node (codegen marker and `(N)` id split off).
pub fn node_from_line(content: &str) -> RawNode {
    let mut s = content.trim();
    let mut codegen = None;
    if let Some(c) = CODEGEN_PREFIX.captures(s) {
        codegen = c[1].parse().ok();
        s = &s[c[0].len()..];
    } else if let Some(rest) = s.strip_prefix("* ") {
        s = rest;
    } else if let Some(rest) = s.strip_prefix('*') {
        s = rest; // Spark 2: `*Project [...]`
    }
    let (text, id) = match TREE_ID.captures(s) {
        // `WholeStageCodegen (3)` names a codegen stage, not an operator id.
        Some(c) if c[1].trim() == "WholeStageCodegen" => {
            codegen = c[2].parse().ok();
            (c[1].trim().to_string(), None)
        }
        // `ShuffleQueryStage (31), Statistics(…)`: what follows a comma annotates the
        // stage; it is not part of the operator.
        Some(c) if !c[1].trim().is_empty() && c[3].trim_start().starts_with(',') => (c[1].to_string(), Some(c[2].to_string())),
        Some(c) if !c[1].trim().is_empty() => (format!("{}{}", &c[1], &c[3]), Some(c[2].to_string())),
        _ => (s.to_string(), None),
    };
    RawNode { id, text: text.trim().to_string(), codegen, ..Default::default() }
}

struct Detail {
    header: String,
    codegen: Option<u32>,
    fields: Vec<(String, String)>,
}

/// `(N) Name [codegen id : k]` blocks and their `Key [n]: value` lines.
fn parse_details(lines: &[&str]) -> HashMap<String, Detail> {
    let mut out = HashMap::new();
    let mut current: Option<(String, Detail)> = None;
    for line in lines {
        if let Some(c) = DETAIL_HEADER.captures(line) {
            if let Some((id, d)) = current.take() {
                out.insert(id, d);
            }
            let header = c[2].to_string();
            let codegen = CODEGEN_ID.captures(&header).and_then(|c| c[1].parse().ok());
            current = Some((c[1].to_string(), Detail { header, codegen, fields: Vec::new() }));
            continue;
        }
        let Some((_, d)) = current.as_mut() else { continue };
        if line.trim().is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once(": ") {
            let key = k.trim();
            let key = key.split(" [").next().unwrap_or(key).trim().to_string();
            d.fields.push((key, v.trim().to_string()));
        } else if let Some((k, v)) = line.split_once(" [") {
            // `Location [not included in comparison]/{warehouse_dir}/date_dim]`
            d.fields.push((k.trim().to_string(), format!("[{v}")));
        } else if let Some((_, last)) = d.fields.last_mut() {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    if let Some((id, d)) = current {
        out.insert(id, d);
    }
    out
}

/// The `===== Subqueries =====` section: each subquery's tree becomes extra roots
/// hosted by the operator that uses it; its detail blocks join the rest.
fn parse_subqueries(lines: &[&str], nodes: &mut Vec<RawNode>, details: &mut HashMap<String, Detail>, warnings: &mut Vec<String>) -> Result<(), PlanError> {
    let mut i = 0;
    while i < lines.len() {
        let Some(c) = SUBQUERY_HEADER.captures(lines[i].trim()) else {
            i += 1;
            continue;
        };
        let host_id = c[2].to_string();
        let mut j = i + 1;
        while j < lines.len() && !lines[j].trim().is_empty() && !SUBQUERY_HEADER.is_match(lines[j].trim()) {
            j += 1;
        }
        let tree: Vec<&str> = lines[i + 1..j].to_vec();
        let mut k = j;
        while k < lines.len() && !SUBQUERY_HEADER.is_match(lines[k].trim()) {
            k += 1;
        }
        for (id, d) in parse_details(&lines[j..k]) {
            details.entry(id).or_insert(d);
        }
        match nodes.iter().position(|n| n.id.as_deref() == Some(host_id.as_str())) {
            Some(host) if !tree.is_empty() => {
                let base = nodes.len();
                let (tree, _, _) = choose_aqe_section(&tree);
                let tree: Vec<&str> = tree.iter().map(String::as_str).collect();
                let mut sub = parse_tree(&tree, Some(host))?;
                for n in &mut sub {
                    n.parent = n.parent.map(|p| p + base);
                    n.children.iter_mut().for_each(|c| *c += base);
                }
                nodes.extend(sub);
            }
            Some(_) => {}
            None => warnings.push(format!("subquery {} is hosted by operator {host_id}, which is not in the chosen plan; skipped", &c[1])),
        }
        i = k;
    }
    Ok(())
}

fn attach_details(nodes: &mut [RawNode], details: &HashMap<String, Detail>) {
    for n in nodes.iter_mut() {
        let Some(id) = &n.id else { continue };
        let Some(d) = details.get(id) else { continue };
        n.fields = d.fields.clone();
        n.codegen = n.codegen.or(d.codegen);
        if let Some(c) = REUSES.captures(&d.header) {
            n.reuses = Some(c[1].to_string());
        }
        // The detail header names the operator in full (`Scan parquet db.t`).
        let header = CODEGEN_ID.replace(&d.header, "");
        let header = REUSES.replace(&header, "");
        n.fields.insert(0, ("__header".into(), header.trim().to_string()));
    }
}

/// Every `(N) Name` detail block of EXPLAIN FORMATTED text, the initial plan's and the
/// subqueries' included: id, header and fields.
pub(super) fn detail_blocks(text: &str) -> Vec<(String, String, Vec<(String, String)>)> {
    let lines: Vec<&str> = text.lines().collect();
    parse_details(&lines).into_iter().map(|(id, d)| (id, d.header, d.fields)).collect()
}
