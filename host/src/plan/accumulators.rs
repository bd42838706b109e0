//! Event-log SQL metrics: the accumulator updates of tasks and of the driver, summed
//! per accumulator and per stage for the executions being read, then laid onto the
//! plan's nodes through the `sparkPlanInfo` tree. Memory grows with the chosen
//! executions' accumulators and stages, not with the log.

use super::eventlog::{MetricDef, PlanInfo};
use super::metrics::{unit_of_type, Metric, NodeMetrics, PlanMetrics, StageCost, Unit};
use super::model::PlanNode;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Task values kept per accumulator (and task times per stage) for the median: a
/// reservoir, so a stage of a million tasks costs the same as one of 1024, and a
/// 300-operator plan's few thousand metrics stay within a few tens of MiB. A median
/// from 1024 uniform draws is within a few percentiles of the true one, which is all a
/// skew ratio needs; sum, count, minimum and maximum stay exact.
const MAX_TASK_SAMPLES: usize = 1024;

/// Spark settings the findings read, kept from the environment event.
pub const SETTINGS: &[&str] = &["spark.sql.autoBroadcastJoinThreshold", "spark.sql.adaptive.enabled", "spark.sql.shuffle.partitions", "spark.executor.memory"];

#[derive(Default, Clone)]
struct Stat {
    sum: f64,
    tasks: u64,
    min: f64,
    max: f64,
    sample: Vec<f64>,
    /// Updates the driver made (file listing, broadcast build, commit).
    driver: f64,
}

impl Stat {
    fn add_task(&mut self, v: f64) {
        if self.tasks == 0 {
            (self.min, self.max) = (v, v);
        }
        self.sum += v;
        self.tasks += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        reservoir(&mut self.sample, self.tasks, v);
    }
    fn median(&self) -> Option<f64> {
        median(&self.sample)
    }
}

