//! planmap: maps every node of a Spark physical plan to the source code that produced it.
//!
//! The crate is organised like the design: `plan` (plan ingestion), `repo` (code
//! index), `graph` (mapping topologies), `plugins` + `snapshot` (what is loaded and
//! live reload), `pipeline` (running a graph for a plan node), `capabilities` (what
//! plugins may call), `cli` (the `planmap` command).

pub mod capabilities;
pub mod cli;
pub mod config;
pub mod cost;
pub mod eval;
pub mod graph;
pub mod http;
pub mod jobs;
pub mod mapping;
pub mod metrics;
pub mod pipeline;
pub mod plan;
pub mod plugins;
pub mod program;
pub mod repo;
pub mod service;
pub mod snapshot;
pub mod text;

pub use planmap_runtime as runtime;
