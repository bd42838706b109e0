//! Renderings of a graph for people: Graphviz dot, Mermaid, and an indented text outline.

use super::model::{Graph, PluginChoice, Target};
use std::fmt::Write;

/// Output format of `planmap graph show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderFormat {
    Dot,
    Mermaid,
    Text,
}

/// How a node's plugin choice reads: the plugin, or the experiment with its weights.
pub fn plugin_label(p: &PluginChoice) -> String {
    match p {
        PluginChoice::Single(p) => p.clone(),
        PluginChoice::Experiment { name, variants, shadow, .. } => {
            let mut s = format!("experiment {name}: ");
            s.push_str(&variants.iter().map(|v| format!("{} {}", v.plugin, v.weight)).collect::<Vec<_>>().join(" / "));
            if !shadow.is_empty() {
                s.push_str(&format!(" (shadow: {})", shadow.iter().map(|v| v.plugin.as_str()).collect::<Vec<_>>().join(", ")));
            }
            s
        }
    }
}

/// Render a graph.
pub fn render(g: &Graph, format: RenderFormat) -> String {
    let mut out = String::new();
    match format {
        RenderFormat::Dot => {
            let _ = writeln!(out, "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];", g.name);
            for n in g.nodes.values() {
                let _ = writeln!(out, "  \"{}\" [label=\"{}\\n{} · {}\"];", n.name, n.name, n.kind, plugin_label(&n.plugin).replace('"', "'"));
            }
            for t in ["finish", "unmapped"] {
                if g.edges.iter().any(|e| e.to.name() == t) {
                    let _ = writeln!(out, "  \"{t}\" [shape=doublecircle];");
                }
            }
            let _ = writeln!(out, "  start [shape=point];\n  start -> \"{}\";", g.entry);
            for e in &g.edges {
                let label = e.label().map(|l| format!(" [label=\"{l}\"]")).unwrap_or_default();
                let _ = writeln!(out, "  \"{}\" -> \"{}\"{label};", e.from, e.to.name());
            }
            out.push_str("}\n");
        }
        RenderFormat::Mermaid => {
            out.push_str("flowchart LR\n");
            let id = |s: &str| s.replace('-', "_");
            let _ = writeln!(out, "  start((start)) --> {}", id(&g.entry));
            for n in g.nodes.values() {
                let _ = writeln!(out, "  {}[\"{}<br/>{} · {}\"]", id(&n.name), n.name, n.kind, plugin_label(&n.plugin).replace('"', "'"));
            }
            for e in &g.edges {
                let to = match &e.to {
                    Target::Node(n) => id(n),
                    t => format!("{}(({}))", t.name(), t.name()),
                };
                match e.label() {
                    Some(l) => { let _ = writeln!(out, "  {} -- {l} --> {to}", id(&e.from)); }
                    None => { let _ = writeln!(out, "  {} --> {to}", id(&e.from)); }
                }
            }
        }
        RenderFormat::Text => {
            let _ = writeln!(out, "graph {} (version {}), entry {}, max_visits {}", g.name, g.version, g.entry, g.max_visits);
            if !g.description.is_empty() {
                let _ = writeln!(out, "  {}", g.description);
            }
            for n in g.nodes.values() {
                let caps: Vec<&str> = n.grants.iter().map(|c| c.name()).collect();
                let _ = writeln!(out, "  {} [{}] {}  caps: {}  timeout {} ms, memory {} MiB{}",
                    n.name, n.kind, plugin_label(&n.plugin), if caps.is_empty() { "none".into() } else { caps.join(",") },
                    n.limits.timeout.as_millis(), n.limits.memory_bytes >> 20, if n.brief_node { ", plan node in brief" } else { "" });
                for e in g.edges.iter().filter(|e| e.from == n.name) {
                    match e.label() {
                        Some(l) => { let _ = writeln!(out, "      on {l} → {}", e.to.name()); }
                        None => { let _ = writeln!(out, "      → {}", e.to.name()); }
                    }
                }
            }
        }
    }
    out
}
