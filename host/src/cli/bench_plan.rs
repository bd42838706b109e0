//! `planmap bench plan`: parse a synthetic N-node EXPLAIN FORMATTED plan and stream a
//! large synthetic event log, reporting time, throughput and peak memory.

use crate::plan::{self, ParseOptions, PlanInput};
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Peak resident memory of this process (VmHWM), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A formatted plan of about `n` nodes: a Union over branches of
/// HashAggregate ← Exchange ← HashAggregate ← Filter ← Scan, with detail blocks.
pub fn synthetic_formatted(n: usize) -> String {
    let branches = (n.saturating_sub(1) / 5).max(1);
    let mut tree = String::from("== Physical Plan ==\n");
    let mut details = String::new();
    let total = branches * 5 + 1;
    let _ = writeln!(tree, "Union ({total})");
    let mut id = 0;
    for b in 0..branches {
        let last = b + 1 == branches;
        let (lead, pad) = if last { ("+- ", "   ") } else { (":- ", ":  ") };
        let ids: Vec<usize> = (0..5).map(|k| id + 5 - k).collect();
        let names = ["HashAggregate", "Exchange", "HashAggregate", "Filter", "Scan parquet db.table_"];
        for (depth, (nid, name)) in ids.iter().zip(names).enumerate() {
            let indent = format!("{pad}{}", "   ".repeat(depth.saturating_sub(1)));
            let prefix = if depth == 0 { lead.to_string() } else { format!("{indent}+- ") };
            let star = if name == "Exchange" || name.starts_with("Scan") { "" } else { "* " };
            let label = if name.starts_with("Scan") { format!("{name}{b}") } else { name.to_string() };
            let _ = writeln!(tree, "{prefix}{star}{label} ({nid})");
        }
        let s = id + 1;
        let _ = write!(details, "({s}) Scan parquet db.table_{b}\\nOutput [3]: [k_{b}#{s}, v#{}, d#{}]\\nBatched: true\\nLocation: InMemoryFileIndex [s3://bucket/table_{b}]\\nPushedFilters: [IsNotNull(k_{b}), GreaterThan(v,{b})]\\nReadSchema: struct<k_{b}:int,v:double,d:date>\\n\\n", s + 1, s + 2);
        let _ = write!(details, "({}) Filter [codegen id : {b}]\\nInput [3]: [k_{b}#{s}, v#{}, d#{}]\\nCondition : (isnotnull(k_{b}#{s}) AND (v#{} > {b}.0))\\n\\n", s + 1, s + 1, s + 2, s + 1);
        let _ = write!(details, "({}) HashAggregate [codegen id : {b}]\\nInput [2]: [k_{b}#{s}, v#{}]\\nKeys [1]: [k_{b}#{s}]\\nFunctions [1]: [partial_sum(v#{})]\\nAggregate Attributes [1]: [sum#{}]\\nResults [2]: [k_{b}#{s}, sum#{}]\\n\\n", s + 2, s + 1, s + 1, s + 9, s + 9);
        let _ = write!(details, "({}) Exchange\\nInput [2]: [k_{b}#{s}, sum#{}]\\nArguments: hashpartitioning(k_{b}#{s}, 200), ENSURE_REQUIREMENTS, [plan_id={b}]\\n\\n", s + 3, s + 9);
        let _ = write!(details, "({}) HashAggregate [codegen id : {b}]\\nInput [2]: [k_{b}#{s}, sum#{}]\\nKeys [1]: [k_{b}#{s}]\\nFunctions [1]: [sum(v#{})]\\nAggregate Attributes [1]: [sum(v#{})#{}]\\nResults [2]: [k_{b}#{s}, sum(v#{})#{} AS total_{b}#{}]\\n\\n", s + 4, s + 9, s + 1, s + 1, s + 10, s + 1, s + 10, s + 11);
        id += 5;
    }
    let _ = write!(details, "({total}) Union\\n\\n");
    tree.push('\n');
    tree + &details.replace("\\n", "\n")
}

