//! The plugin sandbox: compiles planmap strategy components with wasmtime, links the
//! host capabilities, and runs one export per invocation in a fresh, bounded store.
//!
//! This crate holds everything that touches wasmtime so that ordinary edits to the
//! host never recompile the bindings or the engine glue.

mod bindings;
mod candidate;
pub mod capabilities;
mod engine;
mod host_impl;
pub mod invoke;
pub mod limits;
pub mod model;
pub mod pack;
pub mod plugin;

pub use bindings::wit;
pub use candidate::{matrix_row, Assessed, Candidate};
pub use capabilities::{CallScope, Capabilities, Capability, CapabilityError, Grants};
pub use engine::{Runtime, RuntimeConfig};
pub use invoke::{plugin_error, BatchCall, BoundarySplit, Call, InvokeCause, InvokeError, InvokeReport, StepOutput};
pub use limits::CallLimits;
pub use pack::NodeDetail;
pub use plugin::{Kind, LoadError, LoadedPlugin, PluginInfo, SUPPORTED_VERSIONS};
