//! Built-in verifier (a scorer): for plan nodes still uncertain after the evidence, it
//! shows a chat model the node (operator, semantics, plan neighbourhood) and the top
//! candidates' code, asks for a strict JSON choice among them (or none) with a reason,
//! refuses answers that name no candidate, and folds the verdict into the evidence
//! confidence as a likelihood ratio of the model's configured reliability. Without a
//! model (not configured, denied, over budget, failing) it passes the ranking through
//! unchanged, so the job goes on without it.

wit_bindgen::generate!({ world: "scorer", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::score::Guest;
use planmap::strategy::types::{Batch, ErrorCode, PluginError, Rankings};
use planmap::strategy::{code_search, llm, log};
use planmap_plugin_sdk as sdk;
use serde::Deserialize;
use std::fmt::Write as _;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Candidates shown to the model (best first).
    top_n: usize,
    /// Characters of code shown per candidate; longer snippets are cut and marked.
    max_snippet_chars: usize,
    /// How often the model's choice is right, for weighing its verdict (0.5 = ignore).
    reliability: f64,
    /// Tokens the model may answer with.
    max_tokens: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { top_n: 5, max_snippet_chars: 1200, reliability: 0.8, max_tokens: 200 }
    }
}

const SYSTEM: &str = "You map Apache Spark physical plan nodes to the source code that produced them. \
You are given one plan node and numbered candidate code sites. Answer with a JSON object only: \
{\"choice\": N, \"reason\": \"...\"} where N is the number of the candidate that produced the node, \
or 0 if none of them did. Keep the reason to one sentence.";

#[derive(Deserialize)]
struct Verdict {
    choice: i64,
    #[serde(default)]
    reason: String,
}

struct Verifier;

impl Guest for Verifier {
    fn score(batch: Batch) -> Rankings {
        sdk::marked(log::mark, || {
            let n = batch.inputs.ids.len();
            let results = sdk::each_input(&batch.config, n, |message| PluginError { code: ErrorCode::InvalidConfig, message }, |cfg, i| score_one(cfg, &batch, i));
            let (all, results) = sdk::gather(results);
            let mut text = sdk::TextOut::default();
            let explanations = all.iter().map(|r| text.put(&r.explanation)).collect();
            Rankings {
                site_ids: all.iter().map(|r| r.site_id).collect(),
                confidences: all.iter().map(|r| r.confidence).collect(),
                explanations,
                text: text.0,
                results,
            }
        })
    }
}

/// A candidate's verdict (a row of the contract's `rankings`); an empty explanation
/// lets the host explain from the evidence.
struct Ranking {
    site_id: u32,
    confidence: f64,
    explanation: String,
}

/// The ranking as it stands (the scorer's confidences, best first), for when the
/// model cannot help.
fn unchanged(batch: &Batch, i: usize) -> Vec<Ranking> {
    let (c, rows) = (&batch.candidates, batch.inputs.candidates[i]);
    let confidences = sdk::rows(&c.confidences, rows);
    sdk::rows(&c.site_ids, rows).iter().zip(confidences).map(|(&site_id, &confidence)| Ranking { site_id, confidence, explanation: String::new() }).collect()
}

/// Input `i`'s plan node in words, for the prompt.
fn describe_node(batch: &Batch, i: usize, out: &mut String) {
    let (text, n) = (sdk::Text(&batch.text), &batch.inputs);
    let s = sdk::Semantics::from_terms(sdk::terms(&batch.terms.fields, &batch.terms.values, n.terms[i], text));
    let _ = writeln!(out, "Plan node {} `{}` ({}):", text.get(n.ids[i]), text.get(n.operators[i]), sdk::FAMILIES[n.families[i] as usize]);
    let mut field = |name: &str, v: &[&str]| {
        if !v.is_empty() {
            let _ = writeln!(out, "  {name}: {}", v.join(", "));
        }
    };
    field("tables", &s.tables);
    field("paths", &s.paths);
    field("columns", &s.columns);
    field("join keys", &[s.left_keys.clone(), s.right_keys.clone()].concat());
    field("grouping keys", &s.grouping_keys);
    field("aggregates", &s.aggregate_functions);
    field("predicates", &s.predicates);
    field("functions", &s.functions);
    field("udfs", &s.udfs);
    let nb = &batch.neighbours;
    let mapped = sdk::named_rows(&nb.mapped, |m| m.neighbour, n.neighbours[i]);
    for k in sdk::range(n.neighbours[i]) {
        let mapped = mapped.iter().find(|m| m.neighbour as usize == k);
        let at = mapped.map(|m| format!(" -> {}:{}-{}", text.get(m.location.file), m.location.line_start, m.location.line_end)).unwrap_or_default();
        let relation = nb.relations.get(k).and_then(|&r| sdk::RELATIONS.get(r as usize)).unwrap_or(&"neighbour");
        let _ = writeln!(out, "  {relation} {} `{}`{at}", text.get(nb.ids[k]), text.get(nb.operators[k]));
    }
}

