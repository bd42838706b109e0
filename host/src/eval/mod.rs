//! `planmap eval`: run labelled cases through the mapping pipeline and report top-1 and
//! top-3 accuracy, coverage, accuracy per operator family and per ownership,
//! calibration (expected calibration error over 10 bins, with the reliability table)
//! and time per node.
//!
//! A dataset is a folder of cases, each a folder holding `case.toml`:
//!
//! ```toml
//! plan = "plan.txt"          # any supported plan format, relative to the case folder
//! execution = 7              # optional: the SQL execution of an event log
//! eventlog = "app.zstd"      # optional: the event log the plan came from (`--plan-source eventlog`)
//! repo = "repo"              # the code, relative to the case folder, or:
//! checkout = "name"          # a checkout under $PLANMAP_CHECKOUTS (~/.cache/planmap/checkouts);
//!                            # a case whose checkout is missing is reported as skipped
//! graph = "default"          # optional
//! [[labels]]
//! node = "14"                # the plan node id as planmap reports it
//! file = "etl/orders.py"     # relative to the repo
//! lines = "40-44"            # the operation's span
//! symbol = "build_orders"    # optional, informative
//! kind = "join"              # optional, informative
//! also = [{ file = "etl/orders.py", lines = "52" }]   # other acceptable answers
//! [[labels]]
//! node = "5"
//! infrastructure = true      # the right answer is "no code owns it"
//!
//! [nodes]                    # the same, compactly: one line per node
//! "14" = "etl/orders.py:40-44 | etl/orders.py:52"   # first place, then alternatives
//! "12" = "=14"               # same answer as node 14 (a shuffle its aggregate caused)
//! "5" = "infrastructure"
//! ```
//!
//! A mapping is correct when its file matches a label's and its line range overlaps
//! the label's while spanning at most `MAX_SPAN` lines.

pub mod oracle;

use crate::capabilities::{Backends, JobCapabilities};
use crate::mapping::{self, Job, Mapping, Thresholds};
use crate::pipeline::RunContext;
use crate::plan::{self, ParseOptions, PlanInput};
use crate::repo::{self, RepoPolicy, RepoSpec};
use crate::snapshot::Registry;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A mapping longer than this many lines is too vague to count as correct.
pub const MAX_SPAN: u32 = 12;
/// Calibration bins.
pub const BINS: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub plan: PathBuf,
    pub execution: Option<i64>,
    /// The application's event log, for `--plan-source eventlog` (with `execution`).
    pub eventlog: Option<PathBuf>,
    pub repo: Option<PathBuf>,
    /// A public repository's checkout by name (see `tests/fixtures/public`).
    pub checkout: Option<String>,
    pub graph: Option<String>,
    #[serde(default)]
    pub labels: Vec<Label>,
    /// Compact labels: node id -> `file:lines | file:lines ...` or `infrastructure`.
    #[serde(default)]
    pub nodes: BTreeMap<String, String>,
}

impl Case {
    /// Every label, the compact ones expanded; errors name the node and the entry.
    pub fn all_labels(&self) -> Result<Vec<Label>, String> {
        let mut out = self.labels.clone();
        for (node, spec) in &self.nodes {
            // `=N` follows references (at most a few hops; a cycle is an error).
            let mut target = spec.trim();
            let mut hops = 0;
            while let Some(other) = target.strip_prefix('=') {
                hops += 1;
                target = self.nodes.get(other.trim()).map(|s| s.trim()).filter(|_| hops < 8).ok_or_else(|| format!("[nodes] \"{node}\" = \"{spec}\": refers to node {} which has no compact label (or the references loop)", other.trim()))?;
            }
            out.push(compact_label(node, target).map_err(|e| format!("[nodes] \"{node}\" = \"{spec}\": {e}"))?);
        }
        let mut seen = std::collections::HashSet::new();
        for l in &out {
            if !seen.insert(l.node.as_str()) {
                return Err(format!("node {} is labelled twice", l.node));
            }
        }
        Ok(out)
    }
}

