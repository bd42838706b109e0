//! Built-in scorer: a logistic model over the matcher's features. Weights and bias come
//! from the graph node's config so variants can be A/B tested without a rebuild.
//! Features a candidate lacks count as "no signal" (0 contribution), not as a miss.
//! It returns no explanation text: the host builds it from the evidence it keeps.

wit_bindgen::generate!({ world: "scorer", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::score::Guest;
use planmap::strategy::log;
use planmap::strategy::types::{Batch, ErrorCode, PluginError, Rankings};
use planmap_plugin_sdk as sdk;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// Intercept of the logistic model.
    bias: f64,
    /// Weight per feature name; a feature value v contributes weight * (v - 0.5) * 2.
    weights: BTreeMap<String, f64>,
    /// How strongly a close runner-up lowers the winner's confidence.
    margin_weight: f64,
    /// Calibration of the raw score against rivals (fitted with the weights); when
    /// set, it replaces `margin_weight`.
    calibration: Option<Calibration>,
}

/// confidence = sigmoid(intercept + scale * z + margin * (z - best rival's z)), where z
/// is a candidate's weighted evidence sum: a candidate with a close rival is less sure.
#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct Calibration {
    intercept: f64,
    scale: f64,
    margin: f64,
}

/// How far ahead a lone candidate counts as being (no rival at all).
const LONE_MARGIN: f64 = 4.0;

/// Logit taken from a candidate whose kind cannot produce the node when another's can:
/// more than any sum of name matches adds.
const IMPOSSIBLE: f64 = 8.0;

impl Default for Config {
    fn default() -> Self {
        let weights = [("kind", 2.0), ("tables", 1.5), ("keys", 2.0), ("columns", 1.0), ("literals", 1.0), ("functions", 1.0), ("lexical", 1.5)]
            .into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Config { bias: -0.5, weights, margin_weight: 1.0, calibration: None }
    }
}

struct Scorer;

/// A candidate's verdict (a row of the contract's `rankings`).
struct Ranking {
    site_id: u32,
    confidence: f64,
}

/// The weight of each of the input's feature names (0 for names the config lacks).
fn weights_of(cfg: &Config, names: &[String]) -> Vec<f64> {
    names.iter().map(|n| cfg.weights.get(n).copied().unwrap_or(0.0)).collect()
}

/// A candidate's weighted evidence sum from its feature row; a missing (`NaN`) feature
/// is no signal.
fn logit(cfg: &Config, weights: &[f64], features: &[f64]) -> f64 {
    cfg.bias + features.iter().zip(weights).filter(|(v, _)| !v.is_nan()).map(|(v, w)| w * (v - 0.5) * 2.0).sum::<f64>()
}

impl Guest for Scorer {
    fn score(batch: Batch) -> Rankings {
        sdk::marked(log::mark, || {
            let n = batch.inputs.ids.len();
            let results = sdk::each_input(&batch.config, n, |message| PluginError { code: ErrorCode::InvalidConfig, message }, |cfg: &Config, i| score_one(cfg, &batch, i));
            let (all, results) = sdk::gather(results);
            // No explanations: the host builds them from the evidence it keeps.
            Rankings {
                site_ids: all.iter().map(|r| r.site_id).collect(),
                confidences: all.iter().map(|r| r.confidence).collect(),
                explanations: Vec::new(),
                text: String::new(),
                results,
            }
        })
    }
}

/// One plan node's step (input `i` of the batch).
fn score_one(cfg: &Config, batch: &Batch, i: usize) -> Result<Vec<Ranking>, PluginError> {
    let names = &batch.feature_names;
    let weights = weights_of(cfg, names);
    let rows = batch.inputs.candidates[i];
    let site_ids = sdk::rows(&batch.candidates.site_ids, rows);
    let features = sdk::matrix_rows(&batch.candidates.features, names.len(), rows);
    let mut z: Vec<f64> = (0..site_ids.len()).map(|i| logit(cfg, &weights, sdk::row(features, names.len(), i))).collect();
    // A site whose kind cannot produce the node (`kind` 0: a SELECT list for a Sort) ranks
    // below every site that can, however well its names match.
    if let Some(k) = names.iter().position(|n| n == "kind") {
        let possible = |i: usize| sdk::row(features, names.len(), i).get(k).is_some_and(|v| *v > 0.0);
        if (0..z.len()).any(possible) {
            for (i, zi) in z.iter_mut().enumerate() {
                if !possible(i) {
                    *zi -= IMPOSSIBLE;
                }
            }
        }
    }
    // Each candidate's best rival is the leader, or for the leader the runner-up.
    let mut best = (usize::MAX, f64::NEG_INFINITY);
    let mut second = f64::NEG_INFINITY;
    for (i, &v) in z.iter().enumerate() {
        if v > best.1 {
            second = best.1;
            best = (i, v);
        } else if v > second {
            second = v;
        }
    }
    let mut out: Vec<Ranking> = site_ids
        .iter()
        .zip(&z)
        .enumerate()
        .map(|(i, (&site_id, &zi))| {
            let confidence = match cfg.calibration {
                Some(k) => {
                    let rival = if i == best.0 { second } else { best.1 };
                    let gap = if rival.is_finite() { zi - rival } else { LONE_MARGIN };
                    sdk::sigmoid(k.intercept + k.scale * zi + k.margin * gap)
                }
                None => sdk::sigmoid(zi),
            };
            Ranking { site_id, confidence }
        })
        .collect();
    out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    if out.len() > 1 && cfg.calibration.is_none() {
        // A runner-up nearly as good as the winner means we cannot tell them apart.
        let gap = out[0].confidence - out[1].confidence;
        let penalty = cfg.margin_weight * (0.15 - gap).max(0.0);
        out[0].confidence = (out[0].confidence - penalty).max(0.0);
    }
    Ok(out)
}

export!(Scorer);
