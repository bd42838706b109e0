//! Applying a step's output to the candidate list the host keeps: proposals become
//! candidates (sites filled in from the index), assessments add features and evidence,
//! rankings reorder and score (with an explanation built from the evidence when the
//! scorer gave none). Ids a plugin invents are skipped and logged.

use planmap_runtime::model::{CodeSite, Evidence};
use planmap_runtime::{matrix_row, CallScope, Candidate, Capabilities, StepOutput};
use std::collections::HashMap;

/// Evidence details an explanation the host builds quotes, strongest first.
const EXPLANATION_DETAILS: usize = 3;

/// An explanation from a candidate's evidence: its strongest non-zero details (or, for
/// evidence the matcher has not put in words, the signal and its weight).
pub fn explain(c: &Candidate) -> String {
    let mut ev: Vec<_> = c.evidence().iter().filter(|e| e.weight != 0.0).collect();
    ev.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
    let parts: Vec<String> = ev
        .iter()
        .take(EXPLANATION_DETAILS)
        .map(|e| if e.detail.is_empty() { format!("{} {}", e.signal, if e.weight > 0.0 { "supports it" } else { "speaks against it" }) } else { e.detail.clone() })
        .collect();
    if parts.is_empty() { "no matching evidence".to_string() } else { parts.join("; ") }
}

/// Apply one step's output to a walk's candidates and feature names.
pub async fn apply(output: StepOutput, candidates: &mut Vec<Candidate>, feature_names: &mut Vec<String>, caps: &dyn Capabilities, scope: &CallScope) {
    match output {
        StepOutput::Proposals(proposals) => {
            let mut old: HashMap<u32, Candidate> = candidates.drain(..).map(|c| (c.site.id, c)).collect();
            let missing: Vec<u32> = proposals.iter().filter(|p| !old.contains_key(&p.site_id)).map(|p| p.site_id).collect();
            let mut fetched: HashMap<u32, CodeSite> = if missing.is_empty() {
                HashMap::new()
            } else {
                caps.sites(scope, missing).await.unwrap_or_default().into_iter().map(|s| (s.id, s)).collect()
            };
            let mut unknown = 0;
            for p in proposals {
                if let Some(mut c) = old.remove(&p.site_id) {
                    c.retrieval_score = p.retrieval_score;
                    candidates.push(c);
                } else if let Some(site) = fetched.remove(&p.site_id) {
                    candidates.push(Candidate::proposed(site, p.retrieval_score));
                } else {
                    unknown += 1;
                }
            }
            warn_unknown(scope, unknown, "proposed");
        }
        StepOutput::Assessments(assessments) => {
            let pos: HashMap<u32, usize> = candidates.iter().enumerate().map(|(i, c)| (c.site.id, i)).collect();
            // Where each of the result's feature names sits in the walk's list.
            let slots: Vec<usize> = assessments
                .feature_names
                .iter()
                .map(|name| match feature_names.iter().position(|n| n == name) {
                    Some(k) => k,
                    None => {
                        feature_names.push(name.clone());
                        feature_names.len() - 1
                    }
                })
                .collect();
            let width = slots.len();
            let mut unknown = 0;
            for (r, site_id) in assessments.site_ids.iter().enumerate() {
                let Some(&i) = pos.get(site_id) else {
                    unknown += 1;
                    continue;
                };
                let c = candidates[i].assessed_mut();
                // A missing row, or NaN (no value), changes nothing.
                for (&k, &v) in slots.iter().zip(matrix_row(&assessments.features, width, r)).filter(|(_, v)| !v.is_nan()) {
                    if c.features.len() <= k {
                        c.features.resize(k + 1, f64::NAN);
                    }
                    c.features[k] = v;
                }
                // Evidence by signal, in numbers; the words come from `explain-candidates`.
                for (&k, &w) in slots.iter().zip(matrix_row(&assessments.weights, width, r)).filter(|(_, w)| !w.is_nan()) {
                    c.put(Evidence { signal: feature_names[k].as_str().into(), weight: w, detail: String::new() });
                }
            }
            warn_unknown(scope, unknown, "assessed");
        }
        StepOutput::Rankings(rankings) => {
            let mut old: HashMap<u32, Candidate> = candidates.drain(..).map(|c| (c.site.id, c)).collect();
            let mut unknown = 0;
            for r in rankings {
                match old.remove(&r.site_id) {
                    Some(mut c) => {
                        // An empty explanation is built from the evidence when the run
                        // ends, once the evidence is in words.
                        let a = c.assessed_mut();
                        a.confidence = r.confidence.clamp(0.0, 1.0);
                        a.explanation = r.explanation;
                        candidates.push(c);
                    }
                    None => unknown += 1,
                }
            }
            warn_unknown(scope, unknown, "ranked");
        }
        StepOutput::Explanations(explanations) => {
            let mut unknown = 0;
            for x in explanations {
                match candidates.iter_mut().find(|c| c.site.id == x.site_id) {
                    Some(c) => {
                        let a = c.assessed_mut();
                        x.evidence.into_iter().for_each(|e| a.put(e));
                    }
                    None => unknown += 1,
                }
            }
            warn_unknown(scope, unknown, "explained");
        }
        StepOutput::Decision(_) => {}
    }
}

fn warn_unknown(scope: &CallScope, n: usize, what: &str) {
    if n > 0 {
        tracing::warn!(graph_node = %scope.graph_node, plan_node = %scope.plan_node, "{n} {what} site id(s) are not candidates or not in the index; skipped");
    }
}
