//! Test plugin: a scorer whose behaviour is chosen by its config, to prove the sandbox.
//! `{"mode":"ok","confidence":0.9}` scores every candidate with that confidence;
//! `"spin"` loops forever; `"alloc"` allocates `mib` MiB (and keeps it); `"churn"` allocates
//! `mib` MiB in short-lived 64-byte strings, each freed before the next; `"busy"` computes for `ms` ms; `"llm"` / `"cache"` call
//! those capabilities and report the outcome in the explanation; `"fail"` returns an error;
//! `"trap-on"` traps on the plan node named by `node` (and scores the others).

wit_bindgen::generate!({ world: "scorer", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::score::Guest;
use planmap::strategy::types::{Batch, ErrorCode, PluginError, Rankings};
use planmap_plugin_sdk as sdk;
use planmap::strategy::{cache, llm, log};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    mode: String,
    confidence: f64,
    mib: u32,
    ms: u32,
    label: String,
    /// For `"trap-on"`: the plan node whose step traps (the others score normally).
    node: String,
}

struct Chaos;

impl Guest for Chaos {
    fn score(batch: Batch) -> Rankings {
        sdk::marked(log::mark, || {
            let mut text = sdk::TextOut::default();
            let n = batch.inputs.ids.len();
            let results = sdk::each_input(&batch.config, n, |message| PluginError { code: ErrorCode::InvalidConfig, message }, |cfg: &Config, i| score_one(cfg, &batch, i));
            // Every ranking of an input points at its one note.
            let rows = results.into_iter().map(|r| r.map(|(site_ids, confidence, note)| {
                let place = text.put(&note);
                site_ids.into_iter().map(|id| (id, confidence, place)).collect::<Vec<_>>()
            }));
            let (all, results) = sdk::gather(rows);
            Rankings {
                site_ids: all.iter().map(|r| r.0).collect(),
                confidences: all.iter().map(|r| r.1).collect(),
                explanations: all.iter().map(|r| r.2).collect(),
                text: text.0,
                results,
            }
        })
    }
}

/// One plan node's step (the host sends a batch of them): the candidates it ranks, in
/// order, the confidence each gets and the note that explains them.
fn score_one(cfg: &Config, batch: &Batch, i: usize) -> Result<(Vec<u32>, f64, String), PluginError> {
    let (text, input) = (sdk::Text(&batch.text), &batch.inputs);
    let mut note = format!("chaos {}", cfg.label);
    match cfg.mode.as_str() {
        "spin" => {
            let mut x: u64 = 0;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for _ in 0..cfg.mib {
                blocks.push(vec![1u8; 1 << 20]);
            }
            note = format!("allocated {} MiB", blocks.len());
        }
        "churn" => {
            let mut total = 0usize;
            for k in 0..(cfg.mib as usize) << 14 {
                let s = std::hint::black_box(format!("{k:064}"));
                total += s.len();
            }
            note = format!("churned {} MiB", total >> 20);
        }
        "llm" => {
            let req = llm::CompletionRequest { system: String::new(), prompt: "hello".into(), max_tokens: 8, temperature: 0.0, json: false };
            note = match llm::complete(&req) {
                Ok(c) => format!("llm answered: {}", c.text),
                Err(e) => format!("llm error {:?}: {}", e.kind, e.message),
            };
        }
        "cache" => {
            note = match cache::set("k", b"v", 0).and_then(|_| cache::get("k")) {
                Ok(v) => format!("cache returned {:?}", v.map(|b| String::from_utf8_lossy(&b).to_string())),
                Err(e) => format!("cache error {:?}: {}", e.kind, e.message),
            };
        }
        "busy" => {
            // Burn guest time for `ms` milliseconds (a slow but well-behaved step).
            let start = std::time::Instant::now();
            while start.elapsed().as_millis() < cfg.ms as u128 {
                std::hint::black_box(0);
            }
            note = format!("chaos {} busy {} ms", cfg.label, cfg.ms);
        }
        "describe" => {
            // What of the plan node crossed in (a graph node may send it in brief).
            let columns = sdk::terms(&batch.terms.fields, &batch.terms.values, input.terms[i], text).filter(|(f, _)| sdk::FIELDS[*f] == "column").count();
            let fragment = text.get(input.fragments[i]);
            note = format!("node {} {}: {} columns, {} neighbours, {} fragment bytes", text.get(input.ids[i]), text.get(input.operators[i]), columns, sdk::range(input.neighbours[i]).len(), fragment.len());
        }
        "fail" => return Err(PluginError { code: ErrorCode::Internal, message: "asked to fail".into() }),
        "trap-on" if text.get(input.ids[i]) == cfg.node => panic!("asked to trap on node {}", cfg.node),
        _ => {}
    }
    log::write(log::Level::Info, &note);
    Ok((sdk::rows(&batch.candidates.site_ids, input.candidates[i]).to_vec(), cfg.confidence, note))
}

export!(Chaos);
