//! The normalised plan: every format ends up as these nodes.

use serde::Serialize;

/// Operator family, after vendor names are mapped to their Spark equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Scan,
    Filter,
    Project,
    Join,
    Aggregate,
    Exchange,
    Sort,
    Window,
    Limit,
    Union,
    Expand,
    Generate,
    PythonUdf,
    Write,
    Subquery,
    Infrastructure,
    Other,
}

impl Family {
    pub fn name(self) -> &'static str {
        match self {
            Family::Scan => "scan",
            Family::Filter => "filter",
            Family::Project => "project",
            Family::Join => "join",
            Family::Aggregate => "aggregate",
            Family::Exchange => "exchange",
            Family::Sort => "sort",
            Family::Window => "window",
            Family::Limit => "limit",
            Family::Union => "union",
            Family::Expand => "expand",
            Family::Generate => "generate",
            Family::PythonUdf => "python-udf",
            Family::Write => "write",
            Family::Subquery => "subquery",
            Family::Infrastructure => "infrastructure",
            Family::Other => "other",
        }
    }
}

// What a node does is what crosses into the plugins: the runtime owns the type.
pub use planmap_runtime::model::{Semantics, SortKey};

/// Who is responsible for a node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ownership {
    /// Written by the user's code.
    Owned,
    /// Inserted by the planner because of a neighbour.
    Induced { by: String, reason: String },
    /// Codegen stages, adapters, AQE stage wrappers: no code owns them.
    Infrastructure,
}

/// One normalised plan node.
#[derive(Debug, Clone, Serialize)]
pub struct PlanNode {
    /// Spark's id where the format has one, else the pre-order index (see module docs).
    pub id: String,
    /// Operator name as printed (`SortMergeJoin`, `Scan parquet`, `PhotonGroupingAgg`).
    pub operator: String,
    /// The Spark operator it corresponds to (`HashAggregate` for `PhotonGroupingAgg`).
    pub spark_operator: String,
    pub family: Family,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub children: Vec<String>,
    /// For ReusedExchange / ReusedSubquery: the node it reuses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuses: Option<String>,
    /// Subquery roots hosted by this node.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subqueries: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codegen_stage: Option<u32>,
    pub ownership: Ownership,
    pub semantics: Semantics,
    /// The node's text in the plan: its tree line and, when present, its detail block.
    pub fragment: String,
}

/// The input formats planmap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PlanFormat {
    /// EXPLAIN (simple or EXTENDED): an indented tree.
    Explain,
    /// EXPLAIN FORMATTED: outline with (N) ids and detail blocks.
    Formatted,
    /// Spark event log (JSON lines; plain, gz, zstd, lz4, snappy; rolling dirs).
    EventLog,
    /// Spark REST /api/v1/applications/<app>/sql/<id>.
    Rest,
    /// Databricks query-profile export.
    QueryProfile,
    /// JSON list of DAG nodes.
    DagNodes,
}

/// A parsed, normalised plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub format: PlanFormat,
    /// Nodes in pre-order from the roots (main plan first, then subqueries).
    pub nodes: Vec<PlanNode>,
    /// Root node ids (the main plan's root first).
    pub roots: Vec<String>,
    /// Which plan was taken and why (e.g. "AQE final plan").
    pub source: String,
    /// The event-log execution or REST execution this came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<ExecutionInfo>,
    /// Things the user should know (truncation, unknown operators, choices made).
    pub warnings: Vec<String>,
    /// What each node cost, where the input says (event logs, REST, query profiles).
    pub metrics: super::metrics::PlanMetrics,
}

/// One SQL execution in an event log or REST listing.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionInfo {
    pub id: i64,
    pub description: String,
    /// The user call site (first non-Spark frame of `details`), when known.
    pub call_site: String,
    pub nodes: usize,
    /// Number of AQE plan updates seen.
    pub updates: usize,
    /// The application's name (`spark.app.name`), when the log records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// What was submitted (`spark-submit … jobs/q3.py`), when the log records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted: Option<String>,
    /// When this execution's call site names no source line (PySpark's
    /// `NativeMethodAccessorImpl.java:0`), the call site of the first later execution
    /// that does: this one ran before that line did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ran_before: Option<String>,
}

/// The line a call site names (`etl.py:53` → 53); none for a bridge frame
/// (`NativeMethodAccessorImpl.java:0`) or an empty site.
pub fn call_site_line(site: &str) -> Option<u32> {
    site.rsplit_once(':')?.1.trim().parse().ok().filter(|&l| l > 0)
}

impl ExecutionInfo {
    /// What clients are shown of an execution (the service's submit response, the
    /// command line's JSON): id, description, call site, node count.
    pub fn summary(&self) -> serde_json::Value {
        serde_json::json!({"id": self.id, "description": self.description, "callSite": self.call_site, "nodes": self.nodes})
    }
}

impl Plan {
    pub fn node(&self, id: &str) -> Option<&PlanNode> {
        self.nodes.iter().find(|n| n.id == id)
    }
}
