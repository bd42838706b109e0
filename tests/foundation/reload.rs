//! Live reload: a new plugin version dropped into the folder is used by the next run
//! while a run in flight finishes on the old one; broken plugins and graphs leave the
//! last good snapshot serving; rename-into-place and in-place writes both work.

use crate::support::*;
use planmap::pipeline::{run_node, RunContext, Terminal};
use planmap::runtime::plugin::digest;
use planmap::runtime::wit::Family;
use planmap::snapshot::{Registry, Sources, Watcher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn graph(busy_ms: u32) -> String {
    format!(
        "entry = \"score\"\n[nodes.score]\nkind = \"scorer\"\nplugin = \"test-scorer\"\ntimeout_ms = 10000\n[nodes.score.config]\nmode = \"busy\"\nms = {busy_ms}\nconfidence = 0.9\n[[edges]]\nfrom = \"score\"\nto = \"finish\"\n"
    )
}

struct Setup {
    _dir: tempfile::TempDir,
    plugins: std::path::PathBuf,
    graphs: std::path::PathBuf,
    registry: Arc<Registry>,
    _watcher: Watcher,
}

/// How long the in-flight run's scorer stays busy: the swap must land inside it.
const IN_FLIGHT_MS: u32 = 5000;

fn setup(busy_ms: u32) -> Setup {
    let dir = scratch();
    let plugins = dir.path().join("plugins");
    let graphs = dir.path().join("graphs");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&graphs).unwrap();
    publish(&plugins, "test-scorer.wasm", &wasm("chaos_scorer"));
    std::fs::write(graphs.join("t.toml"), graph(busy_ms)).unwrap();
    let sources = Sources { plugin_dir: Some(plugins.clone()), graph_dir: Some(graphs.clone()) };
    let registry = Arc::new(Registry::open(runtime(), sources).expect("first snapshot"));
    let watcher = Watcher::start(registry.clone()).unwrap();
    Setup { _dir: dir, plugins, graphs, registry, _watcher: watcher }
}

async fn run_once(reg: &Registry, snap: Arc<planmap::snapshot::Snapshot>) -> planmap::pipeline::NodeOutcome {
    let graph = snap.graph("t").unwrap();
    let sites = vec![site(0, "join", "a.py", 1, &["id"])];
    run_node(&reg.runtime, &snap, &graph, plan_node("1", "SortMergeJoin", Family::Join, &["id"]), capabilities(sites), &RunContext::default()).await
}

fn used_digest(o: &planmap::pipeline::NodeOutcome) -> String {
    assert_eq!(o.terminal, Terminal::Finish, "{:?}", o.error);
    o.steps[0].digest.clone()
}

fn wait_generation(reg: &Registry, g: u64) {
    assert!(wait_until(WAIT, || reg.snapshot().generation >= g), "no reload to generation {g}: {:?}", reg.status());
}

