//! Mapping graphs: the TOML topology of retriever → matcher → scorer → router steps,
//! its validation (every error at once, with file and line) and its renderings.

mod load;
mod model;
pub mod render;
mod validate;

pub use load::{load_file, parse_graph};
pub use model::{Branch, Calibration, Condition, Edge, Graph, GraphNode, NodeTarget, PluginChoice, StickyKey, Target, Variant, TERMINALS};
pub use render::{render, RenderFormat};
pub use validate::PluginKinds;

use std::fmt;
use std::path::PathBuf;

/// One problem found in a graph file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// All problems of one or more graph files.
#[derive(Debug, Clone, thiserror::Error)]
pub struct GraphErrors(pub Vec<GraphError>);

impl fmt::Display for GraphErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
