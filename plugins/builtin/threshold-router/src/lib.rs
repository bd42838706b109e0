//! Built-in router: accepts a confident best candidate, gives up on a hopeless one, and
//! sends the band in between to verification (or to a wider retrieval pass), never
//! past the graph's loop bound.

wit_bindgen::generate!({ world: "router", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::route::Guest;
use planmap::strategy::log;
use planmap::strategy::types::{Batch, Decision, ErrorCode, PluginError};
use planmap_plugin_sdk as sdk;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Config {
    /// At or above: `accept`.
    high: f64,
    /// Below: `reject`.
    low: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config { high: 0.8, low: 0.5 }
    }
}

struct Router;

impl Guest for Router {
    fn route(batch: Batch) -> Vec<Result<Decision, PluginError>> {
        sdk::marked(log::mark, || {
            let n = batch.inputs.ids.len();
            sdk::each_input(&batch.config, n, |message| PluginError { code: ErrorCode::InvalidConfig, message }, |cfg: &Config, i| route_one(cfg, &batch, i))
        })
    }
}

/// One plan node's step (input `i` of the batch).
fn route_one(cfg: &Config, batch: &Batch, i: usize) -> Result<Decision, PluginError> {
    let (max_visits, visit) = (batch.max_visits, batch.inputs.visits[i]);
    if !(0.0..=1.0).contains(&cfg.low) || !(0.0..=1.0).contains(&cfg.high) || cfg.low > cfg.high {
        return Err(PluginError { code: ErrorCode::InvalidConfig, message: format!("thresholds must satisfy 0 <= low ({}) <= high ({}) <= 1", cfg.low, cfg.high) });
    }
    let confidences = sdk::rows(&batch.candidates.confidences, batch.inputs.candidates[i]);
    let best = confidences.first().copied().unwrap_or(0.0);

    let d = |label: &str, reason: String| Ok(Decision { label: label.to_string(), reason });
    if confidences.is_empty() {
        if visit < max_visits {
            return d("verify", "no candidates; widening".to_string());
        }
        return d("reject", "no candidates after widening".to_string());
    }
    if best >= cfg.high {
        d("accept", format!("confidence {best:.2} >= {:.2}", cfg.high))
    } else if best < cfg.low {
        d("reject", format!("confidence {best:.2} < {:.2}", cfg.low))
    } else if visit < max_visits {
        d("verify", format!("confidence {best:.2} is between {:.2} and {:.2}", cfg.low, cfg.high))
    } else {
        d("settle", format!("confidence {best:.2} still uncertain after {} passes", visit))
    }
}

export!(Router);