/// Parse `file:lines | file:lines` or `infrastructure`.
fn compact_label(node: &str, spec: &str) -> Result<Label, String> {
    let mut label = Label { node: node.to_string(), file: None, lines: None, symbol: None, kind: None, infrastructure: false, also: vec![] };
    if spec.trim() == "infrastructure" {
        label.infrastructure = true;
        return Ok(label);
    }
    for (i, part) in spec.split('|').enumerate() {
        let (file, lines) = part.trim().rsplit_once(':').ok_or("expected file:lines")?;
        parse_lines(lines).ok_or_else(|| format!("bad line range '{lines}'"))?;
        if i == 0 {
            label.file = Some(file.to_string());
            label.lines = Some(lines.to_string());
        } else {
            label.also.push(Place { file: file.to_string(), lines: lines.to_string() });
        }
    }
    Ok(label)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub node: String,
    pub file: Option<String>,
    pub lines: Option<String>,
    pub symbol: Option<String>,
    pub kind: Option<String>,
    #[serde(default)]
    pub infrastructure: bool,
    #[serde(default)]
    pub also: Vec<Place>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub file: String,
    pub lines: String,
}

fn parse_lines(s: &str) -> Option<(u32, u32)> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let n = s.trim().parse().ok()?;
            Some((n, n))
        }
    }
}

/// Whether `(file, start, end)` answers a label.
pub fn correct(label: &Label, file: &str, start: u32, end: u32) -> bool {
    if end.saturating_sub(start) + 1 > MAX_SPAN {
        return false;
    }
    let places = label.file.iter().zip(label.lines.iter()).map(|(f, l)| (f.as_str(), l.as_str())).chain(label.also.iter().map(|p| (p.file.as_str(), p.lines.as_str())));
    for (f, l) in places {
        if let Some((a, b)) = parse_lines(l)
            && f == file && start <= b && a <= end {
                return true;
            }
    }
    false
}

/// One labelled node's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub case: String,
    /// The codebase the case belongs to (its checkout or repository folder).
    pub repo: String,
    pub node: String,
    pub family: String,
    pub ownership: String,
    pub top1: bool,
    pub top3: bool,
    pub mapped: bool,
    pub confidence: f64,
    pub status: String,
    /// The label says no code owns this node.
    pub labelled_infrastructure: bool,
    /// What planmap answered (`file:lines`), if anything.
    pub answer: Option<String>,
    /// What the label accepts (`file:lines | ...` or `infrastructure`).
    pub expected: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Group {
    pub nodes: usize,
    pub top1: f64,
    pub top3: f64,
    pub coverage: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub nodes: usize,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cases: usize,
    /// Cases not run, with why (a checkout that is not on this machine).
    pub skipped: Vec<(String, String)>,
    pub overall: Group,
    pub by_repo: BTreeMap<String, Group>,
    pub by_family: BTreeMap<String, Group>,
    pub by_ownership: BTreeMap<String, Group>,
    pub by_status: BTreeMap<String, Group>,
    pub ece: f64,
    pub reliability: Vec<Bin>,
    pub ms_per_node: f64,
    pub outcomes: Vec<Outcome>,
    /// Per candidate of each labelled code-owned node: its features and whether it is
    /// a right answer (the training data for scorer weights).
    #[serde(skip)]
    pub candidates: Vec<CandidateRow>,
}

/// One candidate, for fitting scorer weights.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateRow {
    pub case: String,
    pub repo: String,
    pub node: String,
    pub family: String,
    pub rank: usize,
    pub correct: bool,
    /// Where the candidate is (`file:lines`) and its final confidence, to read a miss.
    pub site: String,
    pub confidence: f64,
    pub features: BTreeMap<String, f64>,
}

