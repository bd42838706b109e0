//! Shared test helpers: one plugin runtime per test binary (compiling plugins is the
//! slow part), test plugins by name, scratch folders and small plan/candidate values.

#![allow(dead_code)]

pub mod postgres;
pub mod proxy;
pub mod services;

use planmap::capabilities::{IndexEntry, JobCapabilities, MemoryCache, MemoryIndex};
use planmap::runtime::model::{CodeSite, Location, PlanNode, Semantics};
use planmap::runtime::wit::*;
use planmap::runtime::{Runtime, RuntimeConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Folder with the test plugins, built by host/build.rs.
pub const WASM_DIR: &str = env!("PLANMAP_TEST_WASM_DIR");

/// The bytes of a plugin built in the plugins workspace (`chaos_scorer`, ...).
pub fn wasm(crate_name: &str) -> Vec<u8> {
    let p = Path::new(WASM_DIR).join(format!("{}.wasm", crate_name.replace('-', "_")));
    std::fs::read(&p).unwrap_or_else(|e| panic!("test plugin {}: {e}", p.display()))
}

/// The runtime shared by all tests of this binary, with a compile cache of its own.
pub fn runtime() -> Arc<Runtime> {
    static RT: OnceLock<Arc<Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("planmap-test-cache-{}", std::process::id()));
        Arc::new(Runtime::new(RuntimeConfig { cache_dir: Some(dir) }).expect("runtime"))
    })
    .clone()
}

/// A scratch folder removed when dropped.
pub fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// A code site for tests.
pub fn site(id: u32, kind: &str, file: &str, line: u32, columns: &[&str]) -> CodeSite {
    CodeSite {
        id,
        location: Location { file: file.into(), symbol: "main".into(), line_start: line, line_end: line },
        statement_start: line,
        statement_end: line,
        kind: kind.into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        tables: vec![],
        literals: vec![],
        functions: vec![],
    }
}

/// Capabilities over a small index.
pub fn capabilities(sites: Vec<CodeSite>) -> Arc<JobCapabilities> {
    Arc::new(JobCapabilities::new(Arc::new(MemoryIndex::build(sites.into_iter().map(entry).collect(), &[])), Arc::new(MemoryCache::new())))
}

/// An index entry for a test site, its snippet made from its kind and columns.
pub fn entry(site: CodeSite) -> IndexEntry {
    let snippet = format!("df.{}({})", site.kind, site.columns.join(", "));
    IndexEntry { name: format!("site-{}", site.id), source: SiteSource { site_id: site.id, language: "python".into(), snippet }, site, outputs: vec![] }
}

/// A plan node of the given family with join keys.
pub fn plan_node(id: &str, operator: &str, family: Family, keys: &[&str]) -> PlanNode {
    PlanNode {
        id: id.into(),
        operator: operator.into(),
        family,
        induced: None,
        semantics: Semantics {
            tables: vec![], paths: vec![], format: None, columns: vec![], output_columns: vec![],
            left_keys: keys.iter().map(|k| k.to_string()).collect(), right_keys: keys.iter().map(|k| k.to_string()).collect(),
            join_type: None, build_side: None, grouping_keys: vec![], aggregate_functions: vec![], predicates: vec![], literals: vec![],
            sort_keys: vec![], window_partition: vec![], window_functions: vec![], limit: None, udfs: vec![], aliases: vec![],
            functions: vec![], write_target: None, flags: vec![], truncated: false,
        },
        neighbours: vec![],
        plan_files: vec![],
        fragment: operator.into(),
    }
}

/// A batch for one input whose candidates (retrieval score 1, no features yet) are on
/// these sites, and the input's rows of its candidate columns.
pub fn batch_with_candidates(config: &str, graph_node: &str, sites: &[CodeSite]) -> (planmap::runtime::model::Batch, Rows) {
    let mut b = planmap::runtime::model::Batch::new(config.into(), "t".into(), graph_node.into(), 1);
    let candidates: Vec<planmap::runtime::Candidate> = sites.iter().map(|s| planmap::runtime::Candidate::proposed(s.clone(), 1.0)).collect();
    let rows = b.push_candidates(&candidates, &[]);
    (b, rows)
}

/// Poll `f` until it is true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

/// A registry over the built-ins, the chaos scorer as `test-scorer`, and `graphs`
/// (file stem, TOML) in a scratch folder kept alive by the returned guard.
pub fn registry_with_graphs(runtime: Arc<Runtime>, graphs: &[(&str, &str)]) -> (tempfile::TempDir, planmap::snapshot::Registry) {
    let dir = scratch();
    let (plugin_dir, graph_dir) = (dir.path().join("plugins"), dir.path().join("graphs"));
    std::fs::create_dir_all(&plugin_dir).unwrap();
    std::fs::create_dir_all(&graph_dir).unwrap();
    publish(&plugin_dir, "test-scorer.wasm", &wasm("chaos_scorer"));
    for (name, text) in graphs {
        std::fs::write(graph_dir.join(format!("{name}.toml")), text).unwrap();
    }
    let reg = planmap::snapshot::Registry::open(runtime, planmap::snapshot::Sources { plugin_dir: Some(plugin_dir), graph_dir: Some(graph_dir) }).expect("a valid snapshot");
    (dir, reg)
}

/// Write a file via a temp name and rename it into place (how deploy tools publish).
pub fn publish(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    let dst = dir.join(name);
    std::fs::rename(&tmp, &dst).unwrap();
    dst
}

/// The same component with a custom section appended: a different digest and
/// identical behaviour, i.e. "a new version of the plugin".
pub fn new_version(bytes: &[u8], tag: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }
    let name = b"planmap-test-version";
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0);
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}
