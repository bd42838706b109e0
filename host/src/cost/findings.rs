//! Known anti-patterns, at the line: from a plan's metrics and semantics, what a Spark
//! engineer would fix (a shuffle a broadcast would avoid, skew, spill, a Python UDF in a
//! hot stage, an exploding join, a repeated scan, a cartesian product), each at the span
//! that owns the node, with its evidence numbers and a one-line suggestion.

use super::hotspots::owner;
use crate::mapping::{MapResult, Mapping};
use crate::plan::metrics::{bytes, count, millis, NodeMetrics, Unit};
use crate::plan::{Family, Plan, PlanNode};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A rule: stable id, short name, help text (SARIF `rules`).
pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub help: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule { id: "planmap/cost/broadcastable-join", name: "Shuffle join with a small side", help: "A sort-merge or shuffled hash join shuffles both inputs although one side is under the broadcast threshold; broadcasting it avoids both shuffles and sorts." },
    Rule { id: "planmap/cost/skew", name: "Skewed tasks", help: "One task of an operator handles far more rows or time than the median task: a skewed key. Salt the key, enable AQE skew handling, or filter the hot key separately." },
    Rule { id: "planmap/cost/spill", name: "Spill to disk", help: "An operator ran out of execution memory and spilled to disk. Give tasks more memory, raise spark.sql.shuffle.partitions, or reduce the data before the operator." },
    Rule { id: "planmap/cost/python-udf", name: "Python UDF in a hot stage", help: "A row-at-a-time Python UDF runs in a stage that takes a large share of the query's time; a built-in function or a vectorised pandas UDF avoids the Python round trip." },
    Rule { id: "planmap/cost/exploding-join", name: "Exploding join", help: "A join produces many times more rows than its inputs: its keys are not selective (a missing key, a many-to-many relation)." },
    Rule { id: "planmap/cost/repeated-scan", name: "The same data scanned again", help: "The plan reads the same source more than once without reusing it; cache or reuse the DataFrame, or compute both results in one pass." },
    Rule { id: "planmap/cost/cartesian-product", name: "Cartesian product", help: "A join without a join condition pairs every row with every row; add the join keys or make the cross join explicit and small." },
];

/// Skew: the slowest task at least this many times the median one…
const SKEW_RATIO: f64 = 5.0;
/// …over at least this many tasks (fewer is not a distribution)…
const SKEW_MIN_TASKS: u64 = 4;
/// …and large in absolute terms (a 5× spread over tiny tasks costs nothing).
const SKEW_MIN_ROWS: f64 = 100_000.0;
const SKEW_MIN_MS: f64 = 500.0;
const SKEW_MIN_BYTES: f64 = 16.0 * 1024.0 * 1024.0;
/// Spark's default broadcast threshold (`spark.sql.autoBroadcastJoinThreshold`, 10 MiB),
/// used when the setting is unknown or broadcasting is switched off.
const DEFAULT_BROADCAST_BYTES: f64 = 10.0 * 1024.0 * 1024.0;
/// An exploding join: output rows at least this many times its largest input…
const EXPLODE_RATIO: f64 = 10.0;
/// …and at least this many rows.
const EXPLODE_MIN_ROWS: f64 = 100_000.0;
/// A Python UDF is in a hot stage when its stages take this share of the query's time.
const HOT_STAGE_SHARE: f64 = 0.10;

/// One finding.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: &'static str,
    /// The plan node that shows it.
    pub node: String,
    pub operator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_start: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_end: Option<u32>,
    pub message: String,
    pub suggestion: String,
    /// The numbers behind it (`smallSideBytes`, `maxTaskRows`, `medianTaskRows`, …).
    pub evidence: BTreeMap<String, f64>,
}

struct Ctx<'a> {
    plan: &'a Plan,
    by_id: HashMap<&'a str, &'a Mapping>,
    metrics: &'a BTreeMap<String, NodeMetrics>,
}

