//! Plan ingestion: detect the format of what the user has (EXPLAIN text of any mode,
//! event log, REST JSON, query profile, DAG node list), parse it, and normalise it into
//! plan nodes with ids, families, tree links, semantics and ownership.
//!
//! Node ids are Spark's own where the format has one: `(N)` in EXPLAIN FORMATTED,
//! `nodeId` in REST JSON, `explainId` in Databricks logs, the profile's node ids, the
//! DAG list's ids. Elsewhere (simple EXPLAIN, OSS `sparkPlanInfo`) the id is the
//! node's position in a pre-order walk from the root, starting at 0.

mod accumulators;
pub mod adaptive;
mod assemble;
mod codec;
mod dag;
pub mod eventlog;
pub mod expr;
pub mod family;
pub mod metrics;
mod model;
mod ownership;
mod profile;
mod raw;
pub mod render;
mod rest;
mod semantics;
mod text;

pub use model::{call_site_line, ExecutionInfo, Family, Ownership, Plan, PlanFormat, PlanNode, Semantics, SortKey};

use std::path::Path;
use std::sync::Arc;

/// Why a plan could not be read. Messages name what is wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the plan input is empty")]
    Empty,
    #[error("the plan input is binary data ({0}), not a plan or a known compressed event log (gzip, zstd, Spark lz4, Spark snappy)")]
    Binary(String),
    #[error("could not recognise the plan format: {0}; name the format explicitly")]
    Unknown(String),
    #[error("malformed plan: {0}")]
    Malformed(String),
    /// A choice of executions that the input cannot satisfy.
    #[error("{0}")]
    Selection(String),
    #[error("{0}")]
    NoPlan(String),
    #[error("execution {id} is not in this input (executions: {available})")]
    NoExecution { id: i64, available: String },
    #[error("cannot read {what}: {cause}")]
    Io { what: String, cause: std::io::Error },
    #[error("invalid JSON in the {what} at line {line}, column {column}: {message}")]
    Json { what: String, line: usize, column: usize, message: String },
}

impl PlanError {
    fn io(what: &str) -> impl Fn(std::io::Error) -> PlanError + '_ {
        move |cause| PlanError::Io { what: what.to_string(), cause }
    }
    fn json(what: &str, e: serde_json::Error) -> PlanError {
        PlanError::Json { what: what.into(), line: e.line(), column: e.column(), message: e.to_string() }
    }
}

/// What to read.
pub enum PlanInput<'a> {
    /// A file or an event-log folder.
    Path(&'a Path),
    /// Bytes already in memory (an HTTP body).
    Bytes(Arc<[u8]>),
}

/// Options that pick what to read.
#[derive(Debug, Clone, Default)]
pub struct ParseOptions {
    /// Skip detection.
    pub format: Option<PlanFormat>,
    /// For inputs that hold several executions (event logs, REST listings).
    pub execution: Option<i64>,
}

/// Largest plan text or JSON read into memory (event logs are streamed instead).
pub const MAX_PLAN_BYTES: u64 = 256 << 20;

