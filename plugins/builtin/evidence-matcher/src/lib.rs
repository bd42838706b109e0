//! Built-in matcher: compares each candidate's code site with the plan node's semantics
//! and records one evidence item per signal (kind, tables, columns, keys, literals,
//! functions, lexical rank) plus the matching features for the scorer.

wit_bindgen::generate!({ world: "matcher", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::matching::Guest;
use planmap::strategy::types::{Assessment, Candidate, Evidence, Feature, PluginError, Semantics, StepInput};
use planmap_plugin_sdk as sdk;

struct Matcher;

fn push(c: &mut Assessment, name: &str, value: f64, weight: f64, detail: String) {
    c.features.push(Feature { name: name.to_string(), value });
    c.evidence.push(Evidence { signal: name.to_string(), weight, detail });
}

/// Compare one named list of the node with one list of the site.
fn compare(c: &mut Assessment, name: &str, wanted: &[String], have: &[String]) {
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
    fn match_candidates(input: StepInput) -> Result<Vec<Assessment>, PluginError> {
        let node = &input.node;
        let s = &node.semantics;
        let family = sdk::FAMILIES[node.family as usize];
        let top = input.candidates.iter().map(|c| c.retrieval_score).fold(0.0_f64, f64::max).max(1e-9);
        let mut tables: Vec<String> = s.tables.clone();
        tables.extend(s.paths.iter().cloned());
        tables.extend(s.write_target.iter().cloned());
        let mut out = Vec::with_capacity(input.candidates.len());
        for cand in &input.candidates {
            out.push(assess(cand, node.family, family, &node.operator, s, &tables, top));
        }
        Ok(out)
    }
}

fn assess(cand: &Candidate, _f: planmap::strategy::types::Family, family: &str, operator: &str, s: &Semantics, tables: &[String], top: f64) -> Assessment {
    let mut a = Assessment { site_id: cand.site.id.clone(), features: Vec::new(), evidence: Vec::new() };
    let c = &mut a;
    {
        {
            let kind = sdk::kind_affinity(family, &cand.site.kind);
            let kind_detail = if kind > 0.0 {
                format!("a `{}` operation can produce a {} node", cand.site.kind, operator)
            } else {
                format!("a `{}` operation does not produce a {} node", cand.site.kind, operator)
            };
            push(c, "kind", kind, if kind > 0.0 { kind } else { -1.0 }, kind_detail);
            let site_cols: Vec<String> = cand.site.columns.clone();
            let site_tables: Vec<String> = cand.site.tables.iter().flat_map(|t| {
                let mut v = vec![t.clone()];
                v.extend(sdk::tokens(t));
                v
            }).collect();
            compare(c, "tables", tables, &site_tables);
            compare(c, "keys", &keys(s), &site_cols);
            compare(c, "columns", &s.columns, &site_cols);
            compare(c, "literals", &s.literals, &cand.site.literals);
            compare(c, "functions", &functions(s), &cand.site.functions);
            let lexical = cand.retrieval_score / top;
            push(c, "lexical", lexical, 0.0, format!("lexical rank score {:.2} of the best", lexical));
        }
    }
    a
}

export!(Matcher);
