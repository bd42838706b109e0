//! Reading a graph file: TOML with spans kept, so every later error can name its line.

use super::{validate, GraphError, PluginKinds};
use super::model::Graph;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// A graph file as written, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGraph {
    pub name: Option<Spanned<String>>,
    pub version: Option<Spanned<String>>,
    #[serde(default)]
    pub description: String,
    pub entry: Option<Spanned<String>>,
    pub max_visits: Option<Spanned<i64>>,
    #[serde(default)]
    pub nodes: BTreeMap<Spanned<String>, Spanned<RawNode>>,
    #[serde(default)]
    pub edges: Vec<Spanned<RawEdge>>,
    /// How program resolution weighs candidate programs (`[program]`).
    #[serde(default)]
    pub program: crate::program::Params,
    /// How a node's final confidence is calibrated (`[calibration]`).
    #[serde(default)]
    pub calibration: super::model::Calibration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub kind: Option<Spanned<String>>,
    pub plugin: Option<Spanned<String>>,
    pub experiment: Option<Spanned<String>>,
    pub salt: Option<Spanned<String>>,
    pub sticky_key: Option<Spanned<String>>,
    pub variants: Option<Vec<Spanned<RawVariant>>>,
    #[serde(default)]
    pub shadow: Vec<Spanned<RawVariant>>,
    #[serde(default)]
    pub capabilities: Vec<Spanned<String>>,
    pub timeout_ms: Option<Spanned<i64>>,
    pub memory_mib: Option<Spanned<i64>>,
    pub plan_node: Option<Spanned<String>>,
    pub config: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    pub name: Option<String>,
    pub plugin: Spanned<String>,
    #[serde(default = "one")]
    pub weight: Spanned<i64>,
    pub config: Option<toml::Table>,
}

fn one() -> Spanned<i64> {
    Spanned::new(0..0, 1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEdge {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
    pub on: Option<Spanned<String>>,
    pub when: Option<Spanned<String>>,
}

/// Maps byte offsets of one file to 1-based lines.
pub(super) struct Lines<'a> {
    text: &'a str,
}

impl Lines<'_> {
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }
}

/// Parse and validate graph text. `file` is used in messages and for the default name.
pub fn parse_graph(file: &Path, text: &str, plugins: &PluginKinds) -> Result<Graph, Vec<GraphError>> {
    let raw: RawGraph = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| Lines { text }.line(s.start));
        vec![GraphError { file: file.to_path_buf(), line, message: e.message().trim().to_string() }]
    })?;
    validate::build(file, text, raw, plugins, Lines { text })
}

/// Read, parse and validate one graph file.
pub fn load_file(file: &Path, plugins: &PluginKinds) -> Result<Graph, Vec<GraphError>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| vec![GraphError { file: file.to_path_buf(), line: None, message: format!("cannot read graph file: {e}") }])?;
    parse_graph(file, &text, plugins)
}