fn wait_rejected(reg: &Registry, needle: &str) -> Vec<String> {
    assert!(wait_until(WAIT, || !reg.status().ok), "the broken change was not noticed: {:?}", reg.status());
    let errors = reg.status().errors;
    assert!(errors.iter().any(|e| e.contains(needle)), "errors do not mention {needle}: {errors:#?}");
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plugin_version_is_used_by_the_next_run_while_a_run_in_flight_finishes_on_the_old() {
    // Long enough for the reload (a debug build compiles the new component) to land
    // while the first run is still busy, on a loaded 2-core machine.
    let s = setup(IN_FLIGHT_MS);
    let v1 = digest(&wasm("chaos_scorer"));
    let v2_bytes = new_version(&wasm("chaos_scorer"), "v2");
    let v2 = digest(&v2_bytes);
    let reg = s.registry.clone();
    let in_flight = tokio::spawn(async move {
        let snap = reg.snapshot();
        run_once(&reg, snap).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    publish(&s.plugins, "test-scorer.wasm", &v2_bytes);
    let reg = s.registry.clone();
    tokio::task::spawn_blocking(move || wait_generation(&reg, 2)).await.unwrap();
    assert!(!in_flight.is_finished(), "the in-flight run should still be busy when the swap happens");
    assert_eq!(used_digest(&in_flight.await.unwrap()), v1, "the run in flight keeps its snapshot");
    let next = run_once(&s.registry, s.registry.snapshot()).await;
    assert_eq!(used_digest(&next), v2, "the next run uses the new version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_write_is_picked_up() {
    let s = setup(0);
    let v2_bytes = new_version(&wasm("chaos_scorer"), "in-place");
    std::fs::write(s.plugins.join("test-scorer.wasm"), &v2_bytes).unwrap();
    let reg = s.registry.clone();
    tokio::task::spawn_blocking(move || wait_generation(&reg, 2)).await.unwrap();
    assert_eq!(used_digest(&run_once(&s.registry, s.registry.snapshot()).await), digest(&v2_bytes));
    // A reload reads every file; reading is no change, so it never sets off another.
    std::thread::sleep(planmap::snapshot::DEBOUNCE * 6);
    assert_eq!(s.registry.snapshot().generation, 2, "{:?}", s.registry.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_wasm_leaves_the_last_good_snapshot_serving() {
    let s = setup(0);
    publish(&s.plugins, "test-scorer.wasm", b"\0asm this is not a component");
    let reg = s.registry.clone();
    tokio::task::spawn_blocking(move || wait_rejected(&reg, "test-scorer.wasm")).await.unwrap();
    assert_eq!(s.registry.snapshot().generation, 1);
    assert_eq!(used_digest(&run_once(&s.registry, s.registry.snapshot()).await), digest(&wasm("chaos_scorer")));
    // The status says the folders are blocked: nothing else loads until this is fixed.
    let st = s.registry.status();
    assert!(st.blocked_since_unix_ms.is_some() && st.note.as_deref().is_some_and(|n| n.contains("no change")), "{st:?}");
    // Fixing the file recovers.
    publish(&s.plugins, "test-scorer.wasm", &new_version(&wasm("chaos_scorer"), "fixed"));
    let reg = s.registry.clone();
    tokio::task::spawn_blocking(move || wait_generation(&reg, 2)).await.unwrap();
    let st = s.registry.status();
    assert!(st.ok && st.blocked_since_unix_ms.is_none() && st.note.is_none(), "{st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_graph_leaves_the_last_good_snapshot_serving() {
    let s = setup(0);
    std::fs::write(s.graphs.join("t.toml"), "entry = \"score\"\n[nodes.score\nkind = ").unwrap();
    let reg = s.registry.clone();
    let errors = tokio::task::spawn_blocking(move || wait_rejected(&reg, "t.toml")).await.unwrap();
    assert!(errors.iter().any(|e| e.contains("t.toml:2")), "{errors:?}");
    let o = run_once(&s.registry, s.registry.snapshot()).await;
    assert_eq!(o.terminal, Terminal::Finish);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_plugin_a_graph_uses_is_a_validation_error_not_a_crash() {
    let s = setup(0);
    std::fs::remove_file(s.plugins.join("test-scorer.wasm")).unwrap();
    let reg = s.registry.clone();
    tokio::task::spawn_blocking(move || wait_rejected(&reg, "unknown plugin 'test-scorer'")).await.unwrap();
    assert_eq!(run_once(&s.registry, s.registry.snapshot()).await.terminal, Terminal::Finish);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotfiles_and_temp_names_do_not_trigger_a_reload() {
    let s = setup(0);
    std::fs::write(s.plugins.join(".scratch.wasm"), b"junk").unwrap();
    std::fs::write(s.plugins.join("draft.wasm~"), b"junk").unwrap();
    std::fs::write(s.graphs.join("notes.toml.swp"), b"junk").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let st = s.registry.status();
    assert!(st.ok && st.generation == 1, "{st:?}");
    assert!(Path::new(&s.plugins).join(".scratch.wasm").exists());
}

/// Lay out `files` the way the kubelet mounts a ConfigMap: a hidden timestamped folder,
/// a `..data` link to it, and visible links through `..data`; a second call swaps the
/// content by renaming a new `..data` link into place, as the kubelet does.
fn configmap_publish(dir: &Path, version: &str, files: &[(&str, Vec<u8>)]) {
    let stamp = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&stamp).unwrap();
    for (name, bytes) in files {
        std::fs::write(stamp.join(name), bytes).unwrap();
        let visible = dir.join(name);
        if std::fs::symlink_metadata(&visible).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(name), &visible).unwrap();
        }
    }
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubernetes_configmap_update_is_picked_up() {
    let dir = scratch();
    let (plugins, graphs) = (dir.path().join("plugins"), dir.path().join("graphs"));
    std::fs::create_dir_all(&graphs).unwrap();
    configmap_publish(&plugins, "v1", &[("test-scorer.wasm", wasm("chaos_scorer"))]);
    std::fs::write(graphs.join("t.toml"), graph(0)).unwrap();
    let registry = Arc::new(Registry::open(runtime(), Sources { plugin_dir: Some(plugins.clone()), graph_dir: Some(graphs.clone()) }).expect("first snapshot"));
    let _watcher = Watcher::start(registry.clone()).unwrap();
    let v2 = new_version(&wasm("chaos_scorer"), "configmap-v2");
    configmap_publish(&plugins, "v2", &[("test-scorer.wasm", v2.clone())]);
    wait_generation(&registry, 2);
    let out = run_once(&registry, registry.snapshot()).await;
    assert_eq!(used_digest(&out), digest(&v2));
}
