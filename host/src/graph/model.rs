//! The validated, in-memory form of a mapping graph.

use planmap_runtime::{CallLimits, Grants, Kind};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Edge targets that end the run for a plan node: `finish` reports the best candidate
/// with a status from its confidence; `unmapped` reports no mapping (the candidates
/// are kept as alternatives).
pub const TERMINALS: &[&str] = &["finish", "unmapped"];

/// Where an edge leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Node(String),
    Finish,
    Unmapped,
}

impl Target {
    pub fn parse(s: &str) -> Target {
        match s {
            "finish" => Target::Finish,
            "unmapped" => Target::Unmapped,
            other => Target::Node(other.to_string()),
        }
    }
    pub fn name(&self) -> &str {
        match self {
            Target::Node(n) => n,
            Target::Finish => "finish",
            Target::Unmapped => "unmapped",
        }
    }
}

/// What must hold for a conditional router edge to be taken (`when = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The job has a chat model with budget left (configured, not exhausted).
    Llm,
}

impl Condition {
    pub const ALL: &[Condition] = &[Condition::Llm];

    pub fn parse(s: &str) -> Option<Condition> {
        Condition::ALL.iter().copied().find(|c| c.name() == s)
    }

    pub fn name(self) -> &'static str {
        match self {
            Condition::Llm => "llm",
        }
    }
}

/// One edge: unconditional (`on = None`) or keyed by a router decision label, and for
/// a labelled edge optionally taken only `when` a condition holds.
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: String,
    pub on: Option<String>,
    pub when: Option<Condition>,
    pub to: Target,
}

impl Edge {
    /// How the edge's label reads in renderings: `verify`, `verify if llm`.
    pub fn label(&self) -> Option<String> {
        self.on.as_ref().map(|l| match self.when {
            Some(c) => format!("{l} if {}", c.name()),
            None => l.clone(),
        })
    }
}

/// Where one router decision leads: the first conditional edge whose condition holds,
/// else the unconditional one (validation guarantees there is one).
#[derive(Debug, Clone)]
pub struct Branch {
    pub conditional: Vec<(Condition, Target)>,
    pub otherwise: Target,
}

impl Branch {
    pub fn pick(&self, holds: impl Fn(Condition) -> bool) -> &Target {
        self.conditional.iter().find(|(c, _)| holds(*c)).map(|(_, t)| t).unwrap_or(&self.otherwise)
    }
}

/// One weighted variant of an A/B experiment.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    pub plugin: String,
    pub weight: u32,
    /// Config overriding the node's config for this variant.
    pub config: Option<serde_json::Value>,
    /// The node's config with this variant's overrides, as the JSON text plugins get
    /// (computed once at load, not per invocation).
    pub config_text: String,
}

/// What the sticky A/B assignment hashes with the salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickyKey {
    AnalysisId,
    Repo,
    Tenant,
}

/// The plugin(s) a graph node runs.
#[derive(Debug, Clone)]
pub enum PluginChoice {
    Single(String),
    Experiment { name: String, salt: String, sticky_key: StickyKey, variants: Vec<Variant>, shadow: Vec<Variant> },
}

impl PluginChoice {
    /// Every plugin name the node may run (variants and shadows included).
    pub fn plugins(&self) -> Vec<&str> {
        match self {
            PluginChoice::Single(p) => vec![p.as_str()],
            PluginChoice::Experiment { variants, shadow, .. } => variants.iter().chain(shadow).map(|v| v.plugin.as_str()).collect(),
        }
    }
}

/// One step of the graph.
#[derive(Debug, Clone)]
pub struct GraphNode {
    pub name: String,
    pub kind: Kind,
    pub plugin: PluginChoice,
    /// The node's `config` table as JSON.
    pub config: serde_json::Value,
    /// `config` as the JSON text passed to the plugin (computed once at load).
    pub config_text: String,
    pub grants: Grants,
    pub limits: CallLimits,
    /// The plugin gets the plan node in brief (id, operator, family, induced link; no
    /// semantics, neighbours, plan files or fragment): `plan_node = "brief"`, the
    /// default for routers, which decide from confidences. Every string crosses the
    /// sandbox boundary in every call, so a step that does not read them should not pay.
    pub brief_node: bool,
}

/// What a node leads to: a fixed next step, or a table of router decisions.
#[derive(Debug, Clone)]
pub enum NodeTarget {
    Next(Target),
    Decisions(BTreeMap<String, Branch>),
}

/// A validated graph.
#[derive(Debug, Clone)]
pub struct Graph {
    pub name: String,
    /// The author's `version` plus the file digest, e.g. `3+sha256:0a1b2c3d4e5f`.
    pub version: String,
    pub description: String,
    pub file: PathBuf,
    pub entry: String,
    /// The most times any graph node may run for one plan node (the loop bound).
    pub max_visits: u32,
    pub nodes: BTreeMap<String, GraphNode>,
    pub edges: Vec<Edge>,
    pub routes: BTreeMap<String, NodeTarget>,
    /// How the program that ran is chosen before nodes are mapped (`[program]`).
    pub program: crate::program::Params,
    /// The last step of every answer: its confidence, calibrated (`[calibration]`).
    pub calibration: Calibration,
}

/// A node's final confidence c (after the scorer, the joint choice and program
/// resolution) is reported as sigmoid(intercept + family offset + scale * logit(c)),
/// fitted end to end on labelled data (`tests/fixtures/public/fit.py`), so a reported
/// 0.8 is right about eight times in ten on code the fit never saw (a Project that only
/// prunes columns is less often right than a scan at the same raw confidence). The
/// default changes nothing.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Calibration {
    pub intercept: f64,
    pub scale: f64,
    /// Added to the intercept for nodes of these families (plan family names).
    pub families: BTreeMap<String, f64>,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration { intercept: 0.0, scale: 1.0, families: BTreeMap::new() }
    }
}

impl Calibration {
    /// The calibrated confidence of a node of `family`.
    pub fn apply(&self, c: f64, family: &str) -> f64 {
        if *self == Calibration::default() || c <= 0.0 {
            return c;
        }
        let c = c.clamp(1e-6, 1.0 - 1e-6);
        let z = self.intercept + self.families.get(family).copied().unwrap_or(0.0) + self.scale * (c / (1.0 - c)).ln();
        1.0 / (1.0 + (-z).exp())
    }
}
