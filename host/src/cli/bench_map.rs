//! `planmap bench map`: the main job's speed target — a plan of about 300 nodes mapped
//! against a generated repository of about 100k lines, after indexing, on one core —
//! and how much of it is spent crossing the wasm boundary.
//!
//! The boundary share is estimated: the no-op test plugin is timed on batches of each
//! shape that crosses (an invocation, a node's input, a whole candidate, a whole
//! assessed one, a slim one), and those costs are multiplied by what the job actually
//! sent. Results coming back and sites returned by capability calls cross too and are
//! not counted, so the estimate is a lower bound.

use super::bench::{synthetic_site, time_invocations};
use super::bench_plan::synthetic_formatted;
use crate::capabilities::{JobCapabilities, MemoryCache};
use crate::mapping::{self, Job, Thresholds};
use crate::pipeline::RunContext;
use crate::plan::{self, ParseOptions, PlanInput};
use crate::snapshot::{Registry, Sources};
use planmap_runtime::wit::*;
use planmap_runtime::Runtime;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines per generated module: a typical ETL module size.
const MODULE_LINES: usize = 400;
/// No-op invocations timed per batch shape when estimating the boundary cost.
const CALIBRATION_RUNS: usize = 500;
/// Timed repetitions of the mapping run (the best is reported with the median).
const RUNS: usize = 3;

/// One module of the generated repository: Spark functions over `tables`, each
/// filtering, aggregating and naming its result like the synthetic plan's branches,
/// padded with plain Python (real repositories are mostly not Spark calls).
fn module(tables: std::ops::Range<usize>) -> String {
    let mut s = String::from("from pyspark.sql import functions as F\n\n\n");
    for b in tables {
        let _ = write!(
            s,
            "def total_{b}(spark):\n    df = spark.table(\"db.table_{b}\")\n    df = df.filter(F.col(\"k_{b}\").isNotNull() & (F.col(\"v\") > {b}))\n    return df.groupBy(\"k_{b}\").agg(F.sum(\"v\").alias(\"total_{b}\"))\n\n\n\
             def describe_{b}(rows):\n    out = []\n    for r in rows:\n        if r is None:\n            continue\n        out.append(str(r).strip())\n    return \", \".join(out)\n\n\n"
        );
    }
    s
}