/// Read and normalise a plan.
pub fn parse(input: PlanInput<'_>, opts: &ParseOptions) -> Result<Plan, PlanError> {
    let (bytes, log_source): (Option<Arc<[u8]>>, Option<eventlog::LogSource>) = match &input {
        PlanInput::Path(p) if p.is_dir() => (None, Some(eventlog::resolve(p)?)),
        PlanInput::Path(p) => {
            let mut head = [0u8; 512];
            let n = {
                use std::io::Read;
                let mut f = std::fs::File::open(p).map_err(PlanError::io(&p.display().to_string()))?;
                f.read(&mut head).map_err(PlanError::io(&p.display().to_string()))?
            };
            let looks_log = looks_like_event_log(&head[..n]);
            if opts.format == Some(PlanFormat::EventLog) || (opts.format.is_none() && looks_log) {
                (None, Some(eventlog::LogSource::Files(vec![p.to_path_buf()])))
            } else {
                let meta = std::fs::metadata(p).map_err(PlanError::io(&p.display().to_string()))?;
                if meta.len() > MAX_PLAN_BYTES {
                    return Err(PlanError::Malformed(format!("{} is {} bytes; plans other than event logs are limited to {MAX_PLAN_BYTES} bytes", p.display(), meta.len())));
                }
                (Some(Arc::from(std::fs::read(p).map_err(PlanError::io(&p.display().to_string()))?)), None)
            }
        }
        PlanInput::Bytes(b) => {
            let looks_log = looks_like_event_log(b);
            if opts.format == Some(PlanFormat::EventLog) || (opts.format.is_none() && looks_log) {
                (None, Some(eventlog::LogSource::Bytes(b.clone())))
            } else {
                (Some(b.clone()), None)
            }
        }
    };
    if let Some(src) = log_source {
        return from_event_log(&src, opts);
    }
    let bytes = bytes.expect("either bytes or a log source");
    let format = match opts.format {
        Some(f) => f,
        None => detect(&bytes)?,
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| PlanError::Binary(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    from_text(text, format, opts)
}

/// Whether bytes start with a compression codec's header (gzip, zstd, Spark's lz4 or
/// snappy): only event logs are read compressed.
pub fn is_compressed(head: &[u8]) -> bool {
    codec::sniff(head) != codec::Codec::Plain
}

/// Whether bytes start like an event log: compressed (only logs are read compressed)
/// or with an event line.
pub fn looks_like_event_log(head: &[u8]) -> bool {
    is_compressed(head) || is_event_json(head)
}

/// Whether bytes start like an event log's first line.
fn is_event_json(head: &[u8]) -> bool {
    let s = String::from_utf8_lossy(&head[..head.len().min(200)]);
    s.trim_start().starts_with("{\"Event\"")
}

/// Guess the format of in-memory bytes.
pub fn detect(bytes: &[u8]) -> Result<PlanFormat, PlanError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PlanError::Empty);
    }
    let nul = bytes.iter().take(4096).filter(|b| **b == 0).count();
    if nul > 0 {
        return Err(PlanError::Binary(format!("{nul} NUL bytes in the first 4 KiB")));
    }
    if looks_like_event_log(bytes) {
        return Ok(PlanFormat::EventLog);
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(1 << 16)]);
    let t = text.trim_start();
    if t.starts_with('[') || t.starts_with('{') {
        // JSON: look at the whole document, keys can come after a long planDescription.
        let t = String::from_utf8_lossy(bytes);
        let t = t.trim_start();
        return detect_json(t);
    }
        // A REST listing is an array of executions; a DAG list an array of nodes.
    if t.starts_with("Found ") && t.contains("WholeStageCodegen subtrees") {
        return Ok(PlanFormat::Explain); // the text parser explains why it cannot be used
    }
    let formatted = text.lines().any(|l| l.starts_with('(') && l.split_once(") ").is_some_and(|(n, _)| n[1..].chars().all(|c| c.is_ascii_digit())));
    if formatted {
        return Ok(PlanFormat::Formatted);
    }
    if text.contains("== Physical Plan ==") || text.lines().any(|l| l.trim_start().starts_with("+- ") || l.trim_start().starts_with(":- ")) {
        return Ok(PlanFormat::Explain);
    }
    // A single operator line is a valid one-node plan.
    let first = t.lines().next().unwrap_or("");
    if first.split(|c: char| !c.is_alphanumeric()).next().is_some_and(|w| family::family_of(&family::spark_name(w)) != Family::Other) {
        return Ok(PlanFormat::Explain);
    }
    Err(PlanError::Unknown(format!("text starting with {:?} is not EXPLAIN output", first.chars().take(60).collect::<String>())))
}