/// A log of about `log_mib` MiB in which one SQL execution runs every task (its task-end
/// events repeated), then that execution read with its metrics: the worst case for
/// metrics extraction, since every task line of the chosen execution is parsed.
fn metrics(log_mib: u64) -> anyhow::Result<()> {
    let seed = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/hotspots/logs/sessions_by_user-planted.zstd"));
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut r = std::io::BufReader::new(crate::plan::eventlog_open(&seed)?);
    let mut buf = Vec::new();
    while r.read_until(b'\n', &mut buf)? > 0 {
        lines.push(std::mem::take(&mut buf));
    }
    let has = |l: &[u8], what: &str| l.windows(what.len()).take(200).any(|w| w == what.as_bytes());
    let start = lines.iter().position(|l| has(l, "SparkListenerSQLExecutionStart")).ok_or_else(|| anyhow::anyhow!("{}: no SQL execution", seed.display()))?;
    let end = lines.iter().position(|l| has(l, "SparkListenerSQLExecutionEnd")).unwrap_or(lines.len());
    let tasks: Vec<&Vec<u8>> = lines[start..end].iter().filter(|l| has(l, "SparkListenerTaskEnd")).collect();
    anyhow::ensure!(!tasks.is_empty(), "{}: the execution ran no tasks", seed.display());
    let dir = std::env::temp_dir().join(format!("planmap-bench-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("tasks-eventlog");
    let mut task_lines = 0u64;
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let target = log_mib << 20;
        let mut written = 0u64;
        for l in &lines[..end] {
            w.write_all(l)?;
            written += l.len() as u64;
        }
        while written < target {
            for l in &tasks {
                w.write_all(l)?;
                written += l.len() as u64;
                task_lines += 1;
            }
        }
        for l in &lines[end..] {
            w.write_all(l)?;
        }
    }
    drop(lines);
    let size = std::fs::metadata(&path)?.len() as f64 / (1 << 20) as f64;
    let rss_before = peak_rss_mib();
    let t = Instant::now();
    let p = plan::parse(PlanInput::Path(&path), &ParseOptions { execution: Some(0), ..Default::default() })?;
    let secs = t.elapsed().as_secs_f64();
    let most_tasks = p.metrics.nodes.values().flat_map(|n| n.metrics.iter()).filter_map(|m| m.tasks).max().unwrap_or(0);
    println!("\n## metrics: {size:.0} MiB log, {task_lines} task-end events of one execution");
    println!("read execution 0 with its metrics: {secs:.2} s ({:.0} MiB/s, one pass); {} nodes with metrics, up to {most_tasks} task updates per metric", size / secs, p.metrics.nodes.len());
    println!("peak RSS: {rss_before:.1} MiB before, {:.1} MiB after", peak_rss_mib());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

pub fn run(log_mib: u64, seed_log: Option<PathBuf>, nodes: usize) -> anyhow::Result<ExitCode> {
    // 1. The event log first, so peak memory reflects streaming alone.
    let seed = seed_log.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/plans/generated/eventlog/local-run.zstd")));
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut r = std::io::BufReader::new(crate::plan::eventlog_open(&seed)?);
    let mut buf = Vec::new();
    while r.read_until(b'\n', &mut buf)? > 0 {
        lines.push(std::mem::take(&mut buf));
    }
    let dir = std::env::temp_dir().join(format!("planmap-bench-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("big-eventlog");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let mut written = 0u64;
        let target = log_mib << 20;
        'outer: loop {
            for l in &lines {
                w.write_all(l)?;
                written += l.len() as u64;
                if written >= target {
                    break 'outer;
                }
            }
        }
    }
    drop(lines);
    let size = std::fs::metadata(&path)?.len() as f64 / (1 << 20) as f64;
    let rss_before = peak_rss_mib();
    let t = Instant::now();
    let execs = plan::list_executions(&path)?;
    let list_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let p = plan::parse(PlanInput::Path(&path), &ParseOptions::default())?;
    let select_s = t.elapsed().as_secs_f64();
    let rss_after = peak_rss_mib();
    println!("## event log: {size:.0} MiB uncompressed, {} SQL executions", execs.len());
    println!("list executions: {list_s:.2} s ({:.0} MiB/s)", size / list_s);
    println!("select + parse the largest ({} nodes): {select_s:.2} s ({:.0} MiB/s; two passes)", p.nodes.len(), 2.0 * size / select_s);
    println!("peak RSS: {rss_before:.1} MiB before, {rss_after:.1} MiB after (the log is {size:.0} MiB)");
    let _ = std::fs::remove_dir_all(&dir);

    // 2. Metrics: one execution whose tasks fill the log, read with its accumulators.
    metrics(log_mib)?;

    // 3. A large formatted plan, parsed repeatedly.
    let text = synthetic_formatted(nodes);
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let p = plan::parse_text(&text)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        count = p.nodes.len();
    }
    times.sort_by(f64::total_cmp);
    println!("\n## formatted plan: {count} nodes, {:.1} MiB of text", text.len() as f64 / (1 << 20) as f64);
    println!("parse: p50 {:.1} ms, min {:.1} ms, max {:.1} ms (20 runs)", times[10], times[0], times[19]);
    println!("peak RSS of the process: {:.1} MiB", peak_rss_mib());
    Ok(ExitCode::SUCCESS)
}
