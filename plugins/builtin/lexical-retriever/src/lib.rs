//! Built-in retriever: proposes code sites whose kind fits the node's operator family,
//! ranked by the host's lexical index on the node's semantics, merged with vector hits
//! when the node is granted `vectors` and embeddings are configured. On a second visit
//! (the graph looped back to widen) it drops the kind filter and asks for more.

wit_bindgen::generate!({ world: "retriever", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::retrieve::Guest;
use planmap::strategy::types::{Batch, ErrorCode, Family, PluginError, Proposals};
use planmap::strategy::{code_search, log, vectors};
use planmap_plugin_sdk as sdk;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Candidates to return on the first pass.
    top_k: u32,
    /// Multiplier on `top_k` when widening.
    widen_factor: u32,
    /// Ask the vector capability too (ignored when it is denied or unavailable).
    vectors: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { top_k: 20, widen_factor: 3, vectors: true }
    }
}

/// A proposed site and its retrieval score (a row of the contract's `proposals`).
struct Proposal {
    site_id: u32,
    retrieval_score: f64,
}

/// The words of a node's semantics that should appear in the code that produced it.
fn terms(s: &sdk::Semantics) -> Vec<String> {
    let mut t: Vec<String> = Vec::new();
    t.extend(s.tables.iter().map(|x| sdk::base_name(x)));
    t.extend(s.paths.iter().flat_map(|p| sdk::tokens(p)));
    for list in [&s.columns, &s.left_keys, &s.right_keys, &s.grouping_keys, &s.aggregate_functions,
                 &s.window_partition, &s.window_functions, &s.udfs, &s.aliases, &s.functions, &s.literals] {
        t.extend(list.iter().flat_map(|x| sdk::tokens(x)));
    }
    t.extend(s.sort_keys.iter().flat_map(|(k, _)| sdk::tokens(k)));
    t.extend(s.predicates.iter().flat_map(|p| sdk::tokens(p)));
    if let Some(w) = s.write_target {
        t.extend(sdk::tokens(w));
    }
    sdk::dedup(t)
}

struct Retriever;

impl Guest for Retriever {
    fn retrieve(batch: Batch) -> Proposals {
        sdk::marked(log::mark, || {
            let n = batch.inputs.ids.len();
            let results = sdk::each_input(&batch.config, n, |message| PluginError { code: ErrorCode::InvalidConfig, message }, |cfg, i| retrieve_one(cfg, &batch, i));
            let (all, results) = sdk::gather(results);
            Proposals { site_ids: all.iter().map(|p| p.site_id).collect(), retrieval_scores: all.iter().map(|p| p.retrieval_score).collect(), results }
        })
    }
}

/// One plan node's step (input `i` of the batch).
fn retrieve_one(cfg: &Config, batch: &Batch, i: usize) -> Result<Vec<Proposal>, PluginError> {
    let text = sdk::Text(&batch.text);
    let input = &batch.inputs;
    if input.families[i] == Family::Infrastructure as u8 {
        return Ok(Vec::new());
    }
    let widen = input.visits[i] > 1;
    let family = sdk::FAMILIES[input.families[i] as usize];
    let kinds: Vec<String> = if widen {
        Vec::new()
    } else {
        sdk::kinds_for_operator(family, text.get(input.operators[i])).iter().map(|k| k.to_string()).collect()
    };
    let limit = if widen { cfg.top_k.saturating_mul(cfg.widen_factor.max(1)) } else { cfg.top_k };
    let semantics = sdk::Semantics::from_terms(sdk::terms(&batch.terms.fields, &batch.terms.values, input.terms[i], text));
    let q = code_search::Query { terms: terms(&semantics), kinds, limit };
    let hits = code_search::search(&q).map_err(|e| PluginError {
        code: ErrorCode::Capability,
        message: format!("code-search failed: {}", e.message),
    })?;
    // Earlier passes' candidates stay in the running.
    let earlier = sdk::rows(&batch.candidates.site_ids, input.candidates[i]).iter().zip(sdk::rows(&batch.candidates.retrieval_scores, input.candidates[i]));
    let mut out: Vec<Proposal> = earlier.map(|(&site_id, &retrieval_score)| Proposal { site_id, retrieval_score }).collect();
    for h in hits {
        if !out.iter().any(|p| p.site_id == h.site_id) {
            out.push(Proposal { site_id: h.site_id, retrieval_score: h.score });
        }
    }
    if cfg.vectors {
        merge_vector_hits(&format!("{} {}", text.get(input.operators[i]), text.get(input.fragments[i])), &mut out, limit);
    }
    out.sort_by(|a, b| b.retrieval_score.total_cmp(&a.retrieval_score));
    out.truncate(limit as usize);
    Ok(out)
}

/// Add nearest-neighbour hits for `query` (the node's operator and text); a denied or
/// unconfigured capability is not an error.
fn merge_vector_hits(query: &str, out: &mut Vec<Proposal>, limit: u32) {
    let hits = match vectors::nearest(query, limit) {
        Ok(h) => h,
        Err(e) => {
            log::write(log::Level::Debug, &format!("vectors skipped: {}", e.message));
            return;
        }
    };
    let top = out.iter().map(|p| p.retrieval_score).fold(0.0_f64, f64::max).max(1.0);
    for h in hits {
        match out.iter_mut().find(|p| p.site_id == h.site_id) {
            Some(p) => p.retrieval_score += top * 0.5 * h.similarity,
            None => out.push(Proposal { site_id: h.site_id, retrieval_score: top * 0.5 * h.similarity }),
        }
    }
}

export!(Retriever);
