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