fn group<'a>(items: impl Iterator<Item = &'a Outcome>) -> Group {
    let v: Vec<&Outcome> = items.collect();
    let n = v.len().max(1) as f64;
    Group {
        nodes: v.len(),
        top1: v.iter().filter(|o| o.top1).count() as f64 / n,
        top3: v.iter().filter(|o| o.top3).count() as f64 / n,
        coverage: v.iter().filter(|o| o.mapped).count() as f64 / n,
    }
}

fn judge(case: &str, repo: &str, label: &Label, m: &Mapping) -> Outcome {
    let (top1, top3) = if label.infrastructure {
        let ok = m.ownership == "infrastructure";
        (ok, ok)
    } else {
        let first = m.mapped_code.as_ref().is_some_and(|c| correct(label, &c.file, c.line_start, c.line_end));
        let alts = m.alternatives.iter().take(2).any(|a| correct(label, &a.file, a.line_start, a.line_end));
        (first, first || alts)
    };
    Outcome {
        case: case.to_string(),
        repo: repo.to_string(),
        node: label.node.clone(),
        family: m.family.clone(),
        ownership: m.ownership.clone(),
        top1,
        top3,
        mapped: m.mapped_code.is_some() || (label.infrastructure && m.ownership == "infrastructure"),
        confidence: m.confidence,
        status: m.status.clone(),
        labelled_infrastructure: label.infrastructure,
        answer: m.mapped_code.as_ref().map(|c| format!("{}:{}", c.file, c.lines)),
        expected: if label.infrastructure {
            "infrastructure".into()
        } else {
            label.file.iter().zip(label.lines.iter()).map(|(f, l)| format!("{f}:{l}")).chain(label.also.iter().map(|p| format!("{}:{}", p.file, p.lines))).collect::<Vec<_>>().join(" | ")
        },
    }
}

/// Calibration over mapped, non-infrastructure outcomes.
fn calibration(outcomes: &[Outcome]) -> (f64, Vec<Bin>) {
    let scored: Vec<&Outcome> = outcomes.iter().filter(|o| !o.labelled_infrastructure && o.ownership != "infrastructure" && o.mapped).collect();
    let mut bins = Vec::new();
    let mut ece = 0.0;
    for b in 0..BINS {
        let (from, to) = (b as f64 / BINS as f64, (b + 1) as f64 / BINS as f64);
        let in_bin: Vec<&&Outcome> = scored.iter().filter(|o| o.confidence >= from && (o.confidence < to || (b == BINS - 1 && o.confidence <= 1.0))).collect();
        if in_bin.is_empty() {
            bins.push(Bin { from, to, nodes: 0, mean_confidence: 0.0, accuracy: 0.0 });
            continue;
        }
        let n = in_bin.len() as f64;
        let conf = in_bin.iter().map(|o| o.confidence).sum::<f64>() / n;
        let acc = in_bin.iter().filter(|o| o.top1).count() as f64 / n;
        ece += (n / scored.len() as f64) * (conf - acc).abs();
        bins.push(Bin { from, to, nodes: in_bin.len(), mean_confidence: conf, accuracy: acc });
    }
    (ece, bins)
}

/// The case folders of a dataset (each with a case.toml), sorted.
pub fn cases(dataset: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let root = dataset.join("cases");
    let root = if root.is_dir() { root } else { dataset.to_path_buf() };
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root).map_err(|e| anyhow::anyhow!("dataset {}: {e}", root.display()))?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("case.toml").is_file()).collect();
    v.sort();
    if v.is_empty() {
        anyhow::bail!("dataset {}: no case folders with a case.toml", dataset.display());
    }
    Ok(v)
}

/// Which input of a case is the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanSource {
    /// `plan` (the EXPLAIN text).
    #[default]
    Text,
    /// `eventlog` with `execution` where the case has them (call sites, application
    /// name and job descriptions become evidence), else `plan`.
    Eventlog,
}