impl Ctx<'_> {
    fn node(&self, id: &str) -> Option<&PlanNode> {
        self.plan.node(id)
    }
    fn m(&self, id: &str) -> Option<&NodeMetrics> {
        self.metrics.get(id)
    }
    /// Rows a node puts out: its own metric, else an exchange's records, else its only
    /// child's (readers and stage wrappers pass rows through).
    fn rows(&self, id: &str) -> Option<f64> {
        let mut at = id.to_string();
        for _ in 0..self.plan.nodes.len() {
            if let Some(m) = self.m(&at) {
                if let Some(r) = m.output_rows().or_else(|| m.get("records read").map(|r| r.total)).or_else(|| m.get("shuffle records written").map(|r| r.total)) {
                    return Some(r);
                }
            }
            let n = self.node(&at)?;
            if n.children.len() != 1 {
                return None;
            }
            at = n.children[0].clone();
        }
        None
    }
    /// Bytes a join input shuffles: the first exchange below it (through sorts, readers
    /// and stage wrappers).
    fn side_bytes(&self, id: &str) -> Option<f64> {
        let mut at = id.to_string();
        for _ in 0..self.plan.nodes.len() {
            let n = self.node(&at)?;
            if n.spark_operator == "Exchange" {
                let m = self.m(&at)?;
                return m.shuffle_written().or_else(|| m.data_size());
            }
            if !(matches!(n.family, Family::Sort | Family::Infrastructure)) || n.children.len() != 1 {
                return None;
            }
            at = n.children[0].clone();
        }
        None
    }
    fn finding(&self, rule: &'static str, node: &PlanNode, message: String, suggestion: &str, evidence: &[(&str, f64)]) -> Finding {
        let span = self.by_id.get(node.id.as_str()).and_then(|m| owner(m, &self.by_id)).and_then(|o| o.mapped_code.as_ref());
        Finding {
            rule,
            node: node.id.clone(),
            operator: node.operator.clone(),
            file: span.map(|c| c.file.clone()),
            line_start: span.map(|c| c.line_start),
            line_end: span.map(|c| c.line_end),
            message,
            suggestion: suggestion.to_string(),
            evidence: evidence.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }
}

/// `10485760`, `10MB`, `10m`, `-1` as bytes (negative: broadcasting off).
fn parse_bytes(s: &str) -> Option<f64> {
    let t = s.trim().to_ascii_lowercase();
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: f64 = digits.trim().parse().ok()?;
    let scale = match t[digits.len()..].trim() {
        "" | "b" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * scale)
}

