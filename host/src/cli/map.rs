//! `planmap map`: the whole pipeline in-process on the embedded defaults (or the
//! configured backends): read the plan, index the repository, run the graph.

use super::Common;
use crate::capabilities::{BackendConfig, Backends};
use crate::mapping::{self, output, Job, Thresholds};
use crate::pipeline::RunContext;
use crate::plan::{self, PlanFormat};
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
    /// Which SQL executions of an event log or REST listing: an id, `all`, or text
    /// found in the description or call site (every match is mapped) [default: the one
    /// with most nodes]. `planmap plan list FILE` lists them.
    #[arg(long, value_name = "ID|all|TEXT")]
    pub execution: Option<plan::Executions>,
    #[arg(long, value_enum)]
    pub plan_format: Option<PlanFormat>,
    /// Graph name (from graphs/ or built in).
    #[arg(long, default_value = "default")]
    pub graph: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// On a terminal, print every text in full instead of cutting rows to its width
    /// (piped output is always in full).
    #[arg(long)]
    pub wide: bool,
    /// Plan nodes mapped at once (in lock-step batches of up to 64).
    #[arg(long, env = "MAX_PARALLEL_NODES", default_value_t = mapping::LOCAL_PARALLEL_NODES)]
    pub parallel: usize,
    #[arg(long, env = "CONFIDENCE_THRESHOLD_HIGH", default_value_t = mapping::CONFIRMED)]
    pub high: f64,
    #[arg(long, env = "CONFIDENCE_THRESHOLD_LOW", default_value_t = 0.5)]
    pub low: f64,
}

/// Every chosen execution's plan, mapped, and the notes about the backends used.
pub struct Mapped {
    pub plans: Vec<plan::Plan>,
    pub results: Vec<mapping::MapResult>,
    pub notes: Vec<String>,
    /// Whether the execution choice can name several (each gets its own section).
    pub several: bool,
}

pub async fn run(a: MapArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let Mapped { plans, results, notes, several } = map_plans(&a, common).await?;
    let nodes: usize = plans.iter().map(|p| p.nodes.len()).sum();
    let width = (std::io::IsTerminal::is_terminal(&std::io::stdout()) && !a.wide).then(|| console::Term::stdout().size().1 as usize);
    match a.format {
        Format::Table => {
            for n in &notes {
                eprintln!("note: {n}");
            }
            let mut text = String::new();
            for (plan, result) in plans.iter().zip(&results) {
                for w in &plan.warnings {
                    eprintln!("warning: {w}");
                }
                if several {
                    text.push_str(&format!("== {} ==\n", execution_title(plan)));
                }
                text.push_str(&format!("plan: {} ({} nodes)\n{}", plan.source, plan.nodes.len(), output::table(result, width)));
                if several {
                    text.push('\n');
                }
            }
            if several {
                text.push_str(&format!("{} executions mapped, {nodes} nodes\n", results.len()));
            }
            super::emit(&text);
        }
        Format::Json => {
            let mut entries = Vec::with_capacity(results.len());
            for (plan, result) in plans.iter().zip(&results) {
                entries.push(json_result(plan, result)?);
            }
            let v = if several { serde_json::json!({"executions": entries}) } else { entries.pop().expect("one plan") };
            super::emit(&format!("{}\n", serde_json::to_string_pretty(&v)?))
        }
        Format::Sarif => super::emit(&format!("{}\n", serde_json::to_string_pretty(&sarif(&plans, &results))?)),
    }
    Ok(ExitCode::SUCCESS)
}

/// One SARIF document, a run per execution.
pub fn sarif(plans: &[plan::Plan], results: &[mapping::MapResult]) -> serde_json::Value {
    let runs = plans
        .iter()
        .zip(results)
        .map(|(plan, result)| {
            let mut run = output::sarif_run(result);
            if let Some(e) = &plan.execution {
                run["properties"]["executionId"] = e.id.into();
            }
            run
        })
        .collect();
    output::sarif_document(runs)
}

/// Read the plan, bring and index the repository, load the plugins and map every chosen
/// execution: what `map` and `hotspots` share.
pub async fn map_plans(a: &MapArgs, common: &Common) -> anyhow::Result<Mapped> {
    if !(0.0..=1.0).contains(&a.low) || !(0.0..=1.0).contains(&a.high) || a.low > a.high {
        anyhow::bail!("confidence thresholds must satisfy 0 <= low ({}) <= high ({}) <= 1", a.low, a.high);
    }
    let quiet = !matches!(a.format, Format::Table);
    let spinner = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner.set_message(format!("reading {}", a.plan.display()));
    let which = a.execution.clone().unwrap_or(plan::Executions::Largest);
    // One entry per execution in the output when the choice can name several.
    let several = matches!(which, plan::Executions::All | plan::Executions::Matching(_));
    let plans = {
        let (p, format) = (a.plan.clone(), a.plan_format);
        tokio::task::spawn_blocking(move || plan::parse_each(&p, format, &which).map_err(|e| super::plan_error(&p, e))).await??
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
    let nodes: usize = plans.iter().map(|p| p.nodes.len()).sum();
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(nodes as u64) };
    bar.set_style(ProgressStyle::with_template("mapping {bar:30} {pos}/{len} nodes").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut results = Vec::with_capacity(plans.len());
    let mut before = 0;
    for plan in &plans {
        let result = mapping::map_plan(&job, plan, &|d, _| bar.set_position((before + d) as u64)).await?;
        before += plan.nodes.len();
        results.push(result);
    }
    bar.finish_and_clear();
    Ok(Mapped { plans, results, notes: backends.notes.clone(), several })
}

/// `execution 7: count at orders.py:40 (16 nodes)` for a plan read from an execution.
pub fn execution_title(plan: &plan::Plan) -> String {
    match &plan.execution {
        Some(e) => {
            let what: String = e.description.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(80).collect();
            let at = if e.call_site.is_empty() || what.contains(&e.call_site) { String::new() } else { format!(" [{}]", e.call_site) };
            format!("execution {}: {what}{at} ({} nodes)", e.id, plan.nodes.len())
        }
        None => plan.source.clone(),
    }
}

/// A result in the JSON clients read, with the execution it came from; shadow answers
/// are for experiment records, not results.
fn json_result(plan: &plan::Plan, result: &mapping::MapResult) -> anyhow::Result<serde_json::Value> {
    let mut v = serde_json::to_value(result)?;
    for m in v["mappings"].as_array_mut().into_iter().flatten() {
        if let Some(o) = m.as_object_mut() {
            o.remove("shadows");
        }
    }
    if let Some(e) = &plan.execution {
        v["execution"] = e.summary();
    }
    Ok(v)
}