/// How a dataset is run.
#[derive(Default)]
pub struct Options<'a> {
    /// Use this graph for every case.
    pub graph: Option<&'a str>,
    /// Answer the model with a scripted oracle that reads the labels.
    pub oracle: Option<&'a oracle::Oracle>,
    pub plan_source: PlanSource,
    /// Where `checkout = "name"` cases find their code (default `checkouts_dir()`).
    pub checkouts: Option<PathBuf>,
    /// Only cases whose name starts with one of these.
    pub only: Vec<String>,
}

/// Where public repositories' checkouts live: `$PLANMAP_CHECKOUTS`, else
/// `~/.cache/planmap/checkouts` (see `tests/fixtures/public/checkouts.py`).
pub fn checkouts_dir() -> PathBuf {
    std::env::var_os("PLANMAP_CHECKOUTS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".cache/planmap/checkouts"))
}

/// Run every case of a dataset.
pub async fn run(dataset: &Path, registry: &Registry, backends: &Backends, graph_override: Option<&str>) -> anyhow::Result<Report> {
    run_with(dataset, registry, backends, &Options { graph: graph_override, ..Default::default() }).await
}

/// Per-job LLM budget during evaluation: generous, so a real model's spending is
/// bounded but never decides results.
const EVAL_BUDGET_USD: f64 = 5.0;

/// One codebase's index, shared by its cases.
struct Indexed {
    ctx: repo::RepoContext,
    index: Arc<crate::capabilities::MemoryIndex>,
    programs: Arc<crate::program::Programs>,
}

/// Run a dataset's cases as `opts` says.
pub async fn run_with(dataset: &Path, registry: &Registry, backends: &Backends, opts: &Options<'_>) -> anyhow::Result<Report> {
    let mut outcomes = Vec::new();
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    let mut total_ms = 0.0;
    let mut total_nodes = 0;
    let mut ran = 0;
    let dirs = cases(dataset)?;
    let checkouts = opts.checkouts.clone().unwrap_or_else(checkouts_dir);
    let mut indexed: BTreeMap<PathBuf, Indexed> = BTreeMap::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap_or_default().to_string_lossy().to_string();
        if !opts.only.is_empty() && !opts.only.iter().any(|o| name.starts_with(o.as_str())) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("case.toml"))?;
        let case: Case = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}/case.toml: {e}", dir.display()))?;
        let (repo_dir, repo_name) = match (&case.checkout, &case.repo) {
            (Some(c), _) => (checkouts.join(c), c.clone()),
            (None, Some(r)) => {
                let d = dir.join(r);
                let n = d.file_name().unwrap_or_default().to_string_lossy().to_string();
                (d, n)
            }
            (None, None) => anyhow::bail!("{}/case.toml: needs `repo` (a folder) or `checkout` (a public repository's name)", dir.display()),
        };
        if !repo_dir.is_dir() {
            skipped.push((name, format!("no checkout of `{repo_name}` at {} (bring it with tests/fixtures/public/checkouts.py)", repo_dir.display())));
            continue;
        }
        let (plan_path, execution) = match (opts.plan_source, &case.eventlog) {
            (PlanSource::Eventlog, Some(log)) => (dir.join(log), case.execution),
            _ => (dir.join(&case.plan), if case.eventlog.is_some() { None } else { case.execution }),
        };
        let popts = ParseOptions { execution, ..Default::default() };
        let p = plan::parse(PlanInput::Path(&plan_path), &popts).map_err(|e| anyhow::anyhow!("case {name}: {}: {e}", plan_path.display()))?;
        if !indexed.contains_key(&repo_dir) {
            let spec = RepoSpec { url: repo_dir.display().to_string(), ..Default::default() };
            let checkout = tokio::task::spawn_blocking(move || repo::source::acquire(&spec, &RepoPolicy::cli(), &std::env::temp_dir())).await??;
            let (ctx, _) = repo::context::load_or_build(backends, &checkout, &[], Arc::new(|_, _| {})).await.map_err(|e| anyhow::anyhow!("case {name}: {e}"))?;
            let index = Arc::new(ctx.memory_index());
            let programs = Arc::new(crate::program::Programs::build(&ctx));
            indexed.insert(repo_dir.clone(), Indexed { ctx, index, programs });
        }
        let ix = &indexed[&repo_dir];
        let labels = case.all_labels().map_err(|e| anyhow::anyhow!("{}/case.toml: {e}", dir.display()))?;
        if let Some(o) = opts.oracle {
            *o.case.lock().unwrap_or_else(|p| p.into_inner()) = (name.clone(), labels.clone());
        }
        let model = backends.job_llm(EVAL_BUDGET_USD, 0.0, vec![]);
        let caps = Arc::new(JobCapabilities::new(ix.index.clone(), backends.cache.clone()).with_llm(model));
        let job = Job {
            runtime: &registry.runtime,
            snapshot: registry.snapshot(),
            graph: opts.graph.map(str::to_string).or(case.graph.clone()).unwrap_or_else(|| "default".into()),
            caps,
            ctx: RunContext { analysis_id: format!("eval-{name}"), repo: name.clone(), ..Default::default() },
            thresholds: Thresholds::default(),
            parallel: mapping::LOCAL_PARALLEL_NODES,
            step_checkpoints: false,
            programs: Some(ix.programs.clone()),
            commit: ix.ctx.commit.clone(),
        };
        let result = mapping::map_plan(&job, &p, &|_, _| {}).await?;
        ran += 1;
        total_ms += result.summary.ms;
        total_nodes += result.mappings.len();
        for label in &labels {
            let m = result.mappings.iter().find(|m| m.dag_node_id == label.node).ok_or_else(|| anyhow::anyhow!("case {name}: label for node {} but the plan has no such node", label.node))?;
            outcomes.push(judge(&name, &repo_name, label, m));
            if !label.infrastructure {
                for (rank, c) in m.scored.iter().enumerate() {
                    candidates.push(CandidateRow {
                        case: name.clone(),
                        repo: repo_name.clone(),
                        node: label.node.clone(),
                        family: m.family.clone(),
                        rank,
                        correct: correct(label, &c.code.file, c.code.line_start, c.code.line_end),
                        site: format!("{}:{}", c.code.file, c.code.lines),
                        confidence: c.confidence,
                        features: c.features.iter().cloned().collect(),
                    });
                }
            }
        }
    }
    let (ece, reliability) = calibration(&outcomes);
    let mut by_family: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    let mut by_ownership: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    let mut by_status: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    let mut by_repo: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes.iter().filter(|o| !o.labelled_infrastructure) {
        by_repo.entry(o.repo.clone()).or_default().push(o);
    }
    for o in &outcomes {
        by_family.entry(o.family.clone()).or_default().push(o);
        by_ownership.entry(o.ownership.clone()).or_default().push(o);
        by_status.entry(o.status.clone()).or_default().push(o);
    }
    let to_groups = |m: BTreeMap<String, Vec<&Outcome>>| m.into_iter().map(|(k, v)| (k, group(v.into_iter()))).collect();
    Ok(Report {
        cases: ran,
        skipped,
        overall: group(outcomes.iter().filter(|o| !o.labelled_infrastructure)),
        by_repo: to_groups(by_repo),
        by_family: to_groups(by_family),
        by_ownership: to_groups(by_ownership),
        by_status: to_groups(by_status),
        ece,
        reliability,
        ms_per_node: if total_nodes == 0 { 0.0 } else { total_ms / total_nodes as f64 },
        outcomes,
        candidates,
    })
}

