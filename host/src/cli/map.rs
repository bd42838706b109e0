//! `planmap map`: the whole pipeline in-process on the embedded defaults (or the
//! configured backends): read the plan, index the repository, run the graph.

use super::Common;
use crate::capabilities::{BackendConfig, Backends};
use crate::mapping::{self, output, Job, Thresholds};
use crate::pipeline::RunContext;
use crate::plan::{self, ParseOptions, PlanFormat, PlanInput};
use crate::repo;
use crate::snapshot::{Registry, Sources};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
}

#[derive(Args)]
pub struct MapArgs {
    /// The plan (EXPLAIN text, event log file or folder, REST JSON, query profile, DAG list).
    #[arg(long)]
    pub plan: PathBuf,
    /// The repository that ran it.
    #[command(flatten)]
    pub repo: super::index::RepoArgs,
    /// Which SQL execution of an event log (default: most nodes).
    #[arg(long)]
    pub execution: Option<i64>,
    #[arg(long, value_enum)]
    pub plan_format: Option<PlanFormat>,
    /// Graph name (from graphs/ or built in).
    #[arg(long, default_value = "default")]
    pub graph: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Plan nodes mapped at once (in lock-step batches of up to 64).
    #[arg(long, env = "MAX_PARALLEL_NODES", default_value_t = mapping::LOCAL_PARALLEL_NODES)]
    pub parallel: usize,
    #[arg(long, env = "CONFIDENCE_THRESHOLD_HIGH", default_value_t = mapping::CONFIRMED)]
    pub high: f64,
    #[arg(long, env = "CONFIDENCE_THRESHOLD_LOW", default_value_t = 0.5)]
    pub low: f64,
}

pub async fn run(a: MapArgs, common: &Common) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.low) || !(0.0..=1.0).contains(&a.high) || a.low > a.high {
        anyhow::bail!("confidence thresholds must satisfy 0 <= low ({}) <= high ({}) <= 1", a.low, a.high);
    }
    let quiet = !matches!(a.format, Format::Table);
    let spinner = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner.set_message(format!("reading {}", a.plan.display()));
    let plan = {
        let (p, opts) = (a.plan.clone(), ParseOptions { format: a.plan_format, execution: a.execution });
        tokio::task::spawn_blocking(move || plan::parse(PlanInput::Path(&p), &opts).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))).await??
    };
    spinner.set_message(format!("fetching {}", a.repo.repo));
    let checkout = a.repo.acquire().await?;
    spinner.set_message("indexing");
    let backends = Backends::connect(&BackendConfig::from_env()).await;
    let (ctx, caps) = repo::context::job_capabilities(&backends, &checkout, &a.repo.target_paths).await.map_err(|e| anyhow::anyhow!("{}: {e}", a.repo.repo))?;
    spinner.set_message("loading plugins");
    let runtime = crate::config::runtime(common.compile_cache.clone(), common.no_compile_cache)?;
    let sources = Sources { plugin_dir: Some(common.plugins.clone()), graph_dir: Some(common.graphs.clone()) };
    let registry = tokio::task::spawn_blocking(move || Registry::open(runtime, sources)).await?.map_err(|e| anyhow::anyhow!("plugins and graphs are not valid:\n{}", e.join("\n")))?;
    spinner.finish_and_clear();
    let budget = std::env::var("MAX_JOB_COST_USD").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(crate::capabilities::llm::DEFAULT_BUDGET_USD);
    let caps = Arc::new(caps.with_llm(backends.job_llm(budget, 0.0, vec![])));
    let job = Job {
        runtime: &registry.runtime,
        snapshot: registry.snapshot(),
        graph: a.graph.clone(),
        caps,
        ctx: RunContext { analysis_id: format!("cli-{}", std::process::id()), repo: a.repo.repo.clone(), ..Default::default() },
        thresholds: Thresholds { high: a.high, low: a.low },
        parallel: a.parallel,
        step_checkpoints: false,
        programs: Some(Arc::new(crate::program::Programs::build(&ctx))),
        commit: ctx.commit.clone(),
    };
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(plan.nodes.len() as u64) };
    bar.set_style(ProgressStyle::with_template("mapping {bar:30} {pos}/{len} nodes").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let result = mapping::map_plan(&job, &plan, &|d, _| bar.set_position(d as u64)).await?;
    bar.finish_and_clear();
    match a.format {
        Format::Table => {
            for n in &backends.notes {
                eprintln!("note: {n}");
            }
            for w in &plan.warnings {
                eprintln!("warning: {w}");
            }
            super::emit(&format!("plan: {} ({} nodes)\n{}", plan.source, plan.nodes.len(), output::table(&result)));
        }
        Format::Json => {
            // Shadow answers are for experiment records, not results.
            let mut v = serde_json::to_value(&result)?;
            for m in v["mappings"].as_array_mut().into_iter().flatten() {
                if let Some(o) = m.as_object_mut() {
                    o.remove("shadows");
                }
            }
            super::emit(&format!("{}\n", serde_json::to_string_pretty(&v)?))
        }
        Format::Sarif => super::emit(&format!("{}\n", serde_json::to_string_pretty(&output::sarif(&result))?)),
    }
    Ok(ExitCode::SUCCESS)
}
