//! SQL metrics of plan nodes as the input reports them (event-log accumulators, REST
//! `metrics`, query-profile metrics): raw names kept, units normalised (time in
//! milliseconds, sizes in bytes), and what the input cannot say stated once.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a metric counts, after normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// Rows, files, batches, partitions.
    Count,
    Bytes,
    /// Time, in milliseconds (Spark's `timing` is ms, `nsTiming` ns; both become ms).
    Millis,
    /// A per-task average (`avg hash probes per key`): not additive.
    Average,
    /// Time including the operator's children (a profile's cumulative time), in
    /// milliseconds: not this operator's own cost, never added.
    Cumulative,
}

/// One metric of one node: the total over tasks (and driver updates), and the
/// distribution over tasks where the input has it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// As Spark or the profile names it (`number of output rows`, `spill size`).
    pub name: String,
    pub unit: Unit,
    pub total: f64,
    /// How many task updates the distribution is over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl Metric {
    pub fn total(name: &str, unit: Unit, total: f64) -> Metric {
        Metric { name: name.to_string(), unit, total, tasks: None, min: None, median: None, max: None }
    }
}

/// The metrics of one node.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NodeMetrics {
    pub metrics: Vec<Metric>,
}

/// Spark's names for the quantities the cost model reads, across versions and vendors.
const OUTPUT_ROWS: &[&str] = &["number of output rows", "output rows", "rows output"];
const SHUFFLE_WRITTEN: &[&str] = &["shuffle bytes written"];
const SHUFFLE_READ: &[&str] = &["remote bytes read", "local bytes read"];
const DATA_SIZE: &[&str] = &["data size"];
const PEAK_MEMORY: &[&str] = &["peak memory", "peak memory usage"];
/// A codegen stage's wall time covers its operators; it is not one operator's own time.
const STAGE_DURATION: &[&str] = &["duration", "stage duration"];

impl NodeMetrics {
    pub fn get(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name.eq_ignore_ascii_case(name))
    }

    fn sum(&self, names: &[&str]) -> Option<f64> {
        let found: Vec<f64> = self.metrics.iter().filter(|m| names.iter().any(|n| m.name.eq_ignore_ascii_case(n))).map(|m| m.total).collect();
        (!found.is_empty()).then(|| found.iter().sum())
    }

    pub fn output_rows(&self) -> Option<f64> {
        self.sum(OUTPUT_ROWS)
    }
    /// The metric that carries the output rows, with its per-task distribution.
    pub fn output_rows_metric(&self) -> Option<&Metric> {
        self.metrics.iter().find(|m| OUTPUT_ROWS.iter().any(|n| m.name.eq_ignore_ascii_case(n)))
    }
    pub fn shuffle_written(&self) -> Option<f64> {
        self.sum(SHUFFLE_WRITTEN)
    }
    pub fn shuffle_read(&self) -> Option<f64> {
        self.sum(SHUFFLE_READ)
    }
    pub fn data_size(&self) -> Option<f64> {
        self.sum(DATA_SIZE)
    }
    pub fn peak_memory(&self) -> Option<f64> {
        self.metrics.iter().filter(|m| PEAK_MEMORY.iter().any(|n| m.name.eq_ignore_ascii_case(n))).map(|m| m.total).reduce(f64::max)
    }
    /// Bytes spilled (Spark's `spill size`, Photon's `bytes spilled`).
    pub fn spill(&self) -> Option<f64> {
        let found: Vec<f64> = self.metrics.iter().filter(|m| m.unit == Unit::Bytes && m.name.to_ascii_lowercase().contains("spill")).map(|m| m.total).collect();
        (!found.is_empty()).then(|| found.iter().sum())
    }
    /// The node's own timing metrics (sort time, build time, shuffle write time, scan
    /// time…), not a codegen stage's duration, which covers several operators.
    pub fn own_time_ms(&self) -> Option<f64> {
        let found: Vec<f64> = self
            .metrics
            .iter()
            .filter(|m| m.unit == Unit::Millis && !STAGE_DURATION.iter().any(|n| m.name.eq_ignore_ascii_case(n)))
            .map(|m| m.total)
            .collect();
        (!found.is_empty()).then(|| found.iter().sum())
    }
    /// A codegen stage's (or Photon stage's) duration.
    pub fn stage_duration_ms(&self) -> Option<f64> {
        self.metrics.iter().find(|m| m.unit == Unit::Millis && STAGE_DURATION.iter().any(|n| m.name.eq_ignore_ascii_case(n))).map(|m| m.total)
    }
}

/// One stage of an event log: its tasks' run time and the plan nodes it ran.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StageCost {
    pub id: i64,
    pub tasks: u64,
    /// Sum of the tasks' executor run time.
    pub task_ms: f64,
    pub median_task_ms: f64,
    pub max_task_ms: f64,
    /// Nodes whose metrics the stage's tasks updated, with the time their own timing
    /// metrics report inside this stage.
    pub nodes: Vec<(String, f64)>,
}

/// A change adaptive query execution made to the plan, at a node of the final plan.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdaptiveChange {
    /// The final plan's node the change is about.
    pub node: String,
    /// `join-strategy`, `coalesced`, `skew-split`, `local-read`.
    pub kind: String,
    pub detail: String,
}

/// Everything the input says about what the plan cost.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlanMetrics {
    /// Where the figures come from; none when the input has no metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// What is not known, said once (EXPLAIN text has no metrics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub nodes: BTreeMap<String, NodeMetrics>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageCost>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adaptive: Vec<AdaptiveChange>,
    /// Spark settings the findings read (`spark.sql.autoBroadcastJoinThreshold`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}