fn detect_json(t: &str) -> Result<PlanFormat, PlanError> {
    if t.starts_with('[') {
        // A REST listing is an array of executions; a DAG list an array of nodes.
        return Ok(if t.contains("\"nodeId\"") && t.contains("\"edges\"") { PlanFormat::Rest } else { PlanFormat::DagNodes });
    }
    if t.contains("\"graphs\"") {
        return Ok(PlanFormat::QueryProfile);
    }
    if t.contains("\"nodes\"") && (t.contains("\"nodeId\"") || t.contains("\"planDescription\"")) {
        return Ok(PlanFormat::Rest);
    }
    if let Err(e) = serde_json::from_str::<serde_json::Value>(t) {
        return Err(PlanError::json("plan", e));
    }
    Err(PlanError::Unknown("a JSON object that is neither a Spark REST execution (nodes/edges) nor a Databricks query profile (graphs)".into()))
}

fn from_text(text: &str, format: PlanFormat, opts: &ParseOptions) -> Result<Plan, PlanError> {
    let mut warnings = Vec::new();
    let mut costs = None;
    // The plan's text, where AQE's initial plan can be read beside the final one.
    let mut described: Option<std::borrow::Cow<str>> = matches!(format, PlanFormat::Explain | PlanFormat::Formatted).then_some(std::borrow::Cow::Borrowed(text));
    let (raw, source, execution) = match format {
        PlanFormat::Explain | PlanFormat::Formatted => {
            let tp = text::parse(text)?;
            warnings.extend(tp.warnings);
            (tp.nodes, tp.source, None)
        }
        PlanFormat::Rest => {
            let t = text.trim_start();
            let execs: Vec<rest::Execution> = if t.starts_with('[') {
                serde_json::from_str(text).map_err(|e| PlanError::json("REST execution list", e))?
            } else {
                vec![serde_json::from_str(text).map_err(|e| PlanError::json("REST execution", e))?]
            };
            let chosen = match opts.execution {
                Some(id) => execs.iter().find(|e| e.id == id).ok_or_else(|| PlanError::NoExecution { id, available: execs.iter().map(|e| e.id.to_string()).collect::<Vec<_>>().join(", ") })?,
                None => execs.iter().max_by_key(|e| (e.nodes.len(), -e.id)).ok_or_else(|| PlanError::NoPlan("the REST listing holds no executions".into()))?,
            };
            if execs.len() > 1 && opts.execution.is_none() {
                warnings.push(format!("the REST listing holds {} executions; execution {} (most nodes) was used", execs.len(), chosen.id));
            }
            let (raw, w) = rest::raw_nodes(chosen)?;
            warnings.extend(w);
            costs = Some(rest::metrics(chosen));
            described = Some(std::borrow::Cow::Owned(chosen.plan_description.clone()));
            let info = ExecutionInfo { id: chosen.id, description: chosen.description.clone(), call_site: chosen.description.rsplit_once(" at ").map(|(_, s)| s.to_string()).unwrap_or_default(), nodes: chosen.nodes.len(), updates: 0, app_name: None, submitted: None, ran_before: None };
            (raw, format!("REST execution {}", chosen.id), Some(info))
        }
        PlanFormat::QueryProfile => {
            let p: profile::Profile = serde_json::from_str(text).map_err(|e| PlanError::json("query profile", e))?;
            let (raw, w) = profile::raw_nodes(&p)?;
            warnings.extend(w);
            costs = Some(profile::metrics(&p));
            (raw, "Databricks query profile".into(), None)
        }
        PlanFormat::DagNodes => {
            let list: Vec<dag::DagNode> = serde_json::from_str(text).map_err(|e| PlanError::json("DAG node list", e))?;
            let (raw, w) = dag::raw_nodes(&list)?;
            warnings.extend(w);
            (raw, "DAG node list".into(), None)
        }
        PlanFormat::EventLog => unreachable!("event logs are streamed, not read as text"),
    };
    let format = if format == PlanFormat::Explain && raw.iter().any(|r| r.id.is_some()) && raw.iter().any(|r| !r.fields.is_empty()) { PlanFormat::Formatted } else { format };
    let mut plan = finish(raw, format, source, execution, warnings);
    if let Some(costs) = costs {
        plan.metrics = costs;
    }
    if let Some(described) = described {
        plan.metrics.adaptive = adaptive::changes(&described, &plan.nodes);
    }
    Ok(plan)
}

