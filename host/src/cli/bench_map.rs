//! `planmap bench map`: the main job's speed target — a plan of about 300 nodes mapped
//! against a generated repository of about 100k lines, after indexing, on one core —
//! and how much of it is spent crossing the wasm boundary.
//!
//! The boundary share is measured, not estimated: every built-in plugin marks where
//! its own work starts and ends in an invocation (`log.mark`), and the runtime counts
//! the rest of the invocation (instantiation, copying inputs in and decoding them,
//! encoding results and copying them out) as boundary time.

use super::bench_plan::synthetic_formatted;
use crate::capabilities::{JobCapabilities, MemoryCache};
use crate::mapping::{self, Job, Thresholds};
use crate::pipeline::RunContext;
use crate::plan::{self, ParseOptions, PlanInput};
use crate::snapshot::{Registry, Sources};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Lines per generated module: a typical ETL module size.
const MODULE_LINES: usize = 400;

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

pub fn run(nodes: usize, lines: usize, runs: usize) -> anyhow::Result<ExitCode> {
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
        let t = Instant::now();
        let programs = Arc::new(crate::program::Programs::build(&ctx));
        println!("programs: {} candidates, built in {:.1} ms", programs.len(), t.elapsed().as_secs_f64() * 1e3);
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
            // One batch in flight: on one core more buys nothing, and invocations that
            // overlap would count each other's time in the boundary measurement.
            parallel: crate::pipeline::MAX_BATCH,
            step_checkpoints: false,
            programs: Some(programs.clone()),
            commit: ctx.commit.clone(),
        };
        let mut times = Vec::new();
        let mut shares = Vec::new();
        let mut last = None;
        let mut split_before = Default::default();
        for _ in 0..runs {
            split_before = registry.runtime.boundary_split();
            let t = Instant::now();
            let r = mapping::map_plan(&job, &plan, &|_, _| {}).await?;
            times.push(t.elapsed());
            shares.push(r.timing.boundary.as_secs_f64() * 1e3 / r.summary.ms.max(1e-9));
            last = Some(r);
        }
        let r = last.expect("runs >= 1");
        let best = *times.iter().min().expect("runs >= 1");
        let mapped = r.mappings.iter().filter(|m| m.mapped_code.is_some()).count();
        println!("map: best {:.0} ms, median {:.0} ms over {runs} runs ({:.2} ms per node); {mapped} nodes located", best.as_secs_f64() * 1e3, median(times).as_secs_f64() * 1e3, best.as_secs_f64() * 1e3 / plan.nodes.len() as f64);
        if let Some(res) = &r.program {
            println!("program resolution (in the run): {:.1} ms over {} candidates; {} rival program(s) mapped beside the chosen one", res.ms, res.candidates, res.rivals);
        }
        shares.sort_by(f64::total_cmp);
        println!("boundary share over {runs} runs: median {:.1} %, lowest {:.1} %, highest {:.1} %", 100.0 * shares[shares.len() / 2], 100.0 * shares[0], 100.0 * shares[shares.len() - 1]);
        let tm = &r.timing;
        let run_ms = r.summary.ms;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "last run: {} invocations serving {} node steps; {:.0} ms in plugin invocations (of which {:.0} ms in host capabilities); {} candidates handed in (ids and numbers), {} sites in matcher tables",
            tm.invocations, tm.steps, ms(tm.plugin), ms(tm.host), tm.candidates_in, tm.sites_in
        );
        println!(
            "last run's boundary (measured outside the plugins' marks: packing, instantiation, inputs in, results out, teardown): {:.1} ms, {:.1} % of the {:.0} ms run{}",
            ms(tm.boundary), 100.0 * ms(tm.boundary) / run_ms.max(1e-9), run_ms,
            if tm.unmarked > 0.0 { format!("; {:.0} invocations were not measured (their plugins do not mark)", tm.unmarked) } else { String::new() }
        );
        // Where the boundary time goes, by graph node (the explanation call at the end is
        // not a graph step: it is the rest).
        let by_node = &tm.boundary_by_node;
        let stepped: f64 = by_node.values().map(|(_, b)| b).sum();
        let parts: Vec<String> = by_node.iter().map(|(n, (k, b))| format!("{n} {b:.1} ms ({:.1} µs per node step)", 1e3 * b / *k as f64)).collect();
        println!("boundary by graph node: {}; the matchers' explanations at the end: {:.1} ms", parts.join(", "), ms(tm.boundary) - stepped);
        let after = registry.runtime.boundary_split();
        println!("boundary by call and phase (ms: packing inputs on the host, instantiation, inputs copied in and decoded, results encoded and copied out, teardown):");
        for ((name, now), before) in planmap_runtime::invoke::SPLIT_CALLS.iter().zip(&after).zip(&split_before) {
            let d = now.since(before);
            println!("  {name:<8} {:>5.2} = {:.2} + {:.2} + {:.2} + {:.2} + {:.2}", ms(d.total()), ms(d.pack), ms(d.instantiate), ms(d.inputs_in), ms(d.results_out), ms(d.teardown));
        }
        Ok(ExitCode::SUCCESS)
    })
}
