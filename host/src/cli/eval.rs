//! `planmap eval --dataset DIR`.

use super::Common;
use crate::capabilities::{BackendConfig, Backends};
use crate::snapshot::{Registry, Sources};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct EvalArgs {
    /// The dataset folder (see the module docs of `eval` or the README).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Use this graph for every case.
    #[arg(long)]
    pub graph: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also write every candidate's features and correctness as JSON lines (to fit
    /// scorer weights; see tests/fixtures/devset/fit_scorer.py).
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// Answer the model-based verifier with a scripted oracle that reads the labels and
    /// is right with this probability (0.5 to 1), to measure what verification could
    /// bring without a real model; reports how many nodes reached it.
    #[arg(long)]
    pub llm_oracle: Option<f64>,
    /// Which input is the plan: the EXPLAIN text, or the event log where a case has one
    /// (its call sites and application name then count as evidence).
    #[arg(long, value_enum, default_value = "text")]
    pub plan_source: crate::eval::PlanSource,
    /// Where cases with `checkout = "name"` find their code (default
    /// $PLANMAP_CHECKOUTS, else ~/.cache/planmap/checkouts).
    #[arg(long)]
    pub checkouts: Option<PathBuf>,
    /// Run only the cases whose name starts with this (repeatable).
    #[arg(long)]
    pub only: Vec<String>,
}

pub async fn run(a: EvalArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let runtime = crate::config::runtime(common.compile_cache.clone(), common.no_compile_cache)?;
    let sources = Sources { plugin_dir: Some(common.plugins.clone()), graph_dir: Some(common.graphs.clone()) };
    let registry = tokio::task::spawn_blocking(move || Registry::open(runtime, sources)).await?.map_err(|e| anyhow::anyhow!("plugins and graphs are not valid:\n{}", e.join("\n")))?;
    let mut cfg = BackendConfig::from_env();
    let oracle = match a.llm_oracle {
        Some(acc) if !(0.0..=1.0).contains(&acc) => anyhow::bail!("--llm-oracle must be a probability in [0, 1], got {acc}"),
        Some(acc) => {
            let o = std::sync::Arc::new(crate::eval::oracle::Oracle { accuracy: acc, case: Default::default(), asked: Default::default() });
            let base = crate::eval::oracle::serve(o.clone()).await?;
            let price = crate::capabilities::llm::Price { prompt: 0.0, completion: 0.0 };
            cfg.llm = Some(crate::capabilities::llm::LlmConfig { base_url: base, api_key: None, model: "oracle".into(), timeout: std::time::Duration::from_secs(10), max_retries: 0, price });
            Some(o)
        }
        None => None,
    };
    let backends = Backends::connect(&cfg).await;
    let opts = crate::eval::Options { graph: a.graph.as_deref(), oracle: oracle.as_deref(), plan_source: a.plan_source, checkouts: a.checkouts.clone(), only: a.only.clone() };
    let report = crate::eval::run_with(&a.dataset, &registry, &backends, &opts).await?;
    if let Some(o) = &oracle {
        eprintln!("llm oracle (right {:.0} % of the time): {} nodes reached the verifier", o.accuracy * 100.0, o.asked.lock().map(|n| *n).unwrap_or(0));
    }
    if let Some(path) = &a.features {
        let mut out = String::new();
        for row in &report.candidates {
            out.push_str(&serde_json::to_string(row)?);
            out.push('\n');
        }
        std::fs::write(path, out).map_err(|e| anyhow::anyhow!("cannot write features to {}: {e}", path.display()))?;
    }
    match a.format {
        Format::Text => super::emit(&crate::eval::text(&report)),
        Format::Json => super::emit(&format!("{}\n", serde_json::to_string_pretty(&report)?)),
    }
    Ok(ExitCode::SUCCESS)
}
