//! Rust bindings for the WIT contract in `wit/`: one `capabilities` world for the host
//! imports, and one world per plugin kind whose imported interfaces are shared with it.

/// The host side of the imports (log, code-search, cache, vectors, llm) and the shared types.
pub mod capabilities_world {
    wasmtime::component::bindgen!({
        world: "capabilities",
        path: "../../wit",
        imports: { default: async },
    });
}

macro_rules! kind_world {
    ($module:ident, $world:literal) => {
        pub mod $module {
            wasmtime::component::bindgen!({
                world: $world,
                path: "../../wit",
                imports: { default: async },
                exports: { default: async },
                with: {
                    "planmap:strategy/types": crate::bindings::capabilities_world::planmap::strategy::types,
                    "planmap:strategy/capability-types": crate::bindings::capabilities_world::planmap::strategy::capability_types,
                    "planmap:strategy/log": crate::bindings::capabilities_world::planmap::strategy::log,
                    "planmap:strategy/code-search": crate::bindings::capabilities_world::planmap::strategy::code_search,
                    "planmap:strategy/cache": crate::bindings::capabilities_world::planmap::strategy::cache,
                    "planmap:strategy/vectors": crate::bindings::capabilities_world::planmap::strategy::vectors,
                    "planmap:strategy/llm": crate::bindings::capabilities_world::planmap::strategy::llm,
                },
            });
        }
    };
}

kind_world!(retriever, "retriever");
kind_world!(matcher, "matcher");
kind_world!(scorer, "scorer");
kind_world!(router, "router");

/// The contract's types as the host uses them.
pub mod wit {
    pub use super::capabilities_world::planmap::strategy::cache;
    pub use super::capabilities_world::planmap::strategy::capability_types::{CapabilityError, CapabilityErrorKind};
    pub use super::capabilities_world::planmap::strategy::code_search;
    pub use super::capabilities_world::planmap::strategy::llm;
    pub use super::capabilities_world::planmap::strategy::log::Level;
    pub use super::capabilities_world::planmap::strategy::types::*;
    pub use super::capabilities_world::planmap::strategy::vectors;
}

/// Read access to a candidate's optional assessment, so host code need not unwrap it.
impl wit::Candidate {
    /// A new candidate, not yet assessed.
    pub fn proposed(site: wit::CodeSite, retrieval_score: f64) -> Self {
        wit::Candidate { site, retrieval_score, assessed: None }
    }
    /// The scorer's confidence (0 before any scorer ran).
    pub fn confidence(&self) -> f64 {
        self.assessed.as_ref().map_or(0.0, |a| a.confidence)
    }
    /// The scorer's explanation (empty before).
    pub fn explanation(&self) -> &str {
        self.assessed.as_ref().map_or("", |a| a.explanation.as_str())
    }
    /// The matchers' feature values, aligned with the step input's `feature_names`.
    pub fn features(&self) -> &[f64] {
        self.assessed.as_ref().map_or(&[], |a| a.features.as_slice())
    }
    /// The features this candidate has a value for, by name.
    pub fn named_features<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        names.iter().zip(self.features()).filter(|(_, v)| !v.is_nan()).map(|(n, v)| (n.as_str(), *v))
    }
    /// The matchers' evidence.
    pub fn evidence(&self) -> &[wit::Evidence] {
        self.assessed.as_ref().map_or(&[], |a| a.evidence.as_slice())
    }
    /// The assessment, created empty on first use.
    pub fn assessed_mut(&mut self) -> &mut wit::Assessed {
        self.assessed.get_or_insert_with(|| wit::Assessed { features: Vec::new(), evidence: Vec::new(), confidence: 0.0, explanation: String::new() })
    }
}
