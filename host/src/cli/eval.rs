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
}

pub async fn run(a: EvalArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let runtime = crate::config::runtime(common.compile_cache.clone(), common.no_compile_cache)?;
    let sources = Sources { plugin_dir: Some(common.plugins.clone()), graph_dir: Some(common.graphs.clone()) };
    let registry = tokio::task::spawn_blocking(move || Registry::open(runtime, sources)).await?.map_err(|e| anyhow::anyhow!("plugins and graphs are not valid:\n{}", e.join("\n")))?;
    let backends = Backends::connect(&BackendConfig::from_env()).await;
    let report = crate::eval::run(&a.dataset, &registry, &backends, a.graph.as_deref()).await?;
    if let Some(path) = &a.features {
        let mut out = String::new();
        for row in &report.candidates {
            out.push_str(&serde_json::to_string(row)?);
            out.push('\n');
        }
        std::fs::write(path, out).map_err(|e| anyhow::anyhow!("cannot write features to {}: {e}", path.display()))?;
    }
    match a.format {
        Format::Text => print!("{}", crate::eval::text(&report)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::SUCCESS)
}
