//! Graph validation: turns a raw file into a `Graph`, collecting every error (unknown
//! plugin, world/kind mismatch, dangling or missing edges, unreachable nodes, cycles
//! without a bound, unknown capabilities, bad limits) before giving up.

use super::load::{Lines, RawGraph, RawNode, RawVariant};
use super::model::{Branch, Condition, Edge, Graph, GraphNode, NodeTarget, PluginChoice, StickyKey, Target, Variant, TERMINALS};
use super::GraphError;
use planmap_runtime::{CallLimits, Capability, Grants, Kind};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// The plugins available to graphs: name → kind.
pub type PluginKinds = BTreeMap<String, Kind>;

/// Longest per-call deadline a graph may set: a step that needs more than a minute
/// of CPU is a bug, and the job's node timeout must stay meaningful.
const MAX_TIMEOUT_MS: i64 = 60_000;
/// Largest memory cap a graph may set per store.
const MAX_MEMORY_MIB: i64 = 4096;
/// Largest loop bound: each visit may re-run every step, so the bound multiplies cost.
const MAX_VISITS_LIMIT: i64 = 16;

struct Ctx<'a> {
    file: &'a Path,
    lines: Lines<'a>,
    errors: Vec<GraphError>,
}

impl Ctx<'_> {
    fn at<T>(&mut self, span: &Spanned<T>, message: String) {
        let line = if span.span().end == 0 { None } else { Some(self.lines.line(span.span().start)) };
        self.errors.push(GraphError { file: self.file.to_path_buf(), line, message });
    }
    fn nowhere(&mut self, message: String) {
        self.errors.push(GraphError { file: self.file.to_path_buf(), line: None, message });
    }
}

