//! Built-in matcher: compares each candidate's code site with the plan node's semantics
//! and records one evidence item per signal (kind, tables, columns, keys, literals,
//! functions, lexical rank) plus the matching features for the scorer.

wit_bindgen::generate!({ world: "matcher", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::matching::Guest;
use planmap::strategy::types::{Candidate, Evidence, Feature, PluginError, Semantics, StepInput};
use planmap_plugin_sdk as sdk;

struct Matcher;

fn push(c: &mut Candidate, name: &str, value: f64, weight: f64, detail: String) {
    c.features.retain(|f| f.name != name);
    c.features.push(Feature { name: name.to_string(), value });
    c.evidence.retain(|e| e.signal != name);
    c.evidence.push(Evidence { signal: name.to_string(), weight, detail });
}

/// Compare one named list of the node with one list of the site.
fn compare(c: &mut Candidate, name: &str, wanted: &[String], have: &[String]) {
    if let Some(cov) = sdk::coverage(wanted, have) {
        let hits = sdk::shared(wanted, have);
        let detail = if hits.is_empty() {
            format!("none of the plan's {name} ({}) appear in the code", wanted.join(", "))
        } else {
            format!("{name} {{{}}} appear in the code ({:.0}% of the plan's)", hits.join(", "), cov * 100.0)
        };
        push(c, name, cov, cov - 0.5, detail);
    }
}

fn keys(s: &Semantics) -> Vec<String> {
    s.left_keys.iter().chain(&s.right_keys).chain(&s.grouping_keys).chain(&s.window_partition).cloned().collect()
}

fn functions(s: &Semantics) -> Vec<String> {
    s.aggregate_functions.iter().chain(&s.window_functions).chain(&s.udfs).chain(&s.functions).cloned().collect()
}

impl Guest for Matcher {
    fn match_candidates(input: StepInput) -> Result<Vec<Candidate>, PluginError> {
        let node = &input.node;
        let s = &node.semantics;
        let family = sdk::FAMILIES[node.family as usize];
        let top = input.candidates.iter().map(|c| c.retrieval_score).fold(0.0_f64, f64::max).max(1e-9);
        let mut tables: Vec<String> = s.tables.clone();
        tables.extend(s.paths.iter().cloned());
        tables.extend(s.write_target.iter().cloned());
        let mut out = input.candidates.clone();
        for c in &mut out {
            let kind = sdk::kind_affinity(family, &c.site.kind);
            let kind_detail = if kind > 0.0 {
                format!("a `{}` operation can produce a {} node", c.site.kind, node.operator)
            } else {
                format!("a `{}` operation does not produce a {} node", c.site.kind, node.operator)
            };
            push(c, "kind", kind, if kind > 0.0 { kind } else { -1.0 }, kind_detail);
            let site_cols: Vec<String> = c.site.columns.clone();
            let site_tables: Vec<String> = c.site.tables.iter().flat_map(|t| {
                let mut v = vec![t.clone()];
                v.extend(sdk::tokens(t));
                v
            }).collect();
            compare(c, "tables", &tables, &site_tables);
            compare(c, "keys", &keys(s), &site_cols);
            compare(c, "columns", &s.columns, &site_cols);
            compare(c, "literals", &s.literals, &c.site.literals.clone());
            compare(c, "functions", &functions(s), &c.site.functions.clone());
            let lexical = c.retrieval_score / top;
            push(c, "lexical", lexical, 0.0, format!("lexical rank score {:.2} of the best", lexical));
        }
        Ok(out)
    }
}

export!(Matcher);
