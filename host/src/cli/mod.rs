//! The `planmap` command line: one small file per command group.

mod bench;
mod bench_map;
mod bench_programs;
pub mod bench_plan;
mod bench_serve;
mod eval;
mod experiments;
mod graph;
mod healthcheck;
mod hotspots;
mod index;
mod map;
mod migrate;
mod plan;
mod plugin;
mod program;
mod serve;

use clap::{Args, Parser, Subcommand};
use std::io::Write as _;

/// Write a command's report to stdout; a reader that went away (`| head`) ends the
/// output quietly instead of a panic.
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("cannot write the output: {e}");
        }
}
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A plan that could not be read, in the command line's words: the file, what is
/// wrong, and the flag that fixes it.
pub fn plan_error(file: &Path, e: crate::plan::PlanError) -> anyhow::Error {
    use crate::plan::PlanError;
    let hint = match &e {
        PlanError::Unknown(_) => " with --plan-format (explain, formatted, event-log, rest, query-profile, dag-nodes)",
        PlanError::NoExecution { .. } => "; `planmap plan list FILE` lists them with their descriptions and call sites",
        _ => "",
    };
    anyhow::anyhow!("{}: {e}{hint}", file.display())
}

#[derive(Parser)]
#[command(name = "planmap", version, about = "Map every Spark plan node to the code that produced it")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Options every command shares.
#[derive(Args, Clone)]
pub struct Common {
    /// Folder of dropped-in plugin .wasm files (overrides built-ins of the same name).
    #[arg(long, global = true, env = "PLANMAP_PLUGIN_DIR", default_value = "plugins")]
    pub plugins: PathBuf,
    /// Folder of graph .toml files.
    #[arg(long, global = true, env = "PLANMAP_GRAPH_DIR", default_value = "graphs")]
    pub graphs: PathBuf,
    /// Folder for compiled-plugin cache files [default: ~/.cache/planmap/compiled].
    #[arg(long, global = true, env = "PLANMAP_COMPILE_CACHE")]
    pub compile_cache: Option<PathBuf>,
    /// Compile every plugin afresh (no on-disk cache).
    #[arg(long, global = true)]
    pub no_compile_cache: bool,
    /// Log filter (e.g. `info`, `planmap=debug`).
    #[arg(long, global = true, env = "LOG_LEVEL", default_value = "warn")]
    pub log_level: String,
    /// Log as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Validate and render mapping graphs.
    #[command(subcommand)]
    Graph(graph::GraphCmd),
    /// Inspect and list strategy plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCmd),
    /// Read plans: show the normalised tree, list event-log executions.
    #[command(subcommand)]
    Plan(plan::PlanCmd),
    /// The main job: map every plan node to the code that produced it.
    Map(map::MapArgs),
    /// Rank the code spans by what their plan nodes cost (event log, REST or profile
    /// metrics) and flag anti-patterns at the line: `hotspots --plan LOG --repo DIR`.
    Hotspots(map::MapArgs),
    /// Run a labelled dataset and report accuracy, coverage and calibration.
    Eval(eval::EvalArgs),
    /// Index a repository: every Spark operation site, with stats.
    Index(index::IndexArgs),
    /// Which program of a repository produced a plan: candidates ranked by how much of
    /// the plan each explains.
    Program(program::ProgramArgs),
    /// Apply the job store's database migrations (Postgres or the embedded SQLite).
    Migrate(migrate::MigrateArgs),
    /// Run the HTTP service: job API, worker pool, metrics (see docs/service.md).
    Serve(serve::ServeArgs),
    /// Record whether a mapping was right (A/B feedback), straight in the job store.
    Feedback(experiments::FeedbackArgs),
    /// Per A/B variant: exposures, latency, errors, confidence, statuses, feedback, accuracy.
    Experiments(experiments::ExperimentsArgs),
    /// Exit 0 when a running service answers its health check (for container probes).
    Healthcheck(healthcheck::HealthArgs),
    /// Measure the engine (see docs/benchmarks.md).
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

fn init_logging(c: &Common) {
    let filter = tracing_subscriber::EnvFilter::try_new(&c.log_level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if c.log_json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// Run the command line; errors print as `error: …` with their causes, exit code 1
/// (2 for usage errors, from clap).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service sets up its own (structured) logging from its configuration.
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging(&cli.common);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Graph(c) => graph::run(c, &cli.common).await,
            Command::Plugin(c) => plugin::run(c, &cli.common).await,
            Command::Bench(c) => bench::run(c, &cli.common).await,
            Command::Plan(c) => plan::run(c, &cli.common).await,
            Command::Index(a) => index::run(a, &cli.common).await,
            Command::Program(a) => program::run(a, &cli.common).await,
            Command::Map(a) => map::run(a, &cli.common).await,
            Command::Hotspots(a) => hotspots::run(a, &cli.common).await,
            Command::Eval(a) => eval::run(a, &cli.common).await,
            Command::Migrate(a) => migrate::run(a).await,
            Command::Serve(a) => serve::run(a, &cli.common).await,
            Command::Healthcheck(a) => healthcheck::run(a).await,
            Command::Feedback(a) => experiments::feedback(a).await,
            Command::Experiments(a) => experiments::report(a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The plugin runtime and the kinds of all available plugins (built-ins + folder).
pub(crate) fn plugin_kinds(c: &Common) -> anyhow::Result<(std::sync::Arc<planmap_runtime::Runtime>, crate::graph::PluginKinds, Vec<String>)> {
    let runtime = crate::config::runtime(c.compile_cache.clone(), c.no_compile_cache)?;
    let (sources, mut errors) = crate::plugins::discover(Some(&c.plugins));
    let mut kinds = crate::graph::PluginKinds::new();
    for s in sources {
        match runtime.load(&s.name, &s.bytes, &s.origin) {
            Ok(p) => {
                kinds.insert(s.name, p.kind);
            }
            Err(e) => errors.push(format!("{}: {e}", s.origin)),
        }
    }
    Ok((runtime, kinds, errors))
}
