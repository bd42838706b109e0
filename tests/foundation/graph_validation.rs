//! Graph validation: one test per error class, and a file with several errors
//! reports all of them with their lines.

use planmap::graph::{parse_graph, GraphError, PluginKinds};
use planmap::runtime::Kind;
use std::path::Path;

fn kinds() -> PluginKinds {
    [("r", Kind::Retriever), ("m", Kind::Matcher), ("s", Kind::Scorer), ("route", Kind::Router)]
        .into_iter()
        .map(|(n, k)| (n.to_string(), k))
        .collect()
}

const GOOD: &str = r#"
entry = "retrieve"
max_visits = 2
[nodes.retrieve]
kind = "retriever"
plugin = "r"
capabilities = ["code-search"]
[nodes.score]
kind = "scorer"
plugin = "s"
[nodes.route]
kind = "router"
plugin = "route"
[[edges]]
from = "retrieve"
to = "score"
[[edges]]
from = "score"
to = "route"
[[edges]]
from = "route"
on = "accept"
to = "finish"
[[edges]]
from = "route"
on = "verify"
to = "retrieve"
"#;

fn errors(text: &str) -> Vec<GraphError> {
    parse_graph(Path::new("g.toml"), text, &kinds()).expect_err("must be invalid")
}

fn one_error(text: &str) -> GraphError {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

#[test]
fn the_good_graph_is_valid() {
    let g = parse_graph(Path::new("g.toml"), GOOD, &kinds()).unwrap();
    assert_eq!(g.name, "g");
    assert_eq!(g.entry, "retrieve");
    assert_eq!(g.max_visits, 2);
    assert!(g.version.starts_with("0+sha256:"));
}

#[test]
fn an_unknown_plugin_is_reported_with_its_line() {
    let e = one_error(&GOOD.replace("plugin = \"s\"", "plugin = \"nope\""));
    assert!(e.message.contains("unknown plugin 'nope'") && e.message.contains("available: m, r, route, s"), "{e}");
    assert_eq!(e.line, Some(10));
    assert_eq!(e.to_string(), format!("g.toml:10: {}", e.message));
}

#[test]
fn a_plugin_of_the_wrong_world_is_reported() {
    let e = one_error(&GOOD.replace("plugin = \"s\"", "plugin = \"r\""));
    assert!(e.message.contains("plugin 'r' is a retriever, but the node is a scorer"), "{e}");
}

#[test]
fn a_dangling_edge_is_reported() {
    let e = errors(&GOOD.replace("to = \"score\"", "to = \"scor\""));
    assert!(e.iter().any(|e| e.message.contains("edge retrieve → 'scor': no such node or terminal")), "{e:?}");
}

#[test]
fn a_missing_edge_is_reported() {
    let text = GOOD.replace("[[edges]]\nfrom = \"score\"\nto = \"route\"\n", "");
    let e = errors(&text);
    assert!(e.iter().any(|e| e.message.contains("node 'score' has no outgoing edge")), "{e:?}");
}

#[test]
fn an_unreachable_node_is_reported() {
    let text = format!("{GOOD}\n[nodes.orphan]\nkind = \"matcher\"\nplugin = \"m\"\n[[edges]]\nfrom = \"orphan\"\nto = \"finish\"\n");
    let e = one_error(&text);
    assert!(e.message.contains("node 'orphan' is unreachable from entry 'retrieve'"), "{e}");
}

#[test]
fn a_cycle_without_a_bound_is_reported() {
    let e = one_error(&GOOD.replace("max_visits = 2\n", ""));
    assert!(e.message.contains("cycle") && e.message.contains("has no bound") && e.message.contains("max_visits"), "{e}");
    assert!(e.message.contains("retrieve → score → route → retrieve"), "{e}");
}

#[test]
fn an_unknown_capability_is_reported() {
    let e = one_error(&GOOD.replace("[\"code-search\"]", "[\"code-search\", \"filesystem\"]"));
    assert!(e.message.contains("unknown capability 'filesystem'") && e.message.contains("code-search, cache, vectors, llm"), "{e}");
    assert_eq!(e.line, Some(7));
}

#[test]
fn a_router_edge_without_a_label_and_a_labelled_plain_edge_are_reported() {
    let text = GOOD.replace("on = \"accept\"\n", "").replace("from = \"retrieve\"\nto = \"score\"", "from = \"retrieve\"\non = \"x\"\nto = \"score\"");
    let e = errors(&text);
    assert!(e.iter().any(|e| e.message.contains("edges out of router 'route' need `on")), "{e:?}");
    assert!(e.iter().any(|e| e.message.contains("only router nodes have labelled edges")), "{e:?}");
}

#[test]
fn syntax_errors_and_unknown_fields_name_the_line() {
    let e = one_error("entry = \"a\"\n[nodes.a]\nkind = \"scorer\"\nplugin = \n");
    assert_eq!(e.line, Some(4), "{e}");
    let e = one_error(&GOOD.replace("capabilities = [\"code-search\"]", "capabilites = [\"code-search\"]"));
    assert!(e.message.contains("unknown field `capabilites`"), "{e}");
    assert_eq!(e.line, Some(7), "{e}");
}

#[test]
fn bad_limits_and_reserved_names_are_reported() {
    let text = GOOD.replace("plugin = \"r\"\n", "plugin = \"r\"\ntimeout_ms = 0\nmemory_mib = 99999\n");
    let e = errors(&text);
    assert!(e.iter().any(|e| e.message.contains("timeout_ms must be between 1 and 60000")), "{e:?}");
    assert!(e.iter().any(|e| e.message.contains("memory_mib must be between 1 and 4096")), "{e:?}");
}

#[test]
fn a_file_with_several_errors_reports_all_of_them() {
    let text = GOOD
        .replace("plugin = \"s\"", "plugin = \"nope\"")
        .replace("[\"code-search\"]", "[\"telepathy\"]")
        .replace("to = \"route\"", "to = \"nowhere\"")
        .replace("max_visits = 2\n", "max_visits = 99\n");
    let e = errors(&text);
    let messages: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert!(messages.iter().any(|m| m.contains("unknown plugin 'nope'")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("unknown capability 'telepathy'")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("'nowhere': no such node")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("g.toml:3: max_visits must be between 1 and 16")), "{messages:#?}");
    assert!(messages.iter().any(|m| m.contains("node 'route' is unreachable")), "{messages:#?}");
    assert!(e.len() >= 5);
    // Sorted by line, each with a line when it has a place.
    let lines: Vec<usize> = e.iter().filter_map(|e| e.line).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
}

#[test]
fn the_shipped_graphs_are_valid() {
    let builtin: PluginKinds = [
        ("lexical-retriever", Kind::Retriever), ("evidence-matcher", Kind::Matcher), ("weighted-scorer", Kind::Scorer), ("threshold-router", Kind::Router), ("llm-verifier", Kind::Scorer),
    ].into_iter().map(|(n, k)| (n.to_string(), k)).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs");
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "toml") {
            planmap::graph::load_file(&f, &builtin).unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
        }
    }
}

