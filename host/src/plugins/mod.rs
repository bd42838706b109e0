//! Where plugins come from: the built-ins compiled into the binary, and `.wasm` files
//! dropped into the plugin folder (a file overrides a built-in of the same name,
//! which is how a team ships a new version of a strategy).

use std::path::Path;
use std::sync::Arc;

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// The graph compiled into the binary, so `planmap map` works outside a checkout.
pub const BUILTIN_GRAPHS: &[(&str, &str)] = &[("default", include_str!("../../../graphs/default.toml"))];

/// One plugin to load.
#[derive(Clone)]
pub struct PluginSource {
    /// Name graphs refer to: the file stem, or the built-in's name.
    pub name: String,
    pub bytes: Arc<[u8]>,
    /// `builtin` or the file path.
    pub origin: String,
}

/// Whether a path in a watched folder is a real file of interest and not an editor
/// or copy temp file (dotfiles, `~`, `.swp`, `.tmp`, `.part`, `.crdownload`).
pub fn is_candidate(path: &Path, extension: &str) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    if name.starts_with('.') || name.ends_with('~') || name.starts_with('#') {
        return false;
    }
    path.extension().and_then(|e| e.to_str()) == Some(extension)
}

/// The built-ins plus every `*.wasm` in `dir` (not recursive). Read errors are reported
/// per file and the file is left out.
pub fn discover(dir: Option<&Path>) -> (Vec<PluginSource>, Vec<String>) {
    let mut out: Vec<PluginSource> = BUILTIN_PLUGINS
        .iter()
        .map(|(name, bytes)| PluginSource { name: name.to_string(), bytes: Arc::from(*bytes), origin: "builtin".into() })
        .collect();
    let mut errors = Vec::new();
    let Some(dir) = dir else { return (out, errors) };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (out, errors),
        Err(e) => {
            errors.push(format!("{}: cannot list plugin folder: {e}", dir.display()));
            return (out, errors);
        }
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file() && is_candidate(p, "wasm")).collect();
    files.sort();
    for path in files {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => {
                out.retain(|p| p.name != name);
                out.push(PluginSource { name, bytes: Arc::from(bytes), origin: path.display().to_string() });
            }
            Err(e) => errors.push(format!("{}: cannot read plugin: {e}", path.display())),
        }
    }
    (out, errors)
}