/// Every finding on a mapped plan, one per rule and span (the strongest), in plan order.
pub fn find(plan: &Plan, result: &MapResult, times: &super::NodeTimes) -> Vec<Finding> {
    let ctx = Ctx { plan, by_id: result.mappings.iter().map(|m| (m.dag_node_id.as_str(), m)).collect(), metrics: &plan.metrics.nodes };
    let mut out = Vec::new();
    let threshold = plan.metrics.settings.get("spark.sql.autoBroadcastJoinThreshold").and_then(|s| parse_bytes(s));
    let broadcast_off = threshold.is_some_and(|t| t < 0.0);
    let limit = threshold.filter(|t| *t > 0.0).unwrap_or(DEFAULT_BROADCAST_BYTES);
    for n in &plan.nodes {
        let m = ctx.m(&n.id);
        // A shuffle join with a side a broadcast would carry.
        if matches!(n.spark_operator.as_str(), "SortMergeJoin" | "ShuffledHashJoin") && n.children.len() == 2 {
            let sides: Vec<Option<f64>> = n.children.iter().map(|c| ctx.side_bytes(c)).collect();
            if let (Some((i, small)), true) = (sides.iter().enumerate().filter_map(|(i, s)| s.map(|s| (i, s))).min_by(|a, b| a.1.total_cmp(&b.1)), sides.iter().all(Option::is_some))
                && small <= limit {
                    let side = if i == 0 { "left" } else { "right" };
                    let why = if broadcast_off { "broadcasting is switched off (spark.sql.autoBroadcastJoinThreshold=-1)".to_string() } else { format!("the planner could not tell it was under the {} threshold", bytes(limit)) };
                    out.push(ctx.finding(
                        "planmap/cost/broadcastable-join",
                        n,
                        format!("{} shuffles and sorts both inputs, but its {side} side is only {} shuffled; {why}", n.operator, bytes(small)),
                        "broadcast the small side (`broadcast(df)` or a BROADCAST hint), or re-enable the broadcast threshold",
                        &[("smallSideBytes", small), ("broadcastThresholdBytes", limit), ("largeSideBytes", sides.iter().flatten().copied().fold(0.0, f64::max))],
                    ));
                }
        }
        // Skew: the worst task far above the median task.
        if let Some(m) = m && n.family != Family::Infrastructure {
            let skewed = m.metrics.iter().filter(|x| x.tasks.is_some_and(|t| t >= SKEW_MIN_TASKS)).find_map(|x| {
                let (max, med) = (x.max?, x.median?);
                let floor = match x.unit {
                    Unit::Count if x.name.contains("rows") || x.name.contains("records") => SKEW_MIN_ROWS,
                    Unit::Millis => SKEW_MIN_MS,
                    // Bytes read or shuffled per task (not memory or spill, which are their own findings).
                    Unit::Bytes if x.name.contains("bytes") && !x.name.contains("spill") => SKEW_MIN_BYTES,
                    _ => return None,
                };
                (max >= floor && max >= SKEW_RATIO * med.max(1.0)).then_some((x, max, med))
            });
            if let Some((x, max, med)) = skewed {
                let show = |v: f64| match x.unit {
                    Unit::Millis => millis(v),
                    Unit::Bytes => bytes(v),
                    _ => count(v),
                };
                out.push(ctx.finding(
                    "planmap/cost/skew",
                    n,
                    format!("{}: its largest task has {} {} against a median of {} ({:.0}× over {} tasks): a skewed key", n.operator, show(max), x.name, show(med), max / med.max(1.0), x.tasks.unwrap_or(0)),
                    "salt or split the hot key, or let AQE split skewed partitions (spark.sql.adaptive.skewJoin.enabled)",
                    &[("maxTask", max), ("medianTask", med), ("tasks", x.tasks.unwrap_or(0) as f64)],
                ));
            }
            // Spill.
            if let Some(spill) = m.spill().filter(|s| *s > 0.0) {
                out.push(ctx.finding(
                    "planmap/cost/spill",
                    n,
                    format!("{} spilled {} to disk{}", n.operator, bytes(spill), m.peak_memory().map(|p| format!(" (peak memory {})", bytes(p))).unwrap_or_default()),
                    "give tasks more memory, raise spark.sql.shuffle.partitions, or shrink the data before this operator",
                    &[("spillBytes", spill)],
                ));
            }
        }
        // A Python UDF in a hot stage.
        if n.family == Family::PythonUdf && times.total_ms > 0.0 {
            let stage_ms: f64 = if plan.metrics.stages.is_empty() {
                times.ms.get(&n.id).copied().unwrap_or(0.0)
            } else {
                plan.metrics.stages.iter().filter(|s| s.nodes.iter().any(|(id, _)| *id == n.id)).map(|s| s.task_ms).sum()
            };
            let share = stage_ms / times.total_ms;
            if share >= HOT_STAGE_SHARE {
                out.push(ctx.finding(
                    "planmap/cost/python-udf",
                    n,
                    format!("{} runs a Python UDF ({}) in stages taking {:.0} % of the query's {}", n.operator, if n.semantics.udfs.is_empty() { "unnamed".to_string() } else { n.semantics.udfs.join(", ") }, share * 100.0, times.basis),
                    "use a built-in function, or a vectorised pandas UDF",
                    &[("stageShare", share), ("stageMs", stage_ms)],
                ));
            }
        }
        // An exploding join.
        if n.family == Family::Join && let Some(rows) = ctx.rows(&n.id) {
            let input = n.children.iter().filter_map(|c| ctx.rows(c)).fold(0.0, f64::max);
            if input > 0.0 && rows >= EXPLODE_MIN_ROWS && rows >= EXPLODE_RATIO * input {
                out.push(ctx.finding(
                    "planmap/cost/exploding-join",
                    n,
                    format!("{} puts out {} rows from inputs of at most {} ({:.0}×): its keys are not selective", n.operator, count(rows), count(input), rows / input),
                    "check the join keys (a missing key or a many-to-many relation); aggregate before joining",
                    &[("outputRows", rows), ("largestInputRows", input)],
                ));
            }
        }
        // A cartesian product.
        let no_condition = n.fragment.contains("Join condition: None") || (!n.fragment.contains("Join condition") && n.semantics.predicates.is_empty());
        if n.spark_operator == "CartesianProduct" || (n.spark_operator == "BroadcastNestedLoopJoin" && no_condition) {
            out.push(ctx.finding(
                "planmap/cost/cartesian-product",
                n,
                format!("{} pairs every row of one input with every row of the other", n.operator),
                "add the join keys, or make the cross join explicit and keep one side tiny",
                &ctx.rows(&n.id).map(|r| vec![("outputRows", r)]).unwrap_or_default(),
            ));
        }
    }
    out.extend(repeated_scans(&ctx));
    // Skew shows in every operator downstream of the skewed shuffle: the one nearest the
    // source (no skewed operator below it) is where the key is.
    let skewed: HashSet<String> = out.iter().filter(|f| f.rule == "planmap/cost/skew").map(|f| f.node.clone()).collect();
    out.retain(|f| f.rule != "planmap/cost/skew" || !below(plan, &f.node).iter().any(|d| skewed.contains(d)));
    // One finding per rule and span: the first (plan order puts the consumer first).
    let mut seen = HashSet::new();
    out.retain(|f| seen.insert((f.rule, f.file.clone(), f.line_start, if f.file.is_none() { f.node.clone() } else { String::new() })));
    out
}

