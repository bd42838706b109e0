//! Lock-step batches: the plan nodes at one graph node share one plugin invocation, a
//! node that traps a batch fails alone while the others go on, and scorers get slim
//! candidates (id and features) while the host keeps the evidence and builds the
//! explanation.

use crate::support::*;
use planmap::pipeline::{run_nodes, RunContext, Terminal};
use planmap::runtime::{Runtime, RuntimeConfig};
use std::sync::Arc;
use planmap::runtime::wit::Family;
use planmap::snapshot::Registry;

/// A registry on its own runtime, so its invocation count is this test's alone.
fn registry_with(graph: &str) -> (tempfile::TempDir, Registry) {
    let own = Arc::new(Runtime::new(RuntimeConfig { cache_dir: Some(std::env::temp_dir().join(format!("planmap-test-cache-{}", std::process::id()))) }).unwrap());
    registry_with_graphs(own, &[("t", graph)])
}

const GRAPH: &str = r#"
entry = "retrieve"
[nodes.retrieve]
kind = "retriever"
plugin = "lexical-retriever"
capabilities = ["code-search"]
[nodes.match]
kind = "matcher"
plugin = "evidence-matcher"
capabilities = ["code-search"]
[nodes.score]
kind = "scorer"
plugin = "test-scorer"
[nodes.score.config]
mode = "trap-on"
node = "2"
confidence = 0.9
[[edges]]
from = "retrieve"
to = "match"
[[edges]]
from = "match"
to = "score"
[[edges]]
from = "score"
to = "finish"
"#;

#[tokio::test]
async fn nodes_share_invocations_and_a_trapping_node_fails_alone() {
    let (_dir, reg) = registry_with(GRAPH);
    let snap = reg.snapshot();
    let graph = snap.graph("t").unwrap();
    let sites = vec![site(0, "join", "etl/a.py", 10, &["id"]), site(1, "join", "etl/b.py", 20, &["id", "day"])];
    let nodes = (1..=5).map(|i| plan_node(&i.to_string(), "SortMergeJoin", Family::Join, &["id"])).collect();
    let before = reg.runtime.invocations();
    let out = run_nodes(&reg.runtime, &snap, &graph, nodes, capabilities(sites), &RunContext::default()).await;
    // Retriever and matcher once each for all five; the scorer once for the batch, which
    // traps, then once per node to find the culprit.
    let used = reg.runtime.invocations() - before;
    assert_eq!(used, 2 + 1 + 5);
    for (i, o) in out.iter().enumerate() {
        let id = i + 1;
        if id == 2 {
            assert_eq!(o.terminal, Terminal::Failed);
            let e = o.error.as_deref().unwrap();
            assert!(e.contains("plan node 2") && e.contains("trap"), "{e}");
        } else {
            assert_eq!(o.terminal, Terminal::Finish, "node {id}: {:?}", o.error);
            assert_eq!(o.candidates.len(), 2);
            assert!(o.candidates.iter().all(|c| (c.confidence() - 0.9).abs() < 1e-9));
            // The host kept the evidence the scorer never saw, and the features by name.
            assert!(!o.candidates[0].evidence().is_empty());
            assert!(o.candidates[0].named_features(&o.feature_names).any(|(n, _)| n == "kind"));
        }
    }
}

#[tokio::test]
async fn an_empty_explanation_from_a_scorer_is_built_from_the_evidence() {
    // The built-in scorer leaves the explanation to the host.
    let builtin = GRAPH.replace("plugin = \"test-scorer\"", "plugin = \"weighted-scorer\"").replace("mode = \"trap-on\"\nnode = \"2\"\nconfidence = 0.9\n", "");
    let (_dir, reg) = registry_with(&builtin);
    let snap = reg.snapshot();
    let g = snap.graph("t").unwrap();
    let sites = vec![site(0, "join", "etl/a.py", 10, &["id"])];
    let out = run_nodes(&reg.runtime, &snap, &g, vec![plan_node("1", "SortMergeJoin", Family::Join, &["id"])], capabilities(sites), &RunContext::default()).await;
    let c = &out[0].candidates[0];
    assert!(c.explanation().contains("join"), "{}", c.explanation());
}