/// Validate a raw graph; `Ok` only when there is no error at all.
pub(super) fn build(file: &Path, text: &str, raw: RawGraph, plugins: &PluginKinds, lines: Lines<'_>) -> Result<Graph, Vec<GraphError>> {
    let mut cx = Ctx { file, lines, errors: Vec::new() };
    let name = match &raw.name {
        Some(n) => {
            if !valid_name(n.get_ref()) {
                cx.at(n, format!("graph name '{}' must be lower-case letters, digits, '-' or '_'", n.get_ref()));
            }
            n.get_ref().clone()
        }
        None => file.file_stem().and_then(|s| s.to_str()).unwrap_or("graph").to_string(),
    };
    let digest = hex::encode(Sha256::digest(text.as_bytes()));
    let version = format!("{}+sha256:{}", raw.version.as_ref().map(|v| v.get_ref().as_str()).unwrap_or("0"), &digest[..12]);
    let max_visits = match &raw.max_visits {
        Some(m) if !(1..=MAX_VISITS_LIMIT).contains(m.get_ref()) => {
            cx.at(m, format!("max_visits must be between 1 and {MAX_VISITS_LIMIT}, got {}", m.get_ref()));
            None
        }
        Some(m) => Some(*m.get_ref() as u32),
        None => None,
    };

    let mut nodes = BTreeMap::new();
    if raw.nodes.is_empty() {
        cx.nowhere("the graph has no [nodes.*] tables".into());
    }
    for (key, node) in &raw.nodes {
        if let Some(n) = node_of(&mut cx, key, node, plugins) {
            nodes.insert(n.name.clone(), n);
        }
    }

    let entry = match &raw.entry {
        None => {
            cx.nowhere("missing `entry`: name the node every plan node starts at".into());
            String::new()
        }
        Some(e) => {
            if !raw.nodes.keys().any(|k| k.get_ref() == e.get_ref()) {
                cx.at(e, format!("entry '{}' is not a node of this graph", e.get_ref()));
            }
            e.get_ref().clone()
        }
    };

    let (edges, routes) = edges_of(&mut cx, &raw, plugins);
    check_reachable(&mut cx, &raw, &entry, &edges);
    if max_visits.is_none()
        && let Some(cycle) = find_cycle(&raw, &edges) {
            cx.nowhere(format!("cycle {} has no bound: set `max_visits` (1-{MAX_VISITS_LIMIT}) at the top of the file", cycle.join(" → ")));
        }

    if !cx.errors.is_empty() {
        cx.errors.sort_by_key(|e| e.line.unwrap_or(0));
        return Err(cx.errors);
    }
    Ok(Graph {
        name,
        version,
        description: raw.description.clone(),
        file: file.to_path_buf(),
        entry,
        max_visits: max_visits.unwrap_or(1),
        nodes,
        edges,
        routes,
        program: raw.program,
        calibration: raw.calibration,
    })
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn node_of(cx: &mut Ctx<'_>, key: &Spanned<String>, node: &Spanned<RawNode>, plugins: &PluginKinds) -> Option<GraphNode> {
    let name = key.get_ref().clone();
    let n = node.get_ref();
    let before = cx.errors.len();
    if TERMINALS.contains(&name.as_str()) {
        cx.at(key, format!("node name '{name}' is reserved for a terminal target"));
    }
    let kind = match &n.kind {
        None => {
            cx.at(node, format!("node '{name}' has no `kind` (one of retriever, matcher, scorer, router)"));
            None
        }
        Some(k) => {
            let parsed = Kind::parse(k.get_ref());
            if parsed.is_none() {
                cx.at(k, format!("node '{name}': unknown kind '{}' (expected retriever, matcher, scorer or router)", k.get_ref()));
            }
            parsed
        }
    };
    let check_plugin = |cx: &mut Ctx<'_>, p: &Spanned<String>| match (plugins.get(p.get_ref()), kind) {
        (None, _) => cx.at(p, format!("node '{name}': unknown plugin '{}' (available: {})", p.get_ref(), list(plugins.keys()))),
        (Some(pk), Some(k)) if *pk != k => cx.at(p, format!("node '{name}': plugin '{}' is a {pk}, but the node is a {k}", p.get_ref())),
        _ => {}
    };
    let choice = match (&n.plugin, &n.variants) {
        (Some(_), Some(_)) => {
            cx.at(node, format!("node '{name}': give either `plugin` or `variants`, not both"));
            None
        }
        (None, None) => {
            cx.at(node, format!("node '{name}': needs a `plugin` (or weighted `variants`)"));
            None
        }
        (Some(p), None) => {
            check_plugin(cx, p);
            if let Some(s) = n.shadow.first() {
                cx.at(s, format!("node '{name}': `shadow` variants need an experiment with `variants`"));
            }
            Some(PluginChoice::Single(p.get_ref().clone()))
        }
        (None, Some(vs)) => {
            if vs.is_empty() {
                cx.at(node, format!("node '{name}': `variants` is empty"));
            }
            let conv = |cx: &mut Ctx<'_>, v: &Spanned<RawVariant>, i: usize, shadow: bool| {
                let rv = v.get_ref();
                check_plugin(cx, &rv.plugin);
                let w = *rv.weight.get_ref();
                if !shadow && !(1..=1_000_000).contains(&w) {
                    cx.at(v, format!("node '{name}': variant weight must be a positive integer, got {w}"));
                }
                Variant {
                    name: rv.name.clone().unwrap_or_else(|| if shadow { format!("shadow-{i}") } else { format!("{}-{i}", rv.plugin.get_ref()) }),
                    plugin: rv.plugin.get_ref().clone(),
                    weight: w.max(0) as u32,
                    config: rv.config.as_ref().map(|c| serde_json::to_value(c).unwrap_or_default()),
                    config_text: String::new(), // filled once the node's own config is known
                }
            };
            let variants: Vec<Variant> = vs.iter().enumerate().map(|(i, v)| conv(cx, v, i, false)).collect();
            let shadow: Vec<Variant> = n.shadow.iter().enumerate().map(|(i, v)| conv(cx, v, i, true)).collect();
            let mut seen = BTreeSet::new();
            for v in variants.iter().chain(&shadow) {
                if !seen.insert(v.name.clone()) {
                    cx.at(node, format!("node '{name}': variant name '{}' is used twice", v.name));
                }
            }
            let sticky_key = match n.sticky_key.as_ref().map(|s| s.get_ref().as_str()) {
                None | Some("analysisId") => StickyKey::AnalysisId,
                Some("repo") => StickyKey::Repo,
                Some("tenant") => StickyKey::Tenant,
                Some(other) => {
                    cx.at(n.sticky_key.as_ref().unwrap(), format!("node '{name}': sticky_key '{other}' is not one of analysisId, repo, tenant"));
                    StickyKey::AnalysisId
                }
            };
            let exp = n.experiment.as_ref().map(|e| e.get_ref().clone()).unwrap_or_else(|| name.clone());
            Some(PluginChoice::Experiment {
                salt: n.salt.as_ref().map(|s| s.get_ref().clone()).unwrap_or_else(|| exp.clone()),
                name: exp,
                sticky_key,
                variants,
                shadow,
            })
        }
    };
    let mut grants = Grants::none();
    for c in &n.capabilities {
        match Capability::parse(c.get_ref()) {
            Some(cap) => grants = grants.with(cap),
            None => cx.at(c, format!("node '{name}': unknown capability '{}' (grantable: {})", c.get_ref(), list(Capability::ALL.iter().map(|c| c.name())))),
        }
    }
    let mut limits = CallLimits::default();
    if let Some(t) = &n.timeout_ms {
        if (1..=MAX_TIMEOUT_MS).contains(t.get_ref()) {
            limits.timeout = Duration::from_millis(*t.get_ref() as u64);
        } else {
            cx.at(t, format!("node '{name}': timeout_ms must be between 1 and {MAX_TIMEOUT_MS}, got {}", t.get_ref()));
        }
    }
    if let Some(m) = &n.memory_mib {
        if (1..=MAX_MEMORY_MIB).contains(m.get_ref()) {
            limits.memory_bytes = (*m.get_ref() as usize) << 20;
        } else {
            cx.at(m, format!("node '{name}': memory_mib must be between 1 and {MAX_MEMORY_MIB}, got {}", m.get_ref()));
        }
    }
    let brief_node = match n.plan_node.as_ref().map(|p| p.get_ref().as_str()) {
        None => kind == Some(Kind::Router),
        Some("brief") => true,
        Some("full") => false,
        Some(other) => {
            cx.at(n.plan_node.as_ref().expect("matched Some"), format!("node '{name}': plan_node '{other}' is not one of full, brief"));
            false
        }
    };
    if cx.errors.len() > before {
        return None;
    }
    let config = n.config.as_ref().map(|c| serde_json::to_value(c).unwrap_or_default()).unwrap_or(serde_json::json!({}));
    let mut plugin = choice?;
    if let PluginChoice::Experiment { variants, shadow, .. } = &mut plugin {
        for v in variants.iter_mut().chain(shadow.iter_mut()) {
            v.config_text = merged(&config, v.config.as_ref()).to_string();
        }
    }
    let config_text = config.to_string();
    Some(GraphNode { name, kind: kind?, plugin, config, config_text, grants, limits, brief_node })
}

