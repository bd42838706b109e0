//! `planmap bench runtime`: compile time per plugin (cold and cached), per-step
//! instantiate + call overhead on a 50-candidate batch, and graph steps per second
//! on one core. Prints a table; numbers go into docs/benchmarks.md and closing notes.

use super::Common;
use crate::capabilities::{IndexEntry, JobCapabilities, MemoryCache, MemoryIndex};
use crate::pipeline::{run_node, RunContext};
use crate::snapshot::{Registry, Sources};
use clap::Subcommand;
use planmap_runtime::model::{Batch, CodeSite, Location, PlanNode, Semantics, StepInput};
use planmap_runtime::wit::*;
use planmap_runtime::{Call, CallLimits, Candidate, CallScope, Grants, Runtime, RuntimeConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Plan ingestion: a 5,000-node formatted plan and a large event log (time, peak memory).
    Plan {
        /// Size of the synthetic event log in MiB.
        #[arg(long, default_value_t = 500)]
        log_mib: u64,
        /// An event log whose lines are repeated to build the synthetic one.
        #[arg(long)]
        seed_log: Option<std::path::PathBuf>,
        /// Nodes in the synthetic formatted plan.
        #[arg(long, default_value_t = 5000)]
        nodes: usize,
    },
    /// The main job: a ~300-node plan against a generated ~100k-line repository on one
    /// core, after indexing, with the share spent crossing the wasm boundary.
    Map {
        /// Nodes in the synthetic plan.
        #[arg(long, default_value_t = 300)]
        nodes: usize,
        /// Lines of the generated repository.
        #[arg(long, default_value_t = 100_000)]
        lines: usize,
        /// Timed mapping runs (more gives steadier medians on a busy machine, and a
        /// profile dominated by mapping rather than indexing).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        runs: u32,
    },
    /// Program resolution on a generated monorepo (pipelines sharing helpers, each job
    /// in several formats, other engines' copies): index, candidate programs, ranking.
    Programs {
        /// Files in the generated repository.
        #[arg(long, default_value_t = 10_000)]
        files: usize,
    },
    /// The service: N concurrent small jobs against one `planmap serve` on a store
    /// (Postgres for the target); throughput and submit/status latency.
    Serve {
        /// The store the server uses (e.g. postgres://postgres@127.0.0.1:5432/planmap_bench).
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        /// Jobs submitted at once.
        #[arg(long, default_value_t = 100)]
        jobs: usize,
        /// The server's worker count.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// The plan every job maps.
        #[arg(long, default_value = "tests/fixtures/plans/generated/explain/union_distinct/formatted.txt")]
        plan: std::path::PathBuf,
        /// The repository every job maps against.
        #[arg(long, default_value = "tests/fixtures/spark")]
        repo: std::path::PathBuf,
        /// Event streams held open on the last job submitted while the rest run (status latency
        /// is then measured with them open).
        #[arg(long, default_value_t = 0)]
        streams: usize,
        /// A Chroma server: run the load twice, without and then with vector retrieval
        /// (Chroma plus embeddings from a local OpenAI-compatible endpoint started here),
        /// and report the throughput ratio.
        #[arg(long)]
        chroma_url: Option<String>,
        /// The local embeddings endpoint's delay per request, as a remote API's round trip.
        #[arg(long, default_value_t = 50)]
        embedding_latency_ms: u64,
    },
    /// Plugin runtime: compile, instantiate + call, steps per second.
    Runtime {
        /// Invocations per measurement.
        #[arg(long, default_value_t = 2000)]
        iterations: usize,
    },
}

