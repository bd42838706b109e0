//! Lock-step batches: the plan nodes at one graph node share one plugin invocation, a
//! node that traps a batch fails alone while the others go on, and scorers get
//! candidates as ids and numbers (rows of the batch's columns) while the host keeps
//! the evidence and builds the explanation.

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
    // traps, then once per node to find the culprit; at the end the matcher once more,
    // to put the evidence of the four finished nodes' candidates in words.
    let used = reg.runtime.invocations() - before;
    assert_eq!(used, 2 + 1 + 5 + 1);
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
            // The host kept the evidence the scorer never saw, in words, and the features by name.
            assert!(!o.candidates[0].evidence().is_empty() && o.candidates[0].evidence().iter().all(|e| !e.detail.is_empty()));
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

#[tokio::test]
async fn a_graph_node_may_get_the_plan_node_in_brief_and_routers_do_by_default() {
    let describe = |extra: &str| GRAPH.replace("mode = \"trap-on\"\nnode = \"2\"\n", "mode = \"describe\"\n").replace("plugin = \"test-scorer\"\n", &format!("plugin = \"test-scorer\"\n{extra}"));
    let sites = vec![site(0, "join", "etl/a.py", 10, &["id"])];
    let mut node = plan_node("3", "SortMergeJoin", Family::Join, &["id"]);
    node.semantics.columns = vec!["id".into(), "day".into()];
    let seen = |graph: String| {
        let (node, sites) = (node.clone(), sites.clone());
        async move {
            let (_dir, reg) = registry_with(&graph);
            let snap = reg.snapshot();
            let out = run_nodes(&reg.runtime, &snap, &snap.graph("t").unwrap(), vec![node], capabilities(sites), &RunContext::default()).await;
            out[0].candidates[0].explanation().to_string()
        }
    };
    assert!(seen(describe("")).await.starts_with("node 3 SortMergeJoin: 2 columns, 0 neighbours, 13 fragment bytes"));
    let brief = seen(describe("plan_node = \"brief\"\n")).await;
    assert!(brief.starts_with("node 3 SortMergeJoin: 0 columns, 0 neighbours, 0 fragment bytes"), "{brief}");
    // Routers default to brief; anything else is refused with its name.
    let kinds: planmap::graph::PluginKinds = [("r", planmap::runtime::Kind::Router)].into_iter().map(|(n, k)| (n.to_string(), k)).collect();
    let g = planmap::graph::parse_graph(std::path::Path::new("g.toml"), "entry = \"route\"\n[nodes.route]\nkind = \"router\"\nplugin = \"r\"\n[[edges]]\nfrom = \"route\"\non = \"accept\"\nto = \"finish\"\n", &kinds).unwrap();
    assert!(g.nodes["route"].brief_node);
    let e = planmap::graph::parse_graph(std::path::Path::new("g.toml"), "entry = \"route\"\n[nodes.route]\nkind = \"router\"\nplugin = \"r\"\nplan_node = \"half\"\n[[edges]]\nfrom = \"route\"\non = \"accept\"\nto = \"finish\"\n", &kinds).unwrap_err();
    assert!(e[0].message.contains("plan_node 'half' is not one of full, brief"), "{e:?}");
}
