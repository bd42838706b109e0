//! `planmap program`: which program of a repository produced a plan — the candidate
//! programs ranked by how much of the plan each explains, with the evidence, and with
//! `--explain` the site each code-owned node is best explained by in the top programs.

use super::Common;
use crate::plan::{self, ParseOptions, PlanFormat, PlanInput};
use crate::program::{self, Hints, Params, Programs};
use crate::repo;
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
pub struct ProgramArgs {
    /// The plan (any format `planmap map` reads).
    #[arg(long)]
    pub plan: PathBuf,
    #[command(flatten)]
    pub repo: super::index::RepoArgs,
    /// Which SQL execution of an event log (default: most nodes).
    #[arg(long)]
    pub execution: Option<i64>,
    #[arg(long, value_enum)]
    pub plan_format: Option<PlanFormat>,
    /// The graph whose `[program]` settings to use.
    #[arg(long, default_value = "default")]
    pub graph: String,
    /// Also show, for the top programs, which site explains each code-owned node.
    #[arg(long)]
    pub explain: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub async fn run(a: ProgramArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let (p, opts) = (a.plan.clone(), ParseOptions { format: a.plan_format, execution: a.execution });
    let plan = tokio::task::spawn_blocking(move || plan::parse(PlanInput::Path(&p), &opts).map_err(|e| super::plan_error(&p, e))).await??;
    let checkout = a.repo.acquire().await?;
    let (root, commit, targets) = (checkout.root.clone(), checkout.commit.clone(), a.repo.target_paths.clone());
    let ctx = tokio::task::spawn_blocking(move || repo::build(&root, &targets, &commit)).await?.map_err(|e| anyhow::anyhow!("{}: {e}", a.repo.repo))?;
    let params = graph_params(&a.graph, common).unwrap_or_default();
    let t = std::time::Instant::now();
    let programs = Programs::build(&ctx);
    let built_ms = t.elapsed().as_secs_f64() * 1e3;
    let res = program::resolve(&programs, &plan, &Hints::from_plan(&plan), &params);
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&res)?),
        Format::Text => {
            println!("{} candidate programs in {} files ({built_ms:.1} ms to build, {:.1} ms to rank)", res.candidates, ctx.files.len(), res.ms);
            for (i, r) in res.programs.iter().enumerate() {
                let role = if i == 0 { "chosen" } else if i <= res.rivals { "rival" } else { "" };
                println!("{:>3}. {:<6} {:.3} explained, weight {:.3}  {} (+{} files){}", i + 1, role, r.score, r.weight, r.entry, r.files.len() - 1, if r.evidence.is_empty() { String::new() } else { format!(": {}", r.evidence.join("; ")) });
            }
            if a.explain {
                for r in res.programs.iter().take(1 + res.rivals.max(1)) {
                    println!("\n{}:", r.entry);
                    for (id, family, at, v) in program::detail(&programs, &plan, &r.files, &ctx.sites) {
                        println!("  {id:>4} {family:<11} {v:.2}  {at}");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The named graph's `[program]` settings, when the graphs load.
fn graph_params(name: &str, common: &Common) -> Option<Params> {
    let runtime = crate::config::runtime(common.compile_cache.clone(), common.no_compile_cache).ok()?;
    let registry = Registry::open(runtime, Sources { plugin_dir: Some(common.plugins.clone()), graph_dir: Some(common.graphs.clone()) }).ok()?;
    registry.snapshot().graph(name).ok().map(|g| g.program)
}
