//! `planmap bench programs`: program resolution on a generated monorepo — thousands of
//! files in pipeline folders that share helper modules, the same job in several
//! formats, other engines' copies of it — timing the index, building the candidate
//! programs, and ranking them for one pipeline's plan, and checking that the right
//! pipeline wins.

use crate::plan::{self, ParseOptions, PlanInput};
use crate::program::{self, Hints, Params, Programs};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Files per pipeline folder: a job per format, a helper module, a Polars copy.
const FILES_PER_PIPELINE: usize = 5;
/// Helper modules every pipeline shares (each imports one).
const SHARED_HELPERS: usize = 20;

fn job(p: usize, fmt: &str) -> String {
    format!(
        "from pyspark.sql import SparkSession, functions as F\n\nfrom shared.helpers_{h} import clean\nfrom pipelines.p{p}.steps import enrich\n\n\
         spark = SparkSession.builder.appName(\"pipeline-{p}-{fmt}\").getOrCreate()\n\
         orders = spark.read.{fmt}(\"s3://lake/p{p}/orders_{p}\")\n\
         customers = spark.read.{fmt}(\"s3://lake/p{p}/customers_{p}\")\n\
         joined = clean(orders).join(customers, \"customer_{p}\", \"left\")\n\
         out = enrich(joined).groupBy(\"region_{p}\").agg(F.sum(\"amount_{p}\").alias(\"total_{p}\"))\n\
         out.write.mode(\"overwrite\").parquet(\"s3://lake/p{p}/report_{p}\")\n",
        h = p % SHARED_HELPERS
    )
}

fn write_repo(dir: &Path, files: usize) -> anyhow::Result<usize> {
    let pipelines = files.saturating_sub(SHARED_HELPERS) / FILES_PER_PIPELINE;
    std::fs::create_dir_all(dir.join("shared"))?;
    for h in 0..SHARED_HELPERS {
        std::fs::write(dir.join(format!("shared/helpers_{h}.py")), "from pyspark.sql import functions as F\n\n\ndef clean(df):\n    return df.filter(F.col(\"amount\") > 0).dropDuplicates()\n")?;
    }
    for p in 0..pipelines {
        let d = dir.join(format!("pipelines/p{p}"));
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("job_parquet.py"), job(p, "parquet"))?;
        std::fs::write(d.join("job_csv.py"), job(p, "csv"))?;
        std::fs::write(d.join("job_json.py"), job(p, "json"))?;
        let mut steps = String::from("from pyspark.sql import functions as F\n\n\n");
        let _ = write!(steps, "def enrich(df):\n    return df.withColumn(\"margin_{p}\", F.col(\"amount_{p}\") * 0.2)\n");
        std::fs::write(d.join("steps.py"), steps)?;
        std::fs::write(
            d.join("job_polars.py"),
            format!("import polars as pl\n\norders = pl.read_parquet(\"s3://lake/p{p}/orders_{p}\")\nout = orders.group_by(\"region_{p}\").agg(pl.sum(\"amount_{p}\"))\n"),
        )?;
    }
    Ok(SHARED_HELPERS + pipelines * FILES_PER_PIPELINE)
}

/// The plan of pipeline `p` read as JSON: a Scan of each table (parquet), the join,
/// the aggregate and the write, in EXPLAIN FORMATTED form.
fn plan_of(p: usize) -> String {
    format!(
        "== Physical Plan ==\nExecute InsertIntoHadoopFsRelationCommand (9)\n+- WriteFiles (8)\n   +- * HashAggregate (7)\n      +- Exchange (6)\n         +- * HashAggregate (5)\n            +- * Project (4)\n               +- SortMergeJoin LeftOuter (3)\n                  :- * Scan parquet  (1)\n                  +- * Scan parquet  (2)\n\n\n\
         (1) Scan parquet \nOutput [3]: [customer_{p}#1, amount_{p}#2, region_{p}#3]\nLocation: InMemoryFileIndex [s3://lake/p{p}/orders_{p}]\n\n\
         (2) Scan parquet \nOutput [1]: [customer_{p}#4]\nLocation: InMemoryFileIndex [s3://lake/p{p}/customers_{p}]\n\n\
         (3) SortMergeJoin\nLeft keys [1]: [customer_{p}#1]\nRight keys [1]: [customer_{p}#4]\nJoin type: LeftOuter\nJoin condition: None\n\n\
         (4) Project\nOutput [3]: [amount_{p}#2, region_{p}#3, (amount_{p}#2 * 0.2) AS margin_{p}#5]\n\n\
         (5) HashAggregate\nKeys [1]: [region_{p}#3]\nFunctions [1]: [partial_sum(amount_{p}#2)]\n\n\
         (6) Exchange\nArguments: hashpartitioning(region_{p}#3, 200), ENSURE_REQUIREMENTS\n\n\
         (7) HashAggregate\nKeys [1]: [region_{p}#3]\nFunctions [1]: [sum(amount_{p}#2)]\nResults [2]: [region_{p}#3, sum(amount_{p}#2) AS total_{p}#6]\n\n\
         (8) WriteFiles\n\n\
         (9) Execute InsertIntoHadoopFsRelationCommand\nArguments: s3://lake/p{p}/report_{p}, false, Parquet, Overwrite\n"
    )
}

pub fn run(files: usize) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("planmap-bench-monorepo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let written = write_repo(&dir, files)?;
    let t = Instant::now();
    let ctx = crate::repo::build(&dir, &[], "bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let indexed = t.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    println!("monorepo: {written} files ({} indexed, {} sites), indexed in {:.0} ms", ctx.files.len(), ctx.sites.len(), indexed.as_secs_f64() * 1e3);
    let t = Instant::now();
    let programs = Arc::new(Programs::build(&ctx));
    println!("programs: {} candidates, built in {:.0} ms", programs.len(), t.elapsed().as_secs_f64() * 1e3);
    let pipelines = files.saturating_sub(SHARED_HELPERS) / FILES_PER_PIPELINE;
    let mut times = Vec::new();
    let mut right = 0;
    let probes = [0, pipelines / 3, pipelines / 2, pipelines.saturating_sub(1)];
    for &p in &probes {
        let text = plan_of(p);
        let plan = plan::parse(PlanInput::Bytes(Arc::from(text.into_bytes())), &ParseOptions::default()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let t = Instant::now();
        let res = program::resolve(&programs, &plan, &Hints::default(), &Params::default());
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if res.chosen().is_some_and(|c| c.entry == format!("pipelines/p{p}/job_parquet.py")) {
            right += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    println!("resolution of a pipeline's plan among them: median {:.1} ms, worst {:.1} ms; the right pipeline and format chosen {right} of {}", times[times.len() / 2], times[times.len() - 1], probes.len());
    Ok(ExitCode::SUCCESS)
}