/// The report as text.
pub fn text(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let g = &r.overall;
    let _ = writeln!(s, "{} cases, {} labelled owned+induced nodes: top-1 {:.1}%, top-3 {:.1}%, coverage {:.1}%, ECE {:.3}, {:.2} ms/node", r.cases, g.nodes, g.top1 * 100.0, g.top3 * 100.0, g.coverage * 100.0, r.ece, r.ms_per_node);
    if !r.skipped.is_empty() {
        let _ = writeln!(s, "skipped {} case(s):", r.skipped.len());
        for (case, why) in &r.skipped {
            let _ = writeln!(s, "  {case}: {why}");
        }
    }
    for (title, groups) in [("repository", &r.by_repo), ("family", &r.by_family), ("ownership", &r.by_ownership), ("status", &r.by_status)] {
        let _ = writeln!(s, "\nby {title}:");
        for (k, g) in groups {
            let _ = writeln!(s, "  {k:<24} {:>4} nodes  top-1 {:>5.1}%  top-3 {:>5.1}%  coverage {:>5.1}%", g.nodes, g.top1 * 100.0, g.top3 * 100.0, g.coverage * 100.0);
        }
    }
    let _ = writeln!(s, "\nreliability (confidence bin: nodes, mean confidence, accuracy):");
    for b in r.reliability.iter().filter(|b| b.nodes > 0) {
        let _ = writeln!(s, "  {:.1}-{:.1}: {:>4}  {:.2}  {:.2}", b.from, b.to, b.nodes, b.mean_confidence, b.accuracy);
    }
    let wrong: Vec<&Outcome> = r.outcomes.iter().filter(|o| !o.top1).collect();
    if !wrong.is_empty() {
        let _ = writeln!(s, "\nnot top-1 ({}):", wrong.len());
        for o in wrong {
            let _ = writeln!(s, "  {} node {} ({}, {}, {} {:.2}): answered {}, expected {}", o.case, o.node, o.family, o.ownership, o.status, o.confidence, o.answer.as_deref().unwrap_or("nothing"), o.expected);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(file: &str, lines: &str) -> Label {
        Label { node: "1".into(), file: Some(file.into()), lines: Some(lines.into()), symbol: None, kind: None, infrastructure: false, also: vec![Place { file: "b.py".into(), lines: "30".into() }] }
    }

    #[test]
    fn correctness_needs_the_file_an_overlap_and_a_tight_span() {
        let l = label("a.py", "10-12");
        assert!(correct(&l, "a.py", 12, 14));
        assert!(!correct(&l, "a.py", 13, 14));
        assert!(!correct(&l, "c.py", 10, 12));
        assert!(correct(&l, "b.py", 30, 30), "an acceptable alternative");
        assert!(!correct(&l, "a.py", 1, 40), "a 40-line span is too vague");
    }

    fn case(nodes: &[(&str, &str)]) -> Case {
        Case { plan: "p".into(), execution: None, eventlog: None, repo: Some("r".into()), checkout: None, graph: None, labels: vec![], nodes: nodes.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect() }
    }

    #[test]
    fn compact_labels_expand_with_alternatives_and_references() {
        let c = case(&[("1", "a.py:3 | b.py:4-6"), ("2", "=1"), ("3", "infrastructure")]);
        let labels = c.all_labels().unwrap();
        let two = labels.iter().find(|l| l.node == "2").unwrap();
        assert_eq!((two.file.as_deref(), two.lines.as_deref()), (Some("a.py"), Some("3")));
        assert!(correct(two, "b.py", 5, 5), "the alternative came along");
        assert!(labels.iter().find(|l| l.node == "3").unwrap().infrastructure);
    }

    #[test]
    fn compact_labels_name_what_is_wrong() {
        let e = case(&[("1", "=9")]).all_labels().unwrap_err();
        assert!(e.contains("\"1\"") && e.contains("node 9"), "{e}");
        let e = case(&[("1", "=2"), ("2", "=1")]).all_labels().unwrap_err();
        assert!(e.contains("loop"), "{e}");
        let e = case(&[("4", "a.py:x-y")]).all_labels().unwrap_err();
        assert!(e.contains("bad line range 'x-y'"), "{e}");
        let e = case(&[("4", "a.py")]).all_labels().unwrap_err();
        assert!(e.contains("expected file:lines"), "{e}");
    }
}
