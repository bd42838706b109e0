//! The loaded snapshot of plugins and graphs, swapped atomically on reload. Work that
//! started on a snapshot holds its `Arc` and finishes on it; a reload that fails in any
//! way keeps the last good snapshot serving and records why.

mod watch;

pub use watch::{Watcher, DEBOUNCE};

use crate::graph::{self, Graph, PluginKinds};
use crate::plugins::{self, PluginSource};
use arc_swap::ArcSwap;
use planmap_runtime::{LoadedPlugin, Runtime};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// One consistent set of plugins and graphs.
pub struct Snapshot {
    /// Increases by one on every successful reload.
    pub generation: u64,
    pub plugins: BTreeMap<String, Arc<LoadedPlugin>>,
    pub graphs: BTreeMap<String, Arc<Graph>>,
    pub loaded_at: SystemTime,
}

impl Snapshot {
    /// A graph by name, or an error listing the ones there are.
    pub fn graph(&self, name: &str) -> anyhow::Result<Arc<Graph>> {
        self.graphs.get(name).cloned().ok_or_else(|| {
            anyhow::anyhow!("unknown graph '{name}' (loaded: {})", self.graphs.keys().cloned().collect::<Vec<_>>().join(", "))
        })
    }
}

/// The folders a snapshot is built from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// Folder of dropped `.wasm` plugins (`None`: built-ins only).
    pub plugin_dir: Option<PathBuf>,
    /// Folder of `*.toml` graphs (`None`: built-in graphs only).
    pub graph_dir: Option<PathBuf>,
}

/// The outcome of the last reload attempt, for operators.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ReloadStatus {
    pub generation: u64,
    pub ok: bool,
    pub errors: Vec<String>,
    pub at_unix_ms: u64,
    pub duration_ms: f64,
    /// Since when (Unix ms) the folders have held a change that does not load: the
    /// snapshot is all or nothing, so no other change in `plugins/` or `graphs/` loads
    /// until the errors are fixed (a graph and the plugins it names are validated
    /// together, and a half-applied change could run a mix nobody checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_since_unix_ms: Option<u64>,
    /// What that means for the operator, when blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Holds the current snapshot and rebuilds it on demand.
pub struct Registry {
    pub runtime: Arc<Runtime>,
    pub sources: Sources,
    current: ArcSwap<Snapshot>,
    status: Mutex<ReloadStatus>,
    /// Reloads are serialised so two file events never build snapshots concurrently.
    reload_lock: Mutex<()>,
}

impl Registry {
    /// Build the first snapshot; fails (listing every error) when it is not valid.
    pub fn open(runtime: Arc<Runtime>, sources: Sources) -> Result<Registry, Vec<String>> {
        let t = Instant::now();
        let snap = build(&runtime, &sources, None, 1)?;
        let status = ReloadStatus { generation: 1, ok: true, errors: vec![], at_unix_ms: now_ms(), duration_ms: t.elapsed().as_secs_f64() * 1e3, blocked_since_unix_ms: None, note: None };
        Ok(Registry { runtime, sources, current: ArcSwap::from_pointee(snap), status: Mutex::new(status), reload_lock: Mutex::new(()) })
    }

    /// The snapshot new work should start on.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The last reload's outcome.
    pub fn status(&self) -> ReloadStatus {
        self.status.lock().unwrap().clone()
    }

    /// Rebuild from the folders and swap if valid. Blocking (compiles wasm): call it
    /// from a blocking thread. Returns the generation now serving.
    pub fn reload(&self) -> Result<u64, Vec<String>> {
        let _guard = self.reload_lock.lock().unwrap();
        let t = Instant::now();
        let prev = self.snapshot();
        let result = build(&self.runtime, &self.sources, Some(&prev), prev.generation + 1);
        let mut status = self.status.lock().unwrap();
        status.at_unix_ms = now_ms();
        status.duration_ms = t.elapsed().as_secs_f64() * 1e3;
        crate::metrics::record_reload(result.is_ok());
        match result {
            Ok(snap) => {
                let g = snap.generation;
                self.current.store(Arc::new(snap));
                *status = ReloadStatus { generation: g, ok: true, errors: vec![], blocked_since_unix_ms: None, note: None, ..status.clone() };
                tracing::info!(generation = g, ms = status.duration_ms, "reloaded plugins and graphs");
                Ok(g)
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!(generation = prev.generation, "reload rejected, keeping the last good snapshot: {e}");
                }
                let since = status.blocked_since_unix_ms.unwrap_or(status.at_unix_ms);
                let note = format!(
                    "generation {} keeps serving; no change in the plugin or graph folders loads until these errors are fixed (a snapshot is loaded whole or not at all)",
                    prev.generation
                );
                *status = ReloadStatus { generation: prev.generation, ok: false, errors: errors.clone(), blocked_since_unix_ms: Some(since), note: Some(note), ..status.clone() };
                Err(errors)
            }
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Load every plugin (reusing the previous snapshot's compiled plugins by digest) and
/// every graph, and validate graphs against the plugins. Any error rejects the whole.
fn build(runtime: &Runtime, sources: &Sources, prev: Option<&Snapshot>, generation: u64) -> Result<Snapshot, Vec<String>> {
    let (found, mut errors) = plugins::discover(sources.plugin_dir.as_deref());
    let mut loaded = BTreeMap::new();
    for PluginSource { name, bytes, origin } in found {
        let digest = planmap_runtime::plugin::digest(&bytes);
        if let Some(p) = prev.and_then(|p| p.plugins.get(&name)).filter(|p| p.info.digest == digest) {
            loaded.insert(name, p.clone());
            continue;
        }
        match runtime.load(&name, &bytes, &origin) {
            Ok(p) => {
                loaded.insert(name, Arc::new(p));
            }
            Err(e) => errors.push(format!("{origin}: {e}")),
        }
    }
    let kinds: PluginKinds = loaded.iter().map(|(n, p)| (n.clone(), p.kind)).collect();
    let mut graphs = BTreeMap::new();
    for (name, text) in plugins::BUILTIN_GRAPHS {
        match graph::parse_graph(Path::new(&format!("<builtin>/{name}.toml")), text, &kinds) {
            Ok(g) => {
                graphs.insert(g.name.clone(), Arc::new(g));
            }
            Err(es) => errors.extend(es.iter().map(|e| e.to_string())),
        }
    }
    for file in graph_files(sources.graph_dir.as_deref(), &mut errors) {
        match graph::load_file(&file, &kinds) {
            Ok(g) => {
                graphs.insert(g.name.clone(), Arc::new(g));
            }
            Err(es) => errors.extend(es.iter().map(|e| e.to_string())),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Snapshot { generation, plugins: loaded, graphs, loaded_at: SystemTime::now() })
}

fn graph_files(dir: Option<&Path>, errors: &mut Vec<String>) -> Vec<PathBuf> {
    let Some(dir) = dir else { return vec![] };
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut v: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file() && plugins::is_candidate(p, "toml")).collect();
            v.sort();
            v
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
        Err(e) => {
            errors.push(format!("{}: cannot list graph folder: {e}", dir.display()));
            vec![]
        }
    }
}