fn finish(raw: Vec<raw::RawNode>, format: PlanFormat, source: String, execution: Option<ExecutionInfo>, mut warnings: Vec<String>) -> Plan {
    let nodes = assemble::assemble(raw, &mut warnings);
    let roots = nodes.iter().filter(|n| n.parent.is_none()).map(|n| n.id.clone()).collect();
    Plan { format, nodes, roots, source, execution, warnings, metrics: metrics::PlanMetrics::none(metrics::NO_METRICS_TEXT) }
}

fn from_event_log(src: &eventlog::LogSource, opts: &ParseOptions) -> Result<Plan, PlanError> {
    let (exec, why) = eventlog::select(src, opts.execution)?;
    from_execution(exec, why)
}

/// One execution of an event log as a plan: its text description when readable, else
/// its `sparkPlanInfo` tree.
fn from_execution(exec: eventlog::ExecutionPlan, why: String) -> Result<Plan, PlanError> {
    let mut warnings = Vec::new();
    let parsed = exec.description.as_deref().map(text::parse);
    let (raw, source) = match (parsed, &exec.tree) {
        (Some(Ok(tp)), _) if !tp.nodes.is_empty() => {
            warnings.extend(tp.warnings);
            (tp.nodes, format!("{why}; {} from {}", tp.source, exec.source))
        }
        (parsed, Some(tree)) => {
            if let Some(Err(e)) = parsed {
                warnings.push(format!("physicalPlanDescription could not be read ({e}); the sparkPlanInfo tree was used"));
            }
            (eventlog::raw_from_info(tree), format!("{why}; sparkPlanInfo from {}", exec.source))
        }
        (Some(Err(e)), None) => return Err(e),
        _ => return Err(PlanError::NoPlan(format!("execution {} carries no plan", exec.info.id))),
    };
    let id = exec.info.id;
    let mut plan = finish(raw, PlanFormat::EventLog, source, Some(exec.info), warnings);
    plan.metrics = match &exec.tree {
        Some(tree) => exec.accumulators.plan_metrics(id, tree, &plan.nodes, &plan.roots),
        None => metrics::PlanMetrics::none("the event log holds no sparkPlanInfo tree for this execution, so its metrics cannot be placed on nodes"),
    };
    if let Some(text) = exec.description.as_deref() {
        plan.metrics.adaptive = adaptive::changes(text, &plan.nodes);
    }
    Ok(plan)
}

/// Which executions of an input that holds several (an event log, a REST listing) to
/// map: as `--execution` and the service's `executionId` name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executions {
    /// The one with the most nodes.
    Largest,
    Id(i64),
    All,
    /// Every execution whose description or call site contains this text (any case).
    Matching(String),
}

impl std::str::FromStr for Executions {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("give an execution id, `all`, or text of the description or call site".into());
        }
        Ok(match s.parse::<i64>() {
            Ok(id) if id >= 0 => Executions::Id(id),
            Ok(_) => return Err(format!("{s}: execution ids are zero or more")),
            Err(_) if s.eq_ignore_ascii_case("all") => Executions::All,
            Err(_) => Executions::Matching(s.to_string()),
        })
    }
}

/// Whether a file (or folder) can hold several executions: an event log or a REST
/// execution listing, as opposed to one plan (EXPLAIN text, query profile, DAG list).
pub fn holds_executions(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    let head = read_head(path, 1 << 16);
    if looks_like_event_log(&head) {
        return true;
    }
    let t = String::from_utf8_lossy(&head);
    let t = t.trim_start();
    (t.starts_with('[') || t.starts_with('{')) && detect_json(t).is_ok_and(|f| f == PlanFormat::Rest)
}