/// Why an input has no metrics.
pub const NO_METRICS_TEXT: &str = "EXPLAIN text carries no metrics: costs need an event log, a REST /sql execution or a query profile";

impl PlanMetrics {
    pub fn none(note: &str) -> PlanMetrics {
        PlanMetrics { note: Some(note.to_string()), ..Default::default() }
    }
    pub fn known(&self) -> bool {
        self.source.is_some() && !self.nodes.is_empty()
    }
}

/// A value as Spark's UI prints it (`2,104`, `14.1 m`, `1078.1 MiB`, `0 ms`), with
/// its unit; `None` when it is not a number.
pub fn parse_value(s: &str) -> Option<(f64, Unit)> {
    let s = s.trim();
    let (num, suffix) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (s[..i].trim(), s[i..].trim()),
        None => (s, ""),
    };
    let n: f64 = num.replace(',', "").parse().ok()?;
    let (scale, unit) = match suffix {
        "" => (1.0, Unit::Count),
        "ns" => (1e-6, Unit::Millis),
        "ms" => (1.0, Unit::Millis),
        "s" => (1e3, Unit::Millis),
        "m" | "min" => (60e3, Unit::Millis),
        "h" => (3600e3, Unit::Millis),
        "B" => (1.0, Unit::Bytes),
        "KiB" | "KB" => (1024.0, Unit::Bytes),
        "MiB" | "MB" => (1024.0 * 1024.0, Unit::Bytes),
        "GiB" | "GB" => (1024.0 * 1024.0 * 1024.0, Unit::Bytes),
        "TiB" | "TB" => (1024.0f64.powi(4), Unit::Bytes),
        "PiB" | "PB" => (1024.0f64.powi(5), Unit::Bytes),
        "EiB" => (1024.0f64.powi(6), Unit::Bytes),
        _ => return None,
    };
    Some((n * scale, unit))
}

/// A REST `/sql` metric value: a plain total (`2,104`, `0 ms`), or Spark's summary
/// `total (min, med, max (stageId: taskId))` line followed by
/// `14.1 m (498 ms, 2.5 s, 5.2 s (stage 47.0: task 13116))`.
pub fn parse_rest_metric(name: &str, value: &str) -> Option<Metric> {
    let last = value.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    let average = value.trim_start().starts_with("avg");
    let (total_text, rest) = match last.split_once(" (") {
        Some((t, r)) => (t, Some(r)),
        None => (last, None),
    };
    let (total, unit) = parse_value(total_text)?;
    let mut m = Metric { name: name.to_string(), unit: if average { Unit::Average } else { unit }, total, tasks: None, min: None, median: None, max: None };
    if let Some(rest) = rest {
        // `498 ms, 2.5 s, 5.2 s (stage 47.0: task 13116))`
        let inner = rest.split(" (stage").next().unwrap_or(rest).trim_end_matches(')');
        let parts: Vec<Option<f64>> = inner.split(", ").map(|p| parse_value(p).map(|(v, _)| v)).collect();
        if let [Some(min), Some(med), Some(max)] = parts[..] {
            (m.min, m.median, m.max) = (Some(min), Some(med), Some(max));
        }
    }
    Some(m)
}

/// Spark's `metricType` of an accumulator → unit and the factor to milliseconds or bytes.
pub fn unit_of_type(metric_type: &str) -> (Unit, f64) {
    match metric_type {
        "size" => (Unit::Bytes, 1.0),
        "timing" => (Unit::Millis, 1.0),
        "nsTiming" => (Unit::Millis, 1e-6),
        "average" => (Unit::Average, 1.0),
        _ => (Unit::Count, 1.0),
    }
}

/// Human figures for explanations: `3.1 GB`, `400 MB`, `12.3 s`, `1.2 M rows`.
pub fn bytes(b: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 { format!("{v:.0} {}", units[i]) } else { format!("{v:.1} {}", units[i]) }
}

pub fn millis(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60e3 {
        format!("{:.1} s", ms / 1e3)
    } else if ms < 3600e3 {
        format!("{:.1} min", ms / 60e3)
    } else {
        format!("{:.2} h", ms / 3600e3)
    }
}

pub fn count(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.1} G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1} k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_values_are_read_with_their_units_and_distribution() {
        let m = parse_rest_metric("scan time", "total (min, med, max (stageId: taskId))\n14.1 m (498 ms, 2.5 s, 5.2 s (stage 47.0: task 13116))").unwrap();
        assert_eq!(m.unit, Unit::Millis);
        assert!((m.total - 846_000.0).abs() < 1.0, "{}", m.total);
        assert_eq!((m.min, m.median, m.max), (Some(498.0), Some(2500.0), Some(5200.0)));
        let rows = parse_rest_metric("number of files read", "2,104").unwrap();
        assert_eq!((rows.unit, rows.total, rows.median), (Unit::Count, 2104.0, None));
        let size = parse_rest_metric("local bytes read", "total (min, med, max (stageId: taskId))\n1078.1 MiB (6.7 MiB, 9.0 MiB, 9.7 MiB (stage 55.0: task 13343))").unwrap();
        assert_eq!(size.unit, Unit::Bytes);
        assert!((size.total - 1078.1 * 1048576.0).abs() < 1.0);
        assert!(parse_rest_metric("x", "n/a").is_none());
        assert_eq!(parse_value("0 ms"), Some((0.0, Unit::Millis)));
    }
}
