//! The operator's commands: `graph validate`, `graph show`, `plugin inspect`.

use crate::support::*;
use std::process::Command;

fn planmap(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_planmap"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("run planmap");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn graph_validate_passes_the_default_graph_and_lists_every_error_of_a_bad_one() {
    let (code, out, _) = planmap(&["graph", "validate", "graphs/default.toml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("graphs/default.toml: ok"), "{out}");

    let dir = scratch();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "entry = \"a\"\n[nodes.a]\nkind = \"scorer\"\nplugin = \"ghost\"\ncapabilities = [\"root\"]\n").unwrap();
    let (code, out, _) = planmap(&["graph", "validate", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("bad.toml:4: node 'a': unknown plugin 'ghost'"), "{out}");
    assert!(out.contains("bad.toml:5: node 'a': unknown capability 'root'"), "{out}");
    assert!(out.contains("has no outgoing edge"), "{out}");
}

#[test]
fn graph_show_renders_dot_and_mermaid() {
    let (code, out, err) = planmap(&["graph", "show", "graphs/default.toml", "--format", "dot"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("digraph \"default\"") && out.contains("\"route\" -> \"finish\" [label=\"accept\"]"), "{out}");
    let (_, out, _) = planmap(&["graph", "show", "graphs/default.toml", "--format", "mermaid"]);
    assert!(out.contains("route -- verify --> retrieve"), "{out}");
}

#[test]
fn plugin_inspect_reports_world_version_exports_imports_size_and_digest() {
    let path = format!("{WASM_DIR}/chaos_scorer.wasm");
    let (code, out, err) = planmap(&["plugin", "inspect", &path, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "scorer");
    assert_eq!(v["package_version"], "0.6.0");
    assert_eq!(v["exports"][0], "planmap:strategy/score@0.6.0");
    assert!(v["imports"].as_array().unwrap().iter().any(|i| i == "planmap:strategy/llm@0.6.0"));
    assert_eq!(v["size"].as_u64().unwrap() as usize, wasm("chaos_scorer").len());
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    let (code, _, err) = planmap(&["plugin", "inspect", "README.md"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a valid WebAssembly component") && err.contains("it is not WebAssembly"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line, not a dump of the bytes: {err}");
}