/// Read every execution `which` selects, each as its own plan, in execution order (one
/// listing pass and one reading pass over an event log, however many are chosen). A
/// single-plan input is its one plan for `Largest` and `All`.
pub fn parse_each(path: &Path, format: Option<PlanFormat>, which: &Executions) -> Result<Vec<Plan>, PlanError> {
    let single = |execution| parse(PlanInput::Path(path), &ParseOptions { format, execution }).map(|p| vec![p]);
    match which {
        Executions::Largest => return single(None),
        Executions::Id(id) => return single(Some(*id)),
        _ if !holds_executions(path) => {
            if let Executions::Matching(text) = which {
                return Err(PlanError::Selection(format!("{} holds one plan, not a list of executions: choosing executions by text ({text:?}) needs an event log or a REST execution listing", path.display())));
            }
            return single(None);
        }
        _ => {}
    }
    let listing = list_executions(path)?;
    let chosen: std::collections::BTreeSet<i64> = match which {
        Executions::Matching(text) => {
            let needle = text.to_lowercase();
            listing.iter().filter(|e| e.description.to_lowercase().contains(&needle) || e.call_site.to_lowercase().contains(&needle)).map(|e| e.id).collect()
        }
        _ => listing.iter().map(|e| e.id).collect(),
    };
    if chosen.is_empty() {
        let text = if let Executions::Matching(t) = which { t.as_str() } else { "" };
        let known: Vec<String> = listing.iter().take(20).map(|e| format!("{} ({})", e.id, if e.call_site.is_empty() { e.description.chars().take(60).collect::<String>() } else { e.call_site.clone() })).collect();
        return Err(PlanError::Selection(format!("no execution's description or call site contains {text:?}; the executions are: {}{}", known.join(", "), if listing.len() > 20 { ", …" } else { "" })));
    }
    let looks_log = path.is_dir() || looks_like_event_log(&read_head(path, 512));
    if looks_log && format.is_none_or(|f| f == PlanFormat::EventLog) {
        let src = eventlog::resolve(path)?;
        return eventlog::select_many(&src, &chosen)?.into_iter().map(|e| { let why = format!("execution {}", e.info.id); from_execution(e, why) }).collect();
    }
    chosen.iter().map(|id| parse(PlanInput::Path(path), &ParseOptions { format, execution: Some(*id) })).collect()
}

/// List the executions of an event log (or REST listing).
pub fn list_executions(path: &Path) -> Result<Vec<ExecutionInfo>, PlanError> {
    let head = read_head(path, 4096);
    // JSON that is not an event line is a REST execution or listing.
    let json = matches!(String::from_utf8_lossy(&head).trim_start().chars().next(), Some('{') | Some('['));
    if path.is_file() && json && !is_event_json(&head) {
        let text = std::fs::read_to_string(path).map_err(PlanError::io(&path.display().to_string()))?;
        let execs: Vec<rest::Execution> = if text.trim_start().starts_with('[') { serde_json::from_str(&text).map_err(|e| PlanError::json("REST execution list", e))? } else { vec![serde_json::from_str(&text).map_err(|e| PlanError::json("REST execution", e))?] };
        return Ok(execs.iter().map(|e| ExecutionInfo { id: e.id, description: e.description.clone(), call_site: e.description.rsplit_once(" at ").map(|(_, s)| s.to_string()).unwrap_or_default(), nodes: e.nodes.len(), updates: 0, app_name: None, submitted: None, ran_before: None }).collect());
    }
    eventlog::list(&eventlog::resolve(path)?)
}

/// The first `n` bytes of a file (empty for a folder or an unreadable file).
fn read_head(path: &Path, n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(n);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(n as u64).read_to_end(&mut buf);
    }
    buf
}

/// Parse EXPLAIN text directly (used by tests and benchmarks).
pub fn parse_text(text: &str) -> Result<Plan, PlanError> {
    let format = detect(text.as_bytes())?;
    from_text(text, format, &ParseOptions::default())
}

/// Open an event-log file with its codec (for tools that need the raw lines).
pub fn eventlog_open(path: &Path) -> std::io::Result<Box<dyn std::io::Read>> {
    codec::open(path)
}