/// A synthetic code site, shaped like a real PySpark join/groupBy site.
pub fn synthetic_site(i: usize) -> CodeSite {
    let kinds = ["join", "aggregate", "filter", "select", "read", "window", "sort"];
    let kind = kinds[i % kinds.len()];
    CodeSite {
        id: i as u32,
        location: Location { file: format!("etl/job_{}.py", i / 40), symbol: format!("build_{}", i % 13), line_start: (i % 400) as u32 + 1, line_end: (i % 400) as u32 + 3 },
        statement_start: (i % 400) as u32 + 1,
        statement_end: (i % 400) as u32 + 4,
        kind: kind.into(),
        columns: vec![format!("customer_id_{}", i % 17), "amount".into(), format!("col_{}", i % 29)],
        tables: vec![format!("sales.table_{}", i % 11)],
        literals: vec![format!("{}", i % 7)],
        functions: vec!["sum".into(), "col".into()],
    }
}

/// The index entry of a synthetic site: its source text and the variable it assigns.
fn synthetic_entry(i: usize) -> IndexEntry {
    let site = synthetic_site(i);
    let snippet = format!("df_{i} = orders.{}(customers, on=\"customer_id_{}\", how=\"left\")", site.kind, i % 17);
    IndexEntry { name: format!("s{i}"), source: SiteSource { site_id: site.id, language: "python".into(), snippet }, site, outputs: vec![format!("df_{i}")] }
}

/// A SortMergeJoin plan node whose keys match some of the synthetic sites.
pub fn synthetic_node() -> PlanNode {
    PlanNode {
        id: "7".into(),
        operator: "SortMergeJoin".into(),
        family: Family::Join,
        induced: None,
        semantics: Semantics {
            tables: vec![], paths: vec![], format: None, columns: vec!["amount".into()], output_columns: vec![],
            left_keys: vec!["customer_id_3".into()], right_keys: vec!["customer_id_3".into()], join_type: Some("LeftOuter".into()), build_side: None,
            grouping_keys: vec![], aggregate_functions: vec![], predicates: vec![], literals: vec![], sort_keys: vec![], window_partition: vec![],
            window_functions: vec![], limit: None, udfs: vec![], aliases: vec![], functions: vec![], write_target: None, flags: vec![], truncated: false,
        },
        neighbours: vec![],
        plan_files: vec![],
        fragment: "SortMergeJoin [customer_id_3#1], [customer_id_3#9], LeftOuter".into(),
    }
}

/// A synthetic batch: what its inputs share, and each input's candidates in its columns
/// (their rows, in order).
fn batch_of(config: &str, feature_names: Vec<String>, sites: Vec<CodeSite>, per_input: &[Vec<Candidate>]) -> (Batch, Vec<Rows>) {
    let mut b = Batch::new(config.to_string(), "bench".into(), "n".into(), 2);
    (b.feature_names, b.sites) = (feature_names, sites);
    let rows = per_input.iter().map(|cands| b.push_candidates(cands, &[])).collect();
    (b, rows)
}

/// `n` host-side candidates on the synthetic sites.
fn candidates(n: usize) -> Vec<planmap_runtime::Candidate> {
    (0..n).map(|i| planmap_runtime::Candidate::proposed(synthetic_site(i), 1.0 / (i + 1) as f64)).collect()
}

/// Time `iterations` invocations of `plugin` on a batch of `nodes` copies of the
/// synthetic node, each with the candidates `batch()` makes (fresh each time, as the
/// pipeline hands over) and the feature names `names`.
#[allow(clippy::too_many_arguments)]
pub async fn time_invocations(runtime: &Runtime, plugin: &planmap_runtime::LoadedPlugin, caps: &Arc<JobCapabilities>, config: &str, iterations: usize, nodes: usize, names: &[String], batch: impl Fn() -> Vec<Candidate>) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let per_input: Vec<Vec<Candidate>> = (0..nodes).map(|_| batch()).collect();
        let (mut shared, rows) = batch_of(config, names.to_vec(), vec![], &per_input);
        let inputs: Vec<StepInput> = rows.into_iter().map(|candidates| StepInput { node: synthetic_node(), candidates, visit: 1 }).collect();
        let call = planmap_runtime::BatchCall { batch: &mut shared, inputs: &inputs, detail: Default::default(), limits: CallLimits::default(), grants: Grants::none(), capabilities: caps.clone(), scope: CallScope::default() };
        let t = Instant::now();
        let (r, _) = runtime.invoke_batch(plugin, call).await;
        times.push(t.elapsed());
        for one in r? {
            one.map_err(|e| anyhow::anyhow!("{}", e.message))?;
        }
    }
    Ok(times)
}

