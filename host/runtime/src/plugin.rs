//! Loading a plugin: digest, compile (or reuse the on-disk cache), identify its world
//! and contract version from its exports, and pre-instantiate it against the linker.

use crate::bindings::{matcher, retriever, router, scorer};
use crate::host_impl::HostState;
use crate::Runtime;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};
use wasmtime::component::Component;

/// Contract versions this host links. A plugin built against another version is
/// refused with a message naming these.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.6.0"];
/// WIT package every strategy plugin exports from.
const PACKAGE: &str = "planmap:strategy";

/// The four node kinds (one WIT world each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Retriever,
    Matcher,
    Scorer,
    Router,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Retriever, Kind::Matcher, Kind::Scorer, Kind::Router];

    /// The world name, as written in graph files (`kind = "scorer"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Retriever => "retriever",
            Kind::Matcher => "matcher",
            Kind::Scorer => "scorer",
            Kind::Router => "router",
        }
    }

    /// The interface the world exports.
    fn export(self) -> &'static str {
        match self {
            Kind::Retriever => "retrieve",
            Kind::Matcher => "matching",
            Kind::Scorer => "score",
            Kind::Router => "route",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin '{name}': not a valid WebAssembly component: {cause}")]
    Invalid { name: String, cause: String },
    #[error("plugin '{name}': exports no planmap strategy interface (expected one of {expected}); it exports: {found}")]
    NoWorld { name: String, expected: String, found: String },
    #[error("plugin '{name}': built against {PACKAGE}@{version}, but this host supports {supported}")]
    UnsupportedVersion { name: String, version: String, supported: String },
    #[error("plugin '{name}': exports more than one strategy interface ({found}); a plugin is exactly one kind")]
    Ambiguous { name: String, found: String },
    #[error("plugin '{name}': cannot be linked: {cause}")]
    Link { name: String, cause: String },
}

/// What `planmap plugin inspect` reports, and what the service lists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginInfo {
    pub name: String,
    /// World (= node kind).
    pub kind: &'static str,
    /// Contract package version the plugin was built against.
    pub package_version: String,
    /// `sha256:<hex>` of the .wasm bytes.
    pub digest: String,
    pub size: usize,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    /// Where it came from (`builtin` or a file path).
    pub source: String,
    /// Compile (or cache load) time.
    pub load_ms: f64,
    /// True when machine code came from the on-disk cache.
    pub cached: bool,
}

pub(crate) enum Pre {
    Retriever(retriever::RetrieverPre<HostState>),
    Matcher(matcher::MatcherPre<HostState>),
    Scorer(scorer::ScorerPre<HostState>),
    Router(router::RouterPre<HostState>),
}

/// A compiled, linked, ready-to-instantiate plugin.
pub struct LoadedPlugin {
    pub info: PluginInfo,
    pub kind: Kind,
    pub(crate) pre: Pre,
}

