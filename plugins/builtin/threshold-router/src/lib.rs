//! Built-in router: accepts a confident best candidate, gives up on a hopeless one, and
//! sends the band in between to verification (or to a wider retrieval pass), never
//! past the graph's loop bound.

wit_bindgen::generate!({ world: "router", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::route::Guest;
use planmap::strategy::log;
use planmap::strategy::types::{Batch, Decision, ErrorCode, PluginError, Rows, StepInput, Text};
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

sdk::places!(Text, Rows);

impl Guest for Router {
    fn route(batch: Batch, inputs: Vec<StepInput>) -> Vec<Result<Decision, PluginError>> {
        sdk::marked(log::mark, || {
            sdk::each_input(&batch.config, inputs, |message| PluginError { code: ErrorCode::InvalidConfig, message }, |cfg: &Config, input| route_one(cfg, &batch, input))
        })
    }
}

/// One plan node's step (the host sends a batch of them).
fn route_one(cfg: &Config, batch: &Batch, input: StepInput) -> Result<Decision, PluginError> {
    let max_visits = batch.max_visits;
    if !(0.0..=1.0).contains(&cfg.low) || !(0.0..=1.0).contains(&cfg.high) || cfg.low > cfg.high {
        return Err(PluginError { code: ErrorCode::InvalidConfig, message: format!("thresholds must satisfy 0 <= low ({}) <= high ({}) <= 1", cfg.low, cfg.high) });
    }
    let confidences = sdk::rows(&batch.candidates.confidences, &input.candidates);
    let best = confidences.first().copied().unwrap_or(0.0);

    let d = |label: &str, reason: String| Ok(Decision { label: label.to_string(), reason });
    if confidences.is_empty() {
        if input.visit < max_visits {
            return d("verify", "no candidates; widening".to_string());
        }
        return d("reject", "no candidates after widening".to_string());
    }
    if best >= cfg.high {
        d("accept", format!("confidence {best:.2} >= {:.2}", cfg.high))
    } else if best < cfg.low {
        d("reject", format!("confidence {best:.2} < {:.2}", cfg.low))
    } else if input.visit < max_visits {
        d("verify", format!("confidence {best:.2} is between {:.2} and {:.2}", cfg.low, cfg.high))
    } else {
        d("settle", format!("confidence {best:.2} still uncertain after {} passes", input.visit))
    }
}

export!(Router);