fn stats(mut v: Vec<Duration>) -> (f64, f64, f64) {
    v.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = v.iter().map(|d| us(*d)).sum::<f64>() / v.len() as f64;
    (us(v[v.len() / 2]), us(v[v.len() * 99 / 100]), mean)
}

pub async fn run(cmd: BenchCmd, common: &Common) -> anyhow::Result<ExitCode> {
    let iterations = match cmd {
        BenchCmd::Runtime { iterations } => iterations,
        BenchCmd::Plan { log_mib, seed_log, nodes } => return tokio::task::spawn_blocking(move || super::bench_plan::run(log_mib, seed_log, nodes)).await?,
        BenchCmd::Map { nodes, lines, runs } => return tokio::task::spawn_blocking(move || super::bench_map::run(nodes, lines, runs as usize)).await?,
        BenchCmd::Programs { files } => return tokio::task::spawn_blocking(move || super::bench_programs::run(files)).await?,
        BenchCmd::Serve { database_url, jobs, workers, plan, repo, streams, chroma_url, embedding_latency_ms } => {
            return super::bench_serve::run(super::bench_serve::Args { database_url, jobs, workers, plan, repo, streams, chroma_url, embedding_latency: Duration::from_millis(embedding_latency_ms) }).await;
        }
    };
    let (sources, _) = crate::plugins::discover(None);
    println!("## compile per plugin");
    println!("{:<22} {:>10} {:>12} {:>10}", "plugin", "bytes", "cold ms", "cached ms");
    let cache = tempfile_dir()?;
    for s in &sources {
        let cold_rt = Runtime::new(RuntimeConfig { cache_dir: None })?;
        let t = Instant::now();
        cold_rt.load(&s.name, &s.bytes, "bench")?;
        let cold = t.elapsed();
        let warm_rt = Runtime::new(RuntimeConfig { cache_dir: Some(cache.clone()) })?;
        warm_rt.load(&s.name, &s.bytes, "bench")?; // fills the cache
        let warm_rt2 = Runtime::new(RuntimeConfig { cache_dir: Some(cache.clone()) })?;
        let t = Instant::now();
        warm_rt2.load(&s.name, &s.bytes, "bench")?;
        let cached = t.elapsed();
        println!("{:<22} {:>10} {:>12.1} {:>10.2}", s.name, s.bytes.len(), cold.as_secs_f64() * 1e3, cached.as_secs_f64() * 1e3);
    }
    let _ = std::fs::remove_dir_all(&cache);

    let runtime = crate::config::runtime(common.compile_cache.clone(), common.no_compile_cache)?;
    let index = Arc::new(MemoryIndex::build((0..2000).map(synthetic_entry).collect(), &[]));
    let caps = Arc::new(JobCapabilities::new(index, Arc::new(MemoryCache::new())));
    let node = synthetic_node();
    println!("\n## one invocation with a 50-candidate batch ({iterations} runs each; µs)");
    println!("{:<22} {:>10} {:>10} {:>10} {:>12}", "plugin", "p50", "p99", "mean", "instantiate");
    let mut plugins: Vec<(String, Arc<[u8]>, String)> = sources.iter().map(|s| (s.name.clone(), s.bytes.clone(), String::new())).collect();
    if let Some(dir) = option_env!("PLANMAP_TEST_WASM_DIR")
        && let Ok(b) = std::fs::read(format!("{dir}/chaos_scorer.wasm")) {
            plugins.push(("no-op (chaos-scorer ok)".into(), Arc::from(b), r#"{"mode":"ok","confidence":0.5}"#.into()));
        }
    for (name, bytes, config) in &plugins {
        let p = runtime.load(name, bytes, "bench")?;
        let grants: Grants = planmap_runtime::Capability::ALL.into_iter().collect();
        let mut times = Vec::with_capacity(iterations);
        let mut inst = Vec::with_capacity(iterations);
        // What the pipeline gives each kind: candidates by id, and for a matcher the
        // batch's sites in a table.
        let matcher = p.kind == planmap_runtime::Kind::Matcher;
        for _ in 0..iterations {
            let host = candidates(50);
            let sites: Vec<_> = if matcher { host.iter().map(|c| c.site.clone()).collect() } else { vec![] };
            let (mut shared, rows) = batch_of(config, vec![], sites, std::slice::from_ref(&host));
            let input = StepInput { node: node.clone(), candidates: rows[0], visit: 1 };
            let call = Call { batch: &mut shared, input: &input, detail: Default::default(), limits: CallLimits::default(), grants, capabilities: caps.clone(), scope: CallScope::default() };
            let t = Instant::now();
            let (r, rep) = runtime.invoke(&p, call).await;
            times.push(t.elapsed());
            inst.push(rep.instantiate);
            r?;
        }
        let (p50, p99, mean) = stats(times);
        let (i50, _, _) = stats(inst);
        println!("{:<22} {:>10.1} {:>10.1} {:>10.1} {:>12.1}", name, p50, p99, mean, i50);
    }

    if let Some((_, bytes, config)) = plugins.iter().find(|(n, _, _)| n.starts_with("no-op")) {
        println!("\n## no-op plugin by batch size (µs, p50): the runtime's own cost per step");
        let p = runtime.load("no-op", bytes, "bench")?;
        for n in [0usize, 1, 10, 20, 50] {
            let times = time_invocations(&runtime, &p, &caps, config, iterations, 1, &[], || candidates(n)).await?;
            let (p50, p99, _) = stats(times);
            println!("candidates {n:>3}: p50 {p50:>8.1}  p99 {p99:>8.1}");
        }
        println!("\n## no-op plugin by plan nodes per invocation, 15 candidates each (µs, p50): what one more node costs");
        for n in [1usize, 16, 64] {
            let times = time_invocations(&runtime, &p, &caps, config, iterations / 4, n, &[], || candidates(15)).await?;
            let (p50, _, _) = stats(times);
            println!("nodes {n:>3}: p50 {p50:>8.1}  per node {:>6.2}", p50 / n as f64);
        }
    }

    println!("\n## default graph (4 nodes) on one core");
    let registry = Arc::new(Registry::open(runtime.clone(), Sources::default()).map_err(|e| anyhow::anyhow!(e.join("\n")))?);
    let snap = registry.snapshot();
    let graph = snap.graph("default")?;
    let caps2 = caps.clone();
    let iters = iterations / 4;
    let (steps, took, plugin_time) = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let ctx = RunContext { analysis_id: "bench".into(), ..Default::default() };
            let mut steps = 0;
            let mut plugin_time = Duration::ZERO;
            let t = Instant::now();
            for _ in 0..iters {
                let o = run_node(&runtime, &snap, &graph, synthetic_node(), caps2.clone(), &ctx).await;
                steps += o.steps.len();
                plugin_time += o.plugin_time;
            }
            (steps, t.elapsed(), plugin_time)
        })
    })
    .await?;
    println!("plan nodes: {iters}, steps: {steps}, {:.0} steps/s, {:.1} µs/step ({:.1} µs/step inside plugin invocations)",
        steps as f64 / took.as_secs_f64(), took.as_secs_f64() * 1e6 / steps as f64, plugin_time.as_secs_f64() * 1e6 / steps as f64);
    Ok(ExitCode::SUCCESS)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("planmap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