/// Write a repository of about `lines` lines; returns the number of Python lines.
fn write_repo(dir: &Path, lines: usize) -> anyhow::Result<usize> {
    let per_table = module(0..1).lines().count() - 3;
    let tables_per_module = (MODULE_LINES / per_table).max(1);
    let modules = lines.div_ceil(tables_per_module * per_table).max(1);
    let mut total = 0;
    for m in 0..modules {
        let pkg = dir.join(format!("jobs/area_{}", m / 50));
        std::fs::create_dir_all(&pkg)?;
        let text = module(m * tables_per_module..(m + 1) * tables_per_module);
        total += text.lines().count();
        std::fs::write(pkg.join(format!("job_{m}.py")), text)?;
    }
    Ok(total)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The measured cost of each thing that crosses the boundary, in seconds.
struct Costs {
    /// One invocation (fresh store, instantiate, call, results back).
    invocation: f64,
    /// One plan node's input (node, context, config, feature names).
    node: f64,
    /// One whole candidate (site) not yet assessed.
    plain: f64,
    /// One whole candidate with features and evidence.
    assessed: f64,
    /// One slim candidate (id, features, confidence).
    slim: f64,
}

/// Feature names like the matcher's.
const FEATURES: [&str; 15] = ["kind", "source", "tables", "keys", "key_set", "columns", "literals", "functions", "aggregates", "udfs", "limit", "lexical", "lineage", "plan_file", "window"];

/// What each crossing costs, from the no-op plugin on batches of each shape.
async fn calibrate(runtime: &Runtime, caps: &Arc<JobCapabilities>) -> anyhow::Result<Costs> {
    let dir = option_env!("PLANMAP_TEST_WASM_DIR").ok_or_else(|| anyhow::anyhow!("the no-op test plugin was not built"))?;
    let bytes = std::fs::read(format!("{dir}/chaos_scorer.wasm"))?;
    let p = runtime.load("no-op", &bytes, "bench")?;
    let names: Vec<String> = FEATURES.iter().map(|n| n.to_string()).collect();
    let full = || Assessed {
        features: vec![0.5; FEATURES.len()],
        evidence: FEATURES[..7].iter().map(|n| Evidence { signal: n.to_string(), weight: 0.5, detail: format!("{n} {{customer_id, amount}} appear in the code (100% of the plan's)") }).collect(),
        confidence: 0.5,
        explanation: "keys {customer_id} appear in the code; a `join` operation can produce a SortMergeJoin node".into(),
    };
    #[derive(Clone, Copy)]
    enum Shape {
        Plain,
        Full,
        Slim,
    }
    let time = |nodes: usize, n: usize, shape: Shape| {
        let (p, full, names) = (&p, &full, &names);
        async move {
            let batch = || {
                let whole = |i: usize, assessed: Option<Assessed>| Candidate { site: synthetic_site(i), retrieval_score: 1.0, assessed };
                match shape {
                    Shape::Plain => ((0..n).map(|i| whole(i, None)).collect(), vec![]),
                    Shape::Full => ((0..n).map(|i| whole(i, Some(full()))).collect(), vec![]),
                    Shape::Slim => {
                        let scored = Assessed { features: vec![0.5; FEATURES.len()], evidence: vec![], confidence: 0.5, explanation: String::new() };
                        (vec![], (0..n).map(|i| crate::pipeline::slim_candidate(&whole(i, Some(scored.clone())))).collect())
                    }
                }
            };
            let v = time_invocations(runtime, p, caps, r#"{"mode":"ok","confidence":0.5}"#, CALIBRATION_RUNS, nodes, names, batch).await?;
            anyhow::Ok(median(v).as_secs_f64())
        }
    };
    let one = time(1, 0, Shape::Plain).await?;
    let node = ((time(9, 0, Shape::Plain).await? - one) / 8.0).max(0.0);
    let per = |t: f64| ((t - one) / 20.0).max(0.0);
    Ok(Costs {
        invocation: (one - node).max(0.0),
        node,
        plain: per(time(1, 20, Shape::Plain).await?),
        assessed: per(time(1, 20, Shape::Full).await?),
        slim: per(time(1, 20, Shape::Slim).await?),
    })
}

pub fn run(nodes: usize, lines: usize) -> anyhow::Result<ExitCode> {
    // One core: a single-threaded runtime, everything on it.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("planmap-bench-repo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let written = write_repo(&dir, lines)?;
        let t = Instant::now();
        let ctx = crate::repo::build(&dir, &[], "bench").map_err(|e| anyhow::anyhow!("{e}"))?;
        let indexed = t.elapsed();
        let index = Arc::new(ctx.memory_index());
        let _ = std::fs::remove_dir_all(&dir);
        println!("repository: {written} lines, {} sites, indexed in {:.0} ms (not part of the target)", ctx.sites.len(), indexed.as_secs_f64() * 1e3);

        let text = synthetic_formatted(nodes);
        let plan = plan::parse(PlanInput::Bytes(Arc::from(text.into_bytes())), &ParseOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let owned = plan.nodes.iter().filter(|n| n.ownership == crate::plan::Ownership::Owned).count();
        println!("plan: {} nodes ({owned} code-owned)", plan.nodes.len());

        let runtime = crate::config::runtime(None, false)?;
        let registry = Registry::open(runtime, Sources::default()).map_err(|e| anyhow::anyhow!(e.join("\n")))?;
        let caps = Arc::new(JobCapabilities::new(index, Arc::new(MemoryCache::new())));
        let job = Job {
            runtime: &registry.runtime,
            snapshot: registry.snapshot(),
            graph: "default".into(),
            caps: caps.clone(),
            ctx: RunContext { analysis_id: "bench".into(), ..Default::default() },
            thresholds: Thresholds::default(),
            parallel: mapping::LOCAL_PARALLEL_NODES,
            step_checkpoints: false,
            commit: ctx.commit.clone(),
        };
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..RUNS {
            let t = Instant::now();
            let r = mapping::map_plan(&job, &plan, &|_, _| {}).await?;
            times.push(t.elapsed());
            last = Some(r);
        }
        let r = last.expect("RUNS > 0");
        let best = *times.iter().min().expect("RUNS > 0");
        let mapped = r.mappings.iter().filter(|m| m.mapped_code.is_some()).count();
        println!("map: best {:.0} ms, median {:.0} ms over {RUNS} runs ({:.2} ms per node); {mapped} nodes located", best.as_secs_f64() * 1e3, median(times).as_secs_f64() * 1e3, best.as_secs_f64() * 1e3 / plan.nodes.len() as f64);
        let tm = &r.timing;
        let k = calibrate(&registry.runtime, &caps).await?;
        let plain = tm.candidates_in - tm.assessed_in - tm.slim_in;
        let boundary = tm.invocations as f64 * k.invocation + tm.steps as f64 * k.node + plain as f64 * k.plain + tm.assessed_in as f64 * k.assessed + tm.slim_in as f64 * k.slim;
        let last_ms = r.summary.ms / 1e3;
        println!(
            "last run: {} invocations serving {} node steps, {:.0} ms in plugin invocations (of which {:.0} ms in host capabilities); candidates handed in: {} whole, {} whole assessed, {} slim",
            tm.invocations, tm.steps, tm.plugin.as_secs_f64() * 1e3, tm.host.as_secs_f64() * 1e3, plain, tm.assessed_in, tm.slim_in
        );
        println!(
            "boundary: {:.1} µs per invocation + {:.2} µs per node input + {:.2} / {:.2} / {:.2} µs per whole / whole assessed / slim candidate -> about {:.1} ms, {:.1} % of the run",
            k.invocation * 1e6, k.node * 1e6, k.plain * 1e6, k.assessed * 1e6, k.slim * 1e6, boundary * 1e3, 100.0 * boundary / last_ms.max(1e-9)
        );
        Ok(ExitCode::SUCCESS)
    })
}
