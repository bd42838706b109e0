//! The host capabilities a plugin may call, the per-graph-node grants that gate them,
//! and the trait the host implements to back them (embedded defaults or real services).

use crate::model::CodeSite;
use crate::wit::{code_search, llm, vectors, SiteSource};
pub use crate::wit::{CapabilityError, CapabilityErrorKind};
use std::fmt;

/// A capability a graph node can grant. `log` is always available and not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    CodeSearch,
    Cache,
    Vectors,
    Llm,
}

impl Capability {
    /// Every grantable capability, in the order the docs list them.
    pub const ALL: [Capability; 4] = [Capability::CodeSearch, Capability::Cache, Capability::Vectors, Capability::Llm];

    /// The name used in `capabilities = [...]` in graph files.
    pub fn name(self) -> &'static str {
        match self {
            Capability::CodeSearch => "code-search",
            Capability::Cache => "cache",
            Capability::Vectors => "vectors",
            Capability::Llm => "llm",
        }
    }

    /// Parse a grant name; `None` for an unknown capability.
    pub fn parse(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of capabilities granted to one graph node. Empty (deny all) by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants(u8);

impl Grants {
    pub fn none() -> Self {
        Grants(0)
    }
    pub fn with(mut self, c: Capability) -> Self {
        self.0 |= 1 << c as u8;
        self
    }
    pub fn allows(self, c: Capability) -> bool {
        self.0 & (1 << c as u8) != 0
    }
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.allows(*c))
    }
}

impl FromIterator<Capability> for Grants {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        iter.into_iter().fold(Grants::none(), Grants::with)
    }
}

/// Who is calling: used by capability backends for namespacing, budgets and logs.
#[derive(Debug, Clone, Default)]
pub struct CallScope {
    /// The analysis (job) id.
    pub analysis_id: String,
    /// The plugin name.
    pub plugin: String,
    /// The graph node executing.
    pub graph_node: String,
    /// The plan node being mapped.
    pub plan_node: String,
}

/// Build a capability error.
pub fn cap_error(kind: CapabilityErrorKind, message: impl Into<String>) -> CapabilityError {
    CapabilityError { kind, message: message.into() }
}

/// The backends behind the capability imports. The host implements this once per
/// job (so it can close over the job's index and budget); the sandbox checks grants
/// before any method is called, so implementations never see a denied call.
#[async_trait::async_trait]
pub trait Capabilities: Send + Sync {
    /// Lexical search over the code index.
    async fn search(&self, scope: &CallScope, query: code_search::Query) -> Result<Vec<code_search::Hit>, CapabilityError>;
    /// Sites by id.
    async fn sites(&self, scope: &CallScope, ids: Vec<u32>) -> Result<Vec<CodeSite>, CapabilityError>;
    /// Source text of sites by id.
    async fn source(&self, scope: &CallScope, ids: Vec<u32>) -> Result<Vec<SiteSource>, CapabilityError>;
    /// Upstream site ids in the data flow.
    async fn upstream(&self, scope: &CallScope, site: u32, depth: u32) -> Result<Vec<u32>, CapabilityError>;
    /// Cache read (the key is already namespaced by plugin).
    async fn cache_get(&self, scope: &CallScope, key: String) -> Result<Option<Vec<u8>>, CapabilityError>;
    /// Cache write (the key is already namespaced by plugin).
    async fn cache_set(&self, scope: &CallScope, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), CapabilityError>;
    /// Nearest code sites to a text.
    async fn nearest(&self, scope: &CallScope, text: String, limit: u32) -> Result<Vec<vectors::VectorHit>, CapabilityError>;
    /// A chat completion.
    async fn complete(&self, scope: &CallScope, request: llm::CompletionRequest) -> Result<llm::Completion, CapabilityError>;
    /// Whether a chat model is configured and has budget left (graphs route on it).
    fn model_available(&self) -> bool {
        false
    }
    /// Whether `nearest` has a vector index behind it (callers skip preparing texts
    /// for `prefetch_nearest` when it has none).
    fn vectors_available(&self) -> bool {
        false
    }
    /// Steps are about to run whose plugins may ask `nearest` for these texts (one per
    /// plan node): a backend may fetch them all at once, so the plugins' calls are
    /// answered without a request each. Nothing by default.
    async fn prefetch_nearest(&self, texts: Vec<String>) {
        let _ = texts;
    }
}