impl LoadedPlugin {
    /// Short form of the digest for messages (`sha256:0123456789ab`).
    pub fn short_digest(&self) -> &str {
        &self.info.digest[..self.info.digest.len().min(19)]
    }
}

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Runtime {
    /// Compile (or load from the cache) and pre-instantiate a plugin.
    pub fn load(&self, name: &str, bytes: &[u8], source: &str) -> Result<LoadedPlugin, LoadError> {
        let start = Instant::now();
        let digest = digest(bytes);
        let (component, cached) = self.compile(name, &digest, bytes)?;
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let (kind, version) = identify(name, &exports)?;
        let link = |e: wasmtime::Error| LoadError::Link { name: name.to_string(), cause: format!("{e:#}") };
        let ip = self.linker.instantiate_pre(&component).map_err(link)?;
        let pre = match kind {
            Kind::Retriever => Pre::Retriever(retriever::RetrieverPre::new(ip).map_err(link)?),
            Kind::Matcher => Pre::Matcher(matcher::MatcherPre::new(ip).map_err(link)?),
            Kind::Scorer => Pre::Scorer(scorer::ScorerPre::new(ip).map_err(link)?),
            Kind::Router => Pre::Router(router::RouterPre::new(ip).map_err(link)?),
        };
        let info = PluginInfo {
            name: name.to_string(),
            kind: kind.name(),
            package_version: version,
            digest,
            size: bytes.len(),
            imports,
            exports,
            source: source.to_string(),
            load_ms: duration_ms(start.elapsed()),
            cached,
        };
        tracing::debug!(plugin = name, digest = %info.digest, kind = %kind, cached, ms = info.load_ms, "plugin loaded");
        Ok(LoadedPlugin { info, kind, pre })
    }

    /// Compile with the on-disk cache keyed by digest + engine hash.
    fn compile(&self, name: &str, digest: &str, bytes: &[u8]) -> Result<(Component, bool), LoadError> {
        let invalid = |e: wasmtime::Error| LoadError::Invalid { name: name.to_string(), cause: format!("{e:#}") };
        if let Some(cause) = not_a_component(bytes) {
            return Err(LoadError::Invalid { name: name.to_string(), cause });
        }
        let Some(dir) = &self.cache_dir else {
            return Ok((Component::new(&self.engine, bytes).map_err(invalid)?, false));
        };
        let file = dir.join(format!("{}-{}.cwasm", digest.trim_start_matches("sha256:"), self.engine_key));
        if file.exists() {
            // SAFETY: the cache directory is private to planmap and every file in it was
            // written by `Component::serialize` of this engine configuration (the key
            // includes the engine's compatibility hash). wasmtime still validates the
            // header and refuses artifacts from another version or config.
            match unsafe { Component::deserialize_file(&self.engine, &file) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!(plugin = name, file = %file.display(), "ignoring unusable compile cache entry: {e:#}"),
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(invalid)?;
        if let Err(e) = write_cache(&file, &component) {
            tracing::warn!(plugin = name, file = %file.display(), "cannot write compile cache: {e:#}");
        }
        Ok((component, false))
    }

    /// Inspect a component without a graph: load it and report its info.
    pub fn inspect(&self, path: &Path) -> anyhow::Result<PluginInfo> {
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
        Ok(self.load(name, &bytes, &path.display().to_string())?.info)
    }
}

/// Why these bytes cannot be a component, told from their 8-byte header (wasmtime's
/// own message for a text file is a dump of the bytes it read).
fn not_a_component(bytes: &[u8]) -> Option<String> {
    /// `\0asm`, then a version and a layer: 1.0 of layer 0 is a core module; components
    /// are layer 1.
    const MAGIC: &[u8] = b"\0asm";
    const CORE_MODULE: &[u8] = &[1, 0, 0, 0];
    if bytes.len() < 8 || !bytes.starts_with(MAGIC) {
        let head: String = bytes.iter().take(16).flat_map(|b| std::ascii::escape_default(*b)).map(char::from).collect();
        return Some(format!("it is not WebAssembly (a .wasm file starts with \\0asm; this one starts with \"{head}\")"));
    }
    if &bytes[4..8] == CORE_MODULE {
        return Some("it is a WebAssembly core module, not a component: build the plugin for the wasm32-wasip2 target, or make the module a component with `wasm-tools component new`".into());
    }
    None
}

fn write_cache(file: &Path, component: &Component) -> anyhow::Result<()> {
    let bytes = component.serialize()?;
    // Write then rename so a concurrent reader never sees half a file.
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

/// Find the one `planmap:strategy/<export>@<version>` export and check its version.
fn identify(name: &str, exports: &[String]) -> Result<(Kind, String), LoadError> {
    let mut found: Vec<(Kind, String)> = Vec::new();
    for e in exports {
        let Some(rest) = e.strip_prefix(PACKAGE).and_then(|r| r.strip_prefix('/')) else { continue };
        let (iface, version) = rest.split_once('@').unwrap_or((rest, ""));
        if let Some(kind) = Kind::ALL.into_iter().find(|k| k.export() == iface) {
            found.push((kind, version.to_string()));
        }
    }
    match found.len() {
        0 => Err(LoadError::NoWorld {
            name: name.to_string(),
            expected: Kind::ALL.iter().map(|k| format!("{PACKAGE}/{}", k.export())).collect::<Vec<_>>().join(", "),
            found: if exports.is_empty() { "nothing".into() } else { exports.join(", ") },
        }),
        1 => {
            let (kind, version) = found.remove(0);
            if !SUPPORTED_VERSIONS.contains(&version.as_str()) {
                return Err(LoadError::UnsupportedVersion {
                    name: name.to_string(),
                    version,
                    supported: SUPPORTED_VERSIONS.iter().map(|v| format!("{PACKAGE}@{v}")).collect::<Vec<_>>().join(", "),
                });
            }
            Ok((kind, version))
        }
        _ => Err(LoadError::Ambiguous { name: name.to_string(), found: found.iter().map(|(k, _)| k.name()).collect::<Vec<_>>().join(", ") }),
    }
}

pub(crate) fn duration_ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifies_kind_and_refuses_unknown_versions() {
        let ok = identify("p", &["planmap:strategy/score@0.6.0".into()]).unwrap();
        assert_eq!(ok, (Kind::Scorer, "0.6.0".into()));
        let err = identify("p", &["planmap:strategy/score@9.0.0".into()]).unwrap_err().to_string();
        assert!(err.contains("9.0.0") && err.contains("planmap:strategy@0.6.0"), "{err}");
        assert!(matches!(identify("p", &["wasi:cli/run@0.2.6".into()]), Err(LoadError::NoWorld { .. })));
    }
}
