//! Watches the plugin and graph folders and reloads the registry when they change.
//! Events are debounced (editors and `cp` write in bursts; temp-file + rename arrives
//! as several events) and filtered (dotfiles and temp names never trigger a reload).

use super::Registry;
use crate::plugins::is_candidate;
use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult};
use std::sync::Arc;
use std::time::Duration;

/// Quiet time before a burst of file events triggers one reload. 250 ms covers a
/// `cp` of a multi-megabyte .wasm and an editor's save dance without feeling slow.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Kubernetes updates a mounted ConfigMap by writing a new hidden folder and renaming a
/// `..data` link onto it; the visible files are links through `..data` that never
/// change themselves, so that rename is the only sign of new content.
fn is_kubernetes_swap(p: &std::path::Path) -> bool {
    p.file_name().is_some_and(|n| n == "..data")
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    _debouncer: notify_debouncer_full::Debouncer<notify::RecommendedWatcher, notify_debouncer_full::RecommendedCache>,
}

impl Watcher {
    /// Start watching the registry's folders (those that exist).
    pub fn start(registry: Arc<Registry>) -> anyhow::Result<Watcher> {
        let reg = registry.clone();
        let mut debouncer = new_debouncer(DEBOUNCE, None, move |res: DebounceEventResult| match res {
            Ok(events) => {
                // Reading a file is no change: a reload opens every plugin and graph, and
                // counting those opens would make each reload set off the next.
                let changed = events.iter().filter(|e| !matches!(e.kind, notify::EventKind::Access(_)));
                let relevant = changed.flat_map(|e| e.paths.iter()).any(|p| is_candidate(p, "wasm") || is_candidate(p, "toml") || is_kubernetes_swap(p));
                if relevant {
                    // Errors are recorded in the registry's status and logged there.
                    let _ = reg.reload();
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!("file watcher error: {e}");
                }
            }
        })?;
        for dir in [&registry.sources.plugin_dir, &registry.sources.graph_dir].into_iter().flatten() {
            if dir.is_dir() {
                debouncer.watch(dir, RecursiveMode::NonRecursive)?;
                tracing::info!(dir = %dir.display(), "watching for plugin and graph changes");
            }
        }
        Ok(Watcher { _debouncer: debouncer })
    }
}