/// Keep `v`, the `n`th value seen, in a uniform sample of at most `MAX_TASK_SAMPLES`.
fn reservoir(sample: &mut Vec<f64>, n: u64, v: f64) {
    if sample.len() < MAX_TASK_SAMPLES {
        sample.push(v);
        return;
    }
    // A deterministic hash of the position stands in for a random draw: runs repeat.
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % n;
    if (h as usize) < MAX_TASK_SAMPLES {
        sample[h as usize] = v;
    }
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

#[derive(Default)]
struct StageStat {
    tasks: u64,
    run_ms: f64,
    max_ms: f64,
    sample: Vec<f64>,
    /// Accumulator → sum of its task updates in this stage.
    accs: HashMap<i64, f64>,
}

/// What a metric's accumulator belongs to.
struct Owner {
    execution: i64,
    unit: Unit,
    scale: f64,
    /// A codegen stage's `duration`: it covers several operators, none's own time.
    stage_duration: bool,
}

/// Accumulator values of the executions being read, gathered in the same pass that reads
/// their plans.
#[derive(Default)]
pub struct Accumulators {
    owners: HashMap<i64, Owner>,
    values: HashMap<i64, Stat>,
    stages: BTreeMap<i64, StageStat>,
    /// Kept executions between their start and end events: only their tasks are read.
    pub active: HashSet<i64>,
    pub settings: BTreeMap<String, String>,
}

/// A JSON number or numeric string (`"Update": "500"` or `"Update": 500`).
pub fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Accumulators {
    /// Note the accumulators of every node of a plan version of a kept execution.
    pub fn register(&mut self, execution: i64, info: &PlanInfo) {
        for m in &info.metrics {
            let (unit, scale) = unit_of_type(&m.metric_type);
            self.owners.entry(m.accumulator).or_insert(Owner { execution, unit, scale, stage_duration: m.name == "duration" });
        }
        for c in &info.children {
            self.register(execution, c);
        }
    }

    /// One finished task: its run time and the SQL accumulators it updated.
    pub fn task_end(&mut self, stage: i64, run_ms: Option<f64>, updates: impl Iterator<Item = (i64, f64)>) {
        let mut touched = false;
        for (id, v) in updates {
            // Size and timing metrics start at -1 ("not set"); those updates carry nothing.
            if !self.owners.contains_key(&id) || v < 0.0 {
                continue;
            }
            touched = true;
            self.values.entry(id).or_default().add_task(v);
            *self.stages.entry(stage).or_default().accs.entry(id).or_default() += v;
        }
        if touched && let Some(ms) = run_ms {
            let s = self.stages.entry(stage).or_default();
            s.tasks += 1;
            s.run_ms += ms;
            s.max_ms = s.max_ms.max(ms);
            reservoir(&mut s.sample, s.tasks, ms);
        }
    }

    /// Updates the driver made to an execution's metrics.
    pub fn driver(&mut self, updates: &[(i64, serde_json::Value)]) {
        for (id, v) in updates {
            if let (true, Some(v)) = (self.owners.contains_key(id), number(v)) {
                self.values.entry(*id).or_default().driver += v.max(0.0);
            }
        }
    }

    /// An execution's metrics laid on its plan's nodes (ids of `nodes`) through its final
    /// `sparkPlanInfo` tree.
    pub fn plan_metrics(&self, execution: i64, tree: &PlanInfo, nodes: &[PlanNode], roots: &[String]) -> PlanMetrics {
        let by_id: HashMap<&str, &PlanNode> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut defs: HashMap<String, Vec<&MetricDef>> = HashMap::new();
        if let Some(root) = roots.first() {
            align(tree, root, &by_id, &mut defs);
        }
        let mut out = PlanMetrics { source: Some(format!("event log: accumulator updates of execution {execution}'s tasks and driver")), ..Default::default() };
        let mut node_of: HashMap<i64, &str> = HashMap::new();
        for (node, ds) in &defs {
            let mut seen = HashSet::new();
            let mut metrics = Vec::new();
            for d in ds.iter().filter(|d| seen.insert(d.accumulator)) {
                let Some(owner) = self.owners.get(&d.accumulator) else { continue };
                node_of.insert(d.accumulator, node.as_str());
                let stat = self.values.get(&d.accumulator).cloned().unwrap_or_default();
                let s = owner.scale;
                let total = if owner.unit == Unit::Average { if stat.tasks > 0 { stat.sum / stat.tasks as f64 } else { 0.0 } } else { (stat.sum + stat.driver) * s };
                let dist = stat.tasks > 0;
                metrics.push(Metric {
                    name: d.name.clone(),
                    unit: owner.unit,
                    total,
                    tasks: dist.then_some(stat.tasks),
                    min: dist.then(|| stat.min * s),
                    median: stat.median().map(|m| m * s),
                    max: dist.then(|| stat.max * s),
                });
            }
            out.nodes.insert(node.clone(), NodeMetrics { metrics });
        }
        for (&id, st) in &self.stages {
            let mut per_node: BTreeMap<&str, f64> = BTreeMap::new();
            for (acc, v) in &st.accs {
                let (Some(node), Some(owner)) = (node_of.get(acc), self.owners.get(acc)) else { continue };
                if owner.execution != execution {
                    continue;
                }
                let t = per_node.entry(node).or_default();
                if owner.unit == Unit::Millis && !owner.stage_duration {
                    *t += v * owner.scale;
                }
            }
            if per_node.is_empty() {
                continue;
            }
            out.stages.push(StageCost {
                id,
                tasks: st.tasks,
                task_ms: st.run_ms,
                median_task_ms: median(&st.sample).unwrap_or(0.0),
                max_task_ms: st.max_ms,
                nodes: per_node.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
            });
        }
        out.settings = self.settings.clone();
        out
    }
}

/// Operator names as both sides print them: `Scan parquet db.t` and `Scan parquet`
/// agree, as do `Exchange` and `Exchange hashpartitioning(...)`.
fn same_operator(info: &str, node: &str) -> bool {
    let key = |s: &str| {
        let mut w = s.split_whitespace();
        let first = w.next().unwrap_or("").to_ascii_lowercase();
        match first.as_str() {
            "scan" | "execute" | "filescan" | "batchscan" => format!("{first} {}", w.next().unwrap_or("").to_ascii_lowercase()),
            _ => first,
        }
    };
    key(info) == key(node)
}

/// Wrappers `sparkPlanInfo` has and EXPLAIN text does not print as operators.
fn transparent(info: &str) -> bool {
    info.starts_with("WholeStageCodegen") || info == "InputAdapter"
}

/// Walk the plan and the info tree together from matching nodes, children in order
/// (the info tree lists a node's subqueries after its children).
fn align<'a>(info: &'a PlanInfo, node: &str, by_id: &HashMap<&str, &PlanNode>, out: &mut HashMap<String, Vec<&'a MetricDef>>) {
    let Some(mut pn) = by_id.get(node).copied() else { return };
    let mut info = info;
    loop {
        if same_operator(&info.node_name, &pn.operator) {
            break;
        }
        if transparent(&info.node_name) && !info.children.is_empty() {
            info = &info.children[0];
            continue;
        }
        // EXPLAIN prints a cached relation's `InMemoryRelation` between the scan and the
        // cached plan; the info tree goes straight to the cached plan.
        if pn.operator == "InMemoryRelation" && pn.children.len() == 1 {
            match by_id.get(pn.children[0].as_str()) {
                Some(c) => {
                    pn = c;
                    continue;
                }
                None => return,
            }
        }
        return;
    }
    out.entry(pn.id.clone()).or_default().extend(info.metrics.iter());
    for (child, ic) in pn.children.iter().zip(&info.children) {
        align(ic, child, by_id, out);
    }
    for (sub, ic) in pn.subqueries.iter().zip(info.children.iter().skip(pn.children.len())) {
        align(ic, sub, by_id, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reservoir_keeps_a_bounded_sample_and_exact_extremes() {
        let mut s = Stat::default();
        for i in 0..100_000 {
            s.add_task(i as f64);
        }
        assert_eq!(s.sample.len(), MAX_TASK_SAMPLES);
        assert_eq!((s.min, s.max, s.tasks), (0.0, 99_999.0, 100_000));
        let med = s.median().unwrap();
        assert!((40_000.0..60_000.0).contains(&med), "median {med}");
    }
}
