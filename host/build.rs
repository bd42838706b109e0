//! Builds the strategy plugins in `plugins/` for wasm32-wasip2 so that a plain
//! `cargo build` (or `cargo run`) of the host yields a binary with its built-in
//! plugins embedded. Test plugins are built too and their paths exported to tests.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target the plugins are built for.
const TARGET: &str = "wasm32-wasip2";
/// Plugins compiled into the binary (crate name under plugins/builtin/).
const BUILTIN: &[&str] = &["lexical-retriever", "evidence-matcher", "weighted-scorer", "threshold-router", "llm-verifier"];
/// Plugins built only for tests (crate name under plugins/testing/).
const TESTING: &[&str] = &["chaos-scorer"];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let plugins = root.join("plugins");
    for dir in ["sdk", "builtin", "testing"] {
        println!("cargo:rerun-if-changed={}", plugins.join(dir).display());
    }
    println!("cargo:rerun-if-changed={}", plugins.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());

    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let target_dir = plugin_target_dir(&out_dir, &root);
    check_target_installed();

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags are for the host target; they must not leak into the
    // wasm build (e.g. `-C target-cpu=native` or coverage instrumentation).
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER", "CARGO_PRIMARY_PACKAGE"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().unwrap_or_else(|e| fail(&format!("cannot run cargo to build the plugins: {e}")));
    if !status.success() {
        fail(&format!("building the plugins in {} for {TARGET} failed (see the cargo output above)", plugins.display()));
    }

    let wasm_dir = target_dir.join(TARGET).join("release");
    let mut embedded = String::from("/// Built-in plugins embedded at build time: (name, wasm bytes).\npub const BUILTIN_PLUGINS: &[(&str, &[u8])] = &[\n");
    for name in BUILTIN {
        let file = wasm_dir.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(file.exists(), "plugin {name} was not produced at {}", file.display());
        embedded.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", file.display().to_string()));
    }
    embedded.push_str("];\n");
    std::fs::write(out_dir.join("builtin_plugins.rs"), embedded).unwrap();
    // Tests and benches find the test plugins here.
    println!("cargo:rustc-env=PLANMAP_TEST_WASM_DIR={}", wasm_dir.display());
    for name in TESTING {
        assert!(wasm_dir.join(format!("{}.wasm", name.replace('-', "_"))).exists(), "test plugin {name} missing");
    }
}

/// Stop the build with one clear line (a panic would add a backtrace hint).
fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1)
}

/// The plugins get their own target dir beside the host's profile folders
/// (`OUT_DIR` is `<target>/<profile>/build/<pkg>/out`), shared by every profile's build
/// of the host, so a target dir reused by later runs (as CI does) also caches the wasm
/// build. It is one per checkout: two checkouts sharing a target dir would otherwise
/// copy their `.wasm` files over each other's while each inner build thinks its own
/// are up to date.
fn plugin_target_dir(out_dir: &Path, root: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    root.hash(&mut h);
    let name = format!("wasm-plugins-{:016x}", h.finish());
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|build| build.parent()?.parent())
        .map(|t| t.join(&name))
        .unwrap_or_else(|| out_dir.join(&name))
}

/// The wasm target must be installed for the toolchain building us. On a fresh machine
/// with rustup it usually is not (rust-toolchain.toml lists it, but rustup adds listed
/// targets only when it installs the toolchain), so install it here; without rustup,
/// stop with the exact fix instead of a backtrace.
fn check_target_installed() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Some(sysroot) = Command::new(&rustc).args(["--print", "sysroot"]).output().ok().and_then(|o| String::from_utf8(o.stdout).ok()) else { return };
    let lib = Path::new(sysroot.trim()).join("lib/rustlib").join(TARGET);
    if lib.exists() {
        return;
    }
    // rustup's proxies tell the processes they start which toolchain they run.
    let toolchain = env::var("RUSTUP_TOOLCHAIN").unwrap_or_else(|_| "1.95.0".into());
    println!("cargo:warning=installing the {TARGET} target for toolchain {toolchain} (the built-in plugins are compiled for it)");
    let installed = Command::new("rustup").args(["target", "add", "--toolchain", &toolchain, TARGET]).status().is_ok_and(|s| s.success());
    if !installed || !lib.exists() {
        eprintln!("\nerror: the {TARGET} target is not installed for this toolchain and rustup could not add it; install it with:\n\n    rustup target add --toolchain {toolchain} {TARGET}\n");
        std::process::exit(1);
    }
}