fn score_one(cfg: &Config, batch: &Batch, i: usize) -> Result<Vec<Ranking>, PluginError> {
    if !(0.5..1.0).contains(&cfg.reliability) {
        return Err(PluginError { code: ErrorCode::InvalidConfig, message: format!("reliability must be in [0.5, 1), got {}", cfg.reliability) });
    }
    let mut ranking = unchanged(batch, i);
    // planmap maps a plan twice, the second time with the rest of the plan's answers
    // as context; a first-pass question would be asked again with better context, so
    // only the final pass pays for one.
    let final_pass = !sdk::range(batch.inputs.plan_files[i]).is_empty() || !sdk::named_rows(&batch.neighbours.mapped, |m| m.neighbour, batch.inputs.neighbours[i]).is_empty();
    if ranking.is_empty() || !final_pass {
        return Ok(ranking);
    }
    let shown: Vec<u32> = ranking.iter().take(cfg.top_n.max(1)).map(|r| r.site_id).collect();
    let (sites, sources) = match (code_search::sites(&shown), code_search::source(&shown)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            log::write(log::Level::Warn, &format!("verifier: cannot read the candidates' code ({}); keeping the evidence ranking", e.message));
            return Ok(ranking);
        }
    };
    let mut prompt = String::new();
    describe_node(batch, i, &mut prompt);
    prompt.push_str("\nCandidates:\n");
    let (t, st) = (&sites.sites, sdk::Text(&sites.text));
    for (n, id) in shown.iter().enumerate() {
        let Some(k) = t.ids.iter().position(|s| s == id) else { continue };
        let code = sources.iter().find(|s| s.site_id == *id).map(|s| s.snippet.as_str()).unwrap_or("");
        let cut: String = code.chars().take(cfg.max_snippet_chars).collect();
        let marker = if cut.len() < code.len() { "\n… [truncated]" } else { "" };
        let _ = write!(prompt, "{}. {}:{}-{} ({} in {})\n```\n{cut}{marker}\n```\n", n + 1, st.get(t.files[k]), t.line_starts[k], t.line_ends[k], st.get(t.kinds[k]), st.get(t.symbols[k]));
    }
    let req = llm::CompletionRequest { system: SYSTEM.to_string(), prompt, max_tokens: cfg.max_tokens, temperature: 0.0, json: true };
    let answer = match llm::complete(&req) {
        Ok(a) => a.text,
        Err(e) => {
            // Not configured, denied, over budget or failing: go on without the model.
            log::write(log::Level::Info, &format!("verifier: no model verdict ({:?}: {}); keeping the evidence ranking", e.kind, e.message));
            return Ok(ranking);
        }
    };
    let verdict = match serde_json::from_str::<Verdict>(answer.trim()) {
        Ok(v) => v,
        Err(e) => {
            log::write(log::Level::Warn, &format!("verifier: the model's answer is not the JSON asked for ({e}); ignored"));
            return Ok(ranking);
        }
    };
    // The hallucination guard: a choice must name a candidate that was shown.
    if verdict.choice < 0 || verdict.choice as usize > shown.len() {
        log::write(log::Level::Warn, &format!("verifier: the model chose {} of {} candidates; ignored", verdict.choice, shown.len()));
        return Ok(ranking);
    }
    let chosen = (verdict.choice > 0).then(|| shown[verdict.choice as usize - 1]);
    let r = cfg.reliability;
    let reason: String = verdict.reason.chars().take(300).collect();
    for rk in ranking.iter_mut().filter(|rk| shown.contains(&rk.site_id)) {
        let p = rk.confidence.clamp(1e-6, 1.0 - 1e-6);
        // Bayes with the verdict as evidence: the model confirms the chosen site with
        // odds r / (1 - r) and speaks against every other site shown with the inverse.
        let lr = if Some(rk.site_id) == chosen { r / (1.0 - r) } else { (1.0 - r) / r };
        let odds = p / (1.0 - p) * lr;
        rk.confidence = odds / (1.0 + odds);
        if Some(rk.site_id) == chosen {
            rk.explanation = format!("the model chose this site: {reason}");
        } else if chosen.is_none() {
            rk.explanation = format!("the model found none of the candidates right: {reason}");
        }
    }
    ranking.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    Ok(ranking)
}

export!(Verifier);
