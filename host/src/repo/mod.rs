//! Repository ingestion and the code index: acquire a checkout (local path or git
//! URL at a commit, under a URL policy), walk it, extract every Spark operation site
//! from Python, SQL, notebooks, Scala and Java, link the data flow, and build the
//! index behind the code-search capability.

pub mod context;
pub mod files;
mod index;
mod jvm;
mod kinds;
mod link;
pub mod notebook;
pub mod python;
pub mod site;
pub mod source;
pub mod sql;
pub mod value;
pub mod walk;

pub use index::{build, build_with_progress, IndexStats, RepoContext, INDEXER_VERSION};
pub use site::Site;
pub use source::{Checkout, RepoPolicy, RepoSpec};

use crate::capabilities::MemoryIndex;

impl RepoContext {
    /// The in-process lexical index over this context's sites.
    pub fn memory_index(&self) -> MemoryIndex {
        MemoryIndex::build(self.sites.iter().map(Site::index_entry).collect(), &self.edges)
    }
}
