//! The intermediate form every format parser produces: operator text, explicit id,
//! tree links and key/value details, before names, families, semantics and ownership
//! are derived in one place (`assemble`).

/// A node as read from some format.
#[derive(Debug, Clone, Default)]
pub struct RawNode {
    /// Spark's own id when the format has one.
    pub id: Option<String>,
    /// The operator line without codegen marker and id (`HashAggregate(keys=[...], ...)`).
    pub text: String,
    /// Operator name when the format states it separately (REST, profile, DAG list).
    pub operator: Option<String>,
    /// Codegen stage (`*(3)` or `[codegen id : 3]`).
    pub codegen: Option<u32>,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Detail fields (`Output`, `Condition`, `Left keys`, metadata keys, ...).
    pub fields: Vec<(String, String)>,
    /// Id of the node this one reuses (ReusedExchange / ReusedSubquery).
    pub reuses: Option<String>,
    /// For a subquery root: index of the hosting node.
    pub subquery_of: Option<usize>,
}

impl RawNode {
    /// The first field with this key (case-insensitive), if any.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

/// Link `child` under `parent`.
pub fn link(nodes: &mut [RawNode], parent: usize, child: usize) {
    nodes[child].parent = Some(parent);
    nodes[parent].children.push(child);
}