/// A node's config with a variant's keys laid over it.
fn merged(base: &serde_json::Value, over: Option<&serde_json::Value>) -> serde_json::Value {
    let mut out = base.clone();
    if let (serde_json::Value::Object(b), Some(serde_json::Value::Object(o))) = (&mut out, over) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    out
}

fn list<'a>(items: impl Iterator<Item = impl AsRef<str> + 'a>) -> String {
    let v: Vec<String> = items.map(|s| s.as_ref().to_string()).collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

fn edges_of(cx: &mut Ctx<'_>, raw: &RawGraph, plugins: &PluginKinds) -> (Vec<Edge>, BTreeMap<String, NodeTarget>) {
    let kind_of = |n: &str| -> Option<Kind> {
        let node = raw.nodes.iter().find(|(k, _)| k.get_ref() == n)?.1.get_ref();
        node.kind.as_ref().and_then(|k| Kind::parse(k.get_ref())).or_else(|| node.plugin.as_ref().and_then(|p| plugins.get(p.get_ref()).copied()))
    };
    let exists = |n: &str| raw.nodes.keys().any(|k| k.get_ref() == n);
    let mut edges = Vec::new();
    let mut routes: BTreeMap<String, NodeTarget> = BTreeMap::new();
    let mut pending: BTreeMap<(String, String), Vec<(Condition, Target)>> = BTreeMap::new();
    for e in &raw.edges {
        let r = e.get_ref();
        let from = r.from.get_ref();
        let to = r.to.get_ref();
        if !exists(from) {
            cx.at(&r.from, format!("edge from '{from}': no such node"));
            continue;
        }
        if !exists(to) && !TERMINALS.contains(&to.as_str()) {
            cx.at(&r.to, format!("edge {from} → '{to}': no such node or terminal (terminals: {})", TERMINALS.join(", ")));
            continue;
        }
        let target = Target::parse(to);
        let is_router = kind_of(from) == Some(Kind::Router);
        let when = match &r.when {
            None => None,
            Some(w) => match Condition::parse(w.get_ref()) {
                Some(c) if r.on.is_some() => Some(c),
                // Reported, then read as an unconditional edge, so one mistake does not
                // cascade into "missing edge" and "unreachable node" errors.
                Some(_) => {
                    cx.at(w, format!("edge {from} → {to}: only labelled router edges may have `when`"));
                    None
                }
                // Reported, then left out: it would otherwise clash with its fallback.
                None => {
                    cx.at(w, format!("edge {from} → {to}: unknown condition '{}' (known: {})", w.get_ref(), list(Condition::ALL.iter().map(|c| c.name()))));
                    continue;
                }
            },
        };
        match (&r.on, is_router) {
            (None, true) => cx.at(e, format!("edge {from} → {to}: edges out of router '{from}' need `on = \"<decision label>\"`")),
            (Some(l), false) => cx.at(l, format!("edge {from} → {to}: only router nodes have labelled edges; '{from}' is not a router")),
            (Some(l), true) => {
                let entry = routes.entry(from.clone()).or_insert_with(|| NodeTarget::Decisions(BTreeMap::new()));
                if let NodeTarget::Decisions(m) = entry {
                    let label = l.get_ref();
                    match when {
                        Some(c) => {
                            let conds = pending.entry((from.clone(), label.clone())).or_default();
                            if conds.iter().any(|(k, _)| *k == c) {
                                cx.at(l, format!("router '{from}' has two edges for decision '{label}' when {}", c.name()));
                            }
                            conds.push((c, target.clone()));
                        }
                        None if m.contains_key(label) => cx.at(l, format!("router '{from}' has two edges for decision '{label}'")),
                        None => {
                            m.insert(label.clone(), Branch { conditional: Vec::new(), otherwise: target.clone() });
                        }
                    }
                }
            }
            (None, false) => {
                if routes.contains_key(from) {
                    cx.at(e, format!("node '{from}' has more than one outgoing edge; only routers branch"));
                } else {
                    routes.insert(from.clone(), NodeTarget::Next(target.clone()));
                }
            }
        }
        edges.push(Edge { from: from.clone(), on: r.on.as_ref().map(|l| l.get_ref().clone()), when, to: target });
    }
    // Conditional edges join their decision's unconditional edge, which must exist so
    // the decision always leads somewhere.
    for ((from, label), conds) in pending {
        if let Some(NodeTarget::Decisions(m)) = routes.get_mut(&from)
            && let Some(branch) = m.get_mut(&label) {
                branch.conditional = conds;
        } else {
            let names: Vec<&str> = conds.iter().map(|(c, _)| c.name()).collect();
            cx.nowhere(format!("router '{from}': decision '{label}' has edges only `when = \"{}\"`; add an edge without `when` for when it does not hold", names.join("\", \"")));
        }
    }
    for (k, n) in &raw.nodes {
        if !routes.contains_key(k.get_ref()) {
            let what = if kind_of(k.get_ref()) == Some(Kind::Router) { "labelled edges for its decisions" } else { "an outgoing edge" };
            cx.at(n, format!("node '{}' has no outgoing edge: add {what} (to a node, `finish` or `unmapped`)", k.get_ref()));
        }
    }
    (edges, routes)
}

fn check_reachable(cx: &mut Ctx<'_>, raw: &RawGraph, entry: &str, edges: &[Edge]) {
    if entry.is_empty() || !raw.nodes.keys().any(|k| k.get_ref() == entry) {
        return;
    }
    let mut seen = BTreeSet::from([entry.to_string()]);
    let mut queue = VecDeque::from([entry.to_string()]);
    while let Some(n) = queue.pop_front() {
        for e in edges.iter().filter(|e| e.from == n) {
            if let Target::Node(t) = &e.to
                && seen.insert(t.clone()) {
                    queue.push_back(t.clone());
                }
        }
    }
    for (k, n) in &raw.nodes {
        if !seen.contains(k.get_ref()) {
            cx.at(n, format!("node '{}' is unreachable from entry '{entry}'", k.get_ref()));
        }
    }
}

/// A cycle in the node graph, as a path that starts and ends at the same node.
fn find_cycle(raw: &RawGraph, edges: &[Edge]) -> Option<Vec<String>> {
    fn dfs(n: &str, edges: &[Edge], stack: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|s| s == n) {
            let mut c = stack[pos..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for e in edges.iter().filter(|e| e.from == n) {
            if let Target::Node(t) = &e.to
                && let Some(c) = dfs(t, edges, stack, done) {
                    return Some(c);
                }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    raw.nodes.keys().find_map(|k| dfs(k.get_ref(), edges, &mut Vec::new(), &mut done))
}
