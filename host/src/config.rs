//! Where planmap keeps things on disk and how the runtime is set up, from flags and
//! environment variables.

use planmap_runtime::{Runtime, RuntimeConfig};
use std::path::PathBuf;
use std::sync::Arc;

/// The default folder of compiled-plugin cache files: `$XDG_CACHE_HOME/planmap/compiled`
/// or `~/.cache/planmap/compiled`, so a restart never recompiles an unchanged plugin.
pub fn default_compile_cache() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("planmap").join("compiled"))
}

/// Build the plugin runtime with the compile cache in `cache_dir` (or none when
/// `no_cache` is set).
pub fn runtime(cache_dir: Option<PathBuf>, no_cache: bool) -> anyhow::Result<Arc<Runtime>> {
    let cache_dir = if no_cache { None } else { cache_dir.or_else(default_compile_cache) };
    Ok(Arc::new(Runtime::new(RuntimeConfig { cache_dir })?))
}