/// Every node under `id`.
fn below(plan: &Plan, id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<String> = plan.node(id).map(|n| n.children.clone()).unwrap_or_default();
    while let Some(c) = stack.pop() {
        if out.len() > plan.nodes.len() {
            break;
        }
        if let Some(n) = plan.node(&c) {
            stack.extend(n.children.iter().cloned());
        }
        out.push(c);
    }
    out
}

/// Scans of the same files or table, more than once in one plan, not through a cache or
/// a reused exchange.
fn repeated_scans(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut by_source: BTreeMap<String, Vec<&PlanNode>> = BTreeMap::new();
    for n in ctx.plan.nodes.iter().filter(|n| n.family == Family::Scan && n.spark_operator.starts_with("Scan") || n.spark_operator == "HiveTableScan") {
        let s = &n.semantics;
        if s.paths.is_empty() && s.tables.is_empty() {
            continue;
        }
        let key = format!("{} {:?} {:?}", s.format.clone().unwrap_or_default(), s.paths, s.tables);
        by_source.entry(key).or_default().push(n);
    }
    let mut out = Vec::new();
    for scans in by_source.values().filter(|s| s.len() > 1) {
        let first = scans[0];
        let what = first.semantics.tables.first().or(first.semantics.paths.first()).cloned().unwrap_or_default();
        for again in &scans[1..] {
            out.push(ctx.finding(
                "planmap/cost/repeated-scan",
                again,
                format!("{} reads {what} again: the plan scans it {} times", again.operator, scans.len()),
                "cache or reuse the DataFrame, or compute the results in one pass",
                &[("scans", scans.len() as f64)].into_iter().chain(ctx.rows(&again.id).map(|r| ("rows", r))).collect::<Vec<_>>(),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn broadcast_thresholds_are_read_in_spark_spellings() {
        assert_eq!(super::parse_bytes("10485760"), Some(10485760.0));
        assert_eq!(super::parse_bytes("10MB"), Some(10485760.0));
        assert_eq!(super::parse_bytes("-1"), Some(-1.0));
        assert_eq!(super::parse_bytes("lots"), None);
    }
}