#[test]
fn conditional_router_edges_need_a_fallback_and_a_known_condition() {
    use planmap::graph::{Condition, NodeTarget, Target};
    let with_model = "[[edges]]\nfrom = \"route\"\non = \"verify\"\nwhen = \"llm\"\nto = \"score\"\n";
    let g = parse_graph(Path::new("g.toml"), &format!("{GOOD}{with_model}"), &kinds()).unwrap();
    let NodeTarget::Decisions(table) = &g.routes["route"] else { panic!("route is a router") };
    let verify = &table["verify"];
    assert_eq!(verify.conditional, vec![(Condition::Llm, Target::Node("score".into()))]);
    assert_eq!(verify.pick(|_| true), &Target::Node("score".into()), "taken when a model is there");
    assert_eq!(verify.pick(|_| false), &Target::Node("retrieve".into()), "the fallback otherwise");
    assert!(g.edges.iter().any(|e| e.label().as_deref() == Some("verify if llm")));

    let e = one_error(&format!("{GOOD}[[edges]]\nfrom = \"route\"\non = \"reject\"\nwhen = \"llm\"\nto = \"unmapped\"\n"));
    assert!(e.message.contains("decision 'reject' has edges only `when = \"llm\"`") && e.message.contains("without `when`"), "{e}");
    let e = one_error(&format!("{GOOD}{}", with_model.replace("\"llm\"", "\"gpu\"")));
    assert!(e.message.contains("unknown condition 'gpu' (known: llm)"), "{e}");
    let e = one_error(&GOOD.replace("from = \"retrieve\"\nto = \"score\"", "from = \"retrieve\"\nwhen = \"llm\"\nto = \"score\""));
    assert!(e.message.contains("only labelled router edges may have `when`"), "{e}");
    let e = one_error(&format!("{GOOD}{with_model}{with_model}"));
    assert!(e.message.contains("two edges for decision 'verify' when llm"), "{e}");
}
