//! Spark event logs: JSON lines, compressed or not, single files or rolling
//! (`eventlog_v2_*`) and Databricks-delivery folders. Read as a stream: only SQL
//! execution events are parsed; memory is bounded by the largest single event.

use super::accumulators::{Accumulators, SETTINGS};
use super::codec;
use super::model::ExecutionInfo;
use super::raw::{link, RawNode};
use super::PlanError;
use memchr::memmem;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const START: &str = "SparkListenerSQLExecutionStart";
const UPDATE: &str = "SparkListenerSQLAdaptiveExecutionUpdate";
const APP_START: &str = "SparkListenerApplicationStart";
const ENVIRONMENT: &str = "SparkListenerEnvironmentUpdate";
const END: &str = "SparkListenerSQLExecutionEnd";
const TASK_END: &str = "SparkListenerTaskEnd";
const DRIVER_ACCUM: &str = "SparkListenerDriverAccumUpdates";

/// Where an event log's bytes come from; re-openable so it can be read twice.
#[derive(Clone)]
pub enum LogSource {
    /// Files read in order, each with its own codec.
    Files(Vec<PathBuf>),
    /// An in-memory log (e.g. an uploaded body).
    Bytes(Arc<[u8]>),
}

impl LogSource {
    fn open(&self) -> Result<Box<dyn Read + '_>, PlanError> {
        match self {
            LogSource::Bytes(b) => Ok(codec::decode(&b[..]).map_err(PlanError::io("event log"))?),
            LogSource::Files(files) => {
                let mut chain: Box<dyn Read> = Box::new(std::io::empty());
                for f in files {
                    let r = codec::open(f).map_err(PlanError::io(&f.display().to_string()))?;
                    chain = Box::new(chain.chain(r));
                }
                Ok(chain)
            }
        }
    }

    /// Describe for messages.
    pub fn describe(&self) -> String {
        match self {
            LogSource::Bytes(b) => format!("event log ({} bytes)", b.len()),
            LogSource::Files(f) if f.len() == 1 => f[0].display().to_string(),
            LogSource::Files(f) => format!("{} ({} files)", f[0].parent().map(|p| p.display().to_string()).unwrap_or_default(), f.len()),
        }
    }
}

/// Resolve a path to the files of one event log: a file, a rolling `eventlog_v2_*`
/// folder (`events_N_*` in N order), or a Databricks folder (`eventlog-<date>[.gz]`
/// parts in time order, then the current `eventlog`).
pub fn resolve(path: &Path) -> Result<LogSource, PlanError> {
    if path.is_file() {
        return Ok(LogSource::Files(vec![path.to_path_buf()]));
    }
    let entries = std::fs::read_dir(path).map_err(PlanError::io(&path.display().to_string()))?;
    let files: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    let name = |p: &PathBuf| p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
    let mut rolling: Vec<(u64, PathBuf)> = files
        .iter()
        .filter_map(|p| {
            let n = name(p);
            let rest = n.strip_prefix("events_")?;
            Some((rest.split('_').next()?.parse().ok()?, p.clone()))
        })
        .collect();
    if !rolling.is_empty() {
        rolling.sort();
        return Ok(LogSource::Files(rolling.into_iter().map(|(_, p)| p).collect()));
    }
    let mut parts: Vec<PathBuf> = files.iter().filter(|p| name(p).starts_with("eventlog-")).cloned().collect();
    parts.sort();
    if let Some(current) = files.iter().find(|p| name(p) == "eventlog") {
        parts.push(current.clone());
    }
    if parts.is_empty() {
        return Err(PlanError::NoPlan(format!(
            "{} is a folder but not an event log folder (expected events_N_* files of a rolling log, or eventlog / eventlog-<date> parts)",
            path.display()
        )));
    }
    Ok(LogSource::Files(parts))
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "Event")]
    event: String,
    #[serde(rename = "executionId")]
    execution_id: Option<i64>,
    description: Option<String>,
    details: Option<String>,
    #[serde(rename = "physicalPlanDescription")]
    plan: Option<String>,
    #[serde(rename = "sparkPlanInfo")]
    info: Option<PlanInfo>,
    #[serde(rename = "App Name")]
    app_name: Option<String>,
    #[serde(rename = "System Properties")]
    system: Option<HashMap<String, String>>,
    #[serde(rename = "Spark Properties")]
    spark: Option<serde_json::Value>,
    #[serde(rename = "accumUpdates")]
    accum_updates: Option<Vec<(i64, serde_json::Value)>>,
}

/// A task-end event: most of a log's lines, so it has its own small type (read with
/// serde's default nesting limit: a task event is a few levels deep).
#[derive(Deserialize)]
struct TaskEnd {
    #[serde(rename = "Stage ID")]
    stage: Option<i64>,
    #[serde(rename = "Task Info")]
    task: Option<TaskInfo>,
    #[serde(rename = "Task Metrics")]
    task_metrics: Option<TaskMetrics>,
}

#[derive(Deserialize)]
struct TaskInfo {
    #[serde(rename = "Accumulables", default)]
    accumulables: Vec<Accumulable>,
}

#[derive(Deserialize)]
struct Accumulable {
    #[serde(rename = "ID")]
    id: i64,
    #[serde(rename = "Update", default, deserialize_with = "number_or_text")]
    update: Option<f64>,
}

/// An accumulator update: a number (task metrics) or a numeric string (SQL metrics),
/// read without building a JSON value.
fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number or a numeric string")
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

#[derive(Deserialize)]
struct TaskMetrics {
    #[serde(rename = "Executor Run Time")]
    run_ms: Option<f64>,
}

/// One metric of a plan node: which accumulator carries it.
#[derive(Deserialize, Clone)]
pub struct MetricDef {
    pub name: String,
    #[serde(rename = "accumulatorId")]
    pub accumulator: i64,
    #[serde(rename = "metricType", default)]
    pub metric_type: String,
}

/// `sparkPlanInfo`: the plan tree as Spark's UI sees it.
#[derive(Deserialize, Clone)]
pub struct PlanInfo {
    #[serde(rename = "nodeName")]
    pub node_name: String,
    #[serde(rename = "simpleString", default)]
    pub simple_string: String,
    #[serde(default)]
    pub children: Vec<PlanInfo>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(rename = "explainId")]
    pub explain_id: Option<serde_json::Value>,
    #[serde(default)]
    pub metrics: Vec<MetricDef>,
}

impl PlanInfo {
    fn count(&self) -> usize {
        1 + self.children.iter().map(|c| c.count()).sum::<usize>()
    }
    fn is_final(&self) -> bool {
        self.simple_string.contains("isFinalPlan=true")
    }
}

/// The plan of one execution as the log carries it.
pub struct ExecutionPlan {
    pub info: ExecutionInfo,
    pub description: Option<String>,
    pub tree: Option<PlanInfo>,
    /// Which event the plan came from.
    pub source: String,
    /// The metric values gathered in the same pass (shared by the executions read).
    pub accumulators: Arc<Accumulators>,
}

/// How deeply an event's JSON may nest. A plan tree is two levels per operator
/// (object, children), so this admits plans 2000 operators deep; Spark's own UI gives up
/// long before. serde_json's default (128) would drop any plan deeper than ~60.
const MAX_EVENT_DEPTH: usize = 4096;

/// Stack for parsing events: deserializing a plan recurses once per level, about
/// 1 KiB each in a release build, so `MAX_EVENT_DEPTH` levels fit with room to spare.
/// Only the pages a deep event touches are ever committed.
const PARSE_STACK_BYTES: usize = 64 << 20;

/// How deeply `line` nests (objects and arrays), ignoring brackets inside strings.
fn json_depth(line: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in line {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// One event, with no recursion limit but `MAX_EVENT_DEPTH` (checked first). The
/// flag says whether the line ended early (a truncated log rather than one bad event).
fn parse_event(line: &[u8]) -> Result<Event, (String, bool)> {
    let depth = json_depth(line);
    if depth > MAX_EVENT_DEPTH {
        return Err((format!("nested {depth} levels deep, more than the {MAX_EVENT_DEPTH} planmap reads"), false));
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    de.disable_recursion_limit();
    let ev = Event::deserialize(&mut de).and_then(|ev| de.end().map(|_| ev));
    ev.map_err(|e| (e.to_string(), e.is_eof()))
}

/// Call each SQL execution event of the log, in order, on a thread whose stack holds
/// the deepest plan `MAX_EVENT_DEPTH` admits.
/// A line read: a SQL or application event, or a task's end.
enum Parsed {
    Event(Event),
    Task(TaskEnd),
}

/// Task-end events are read only while `tasks` is set (a kept execution is running):
/// they are most of a log's lines.
fn scan(source: &LogSource, tasks: &AtomicBool, f: impl FnMut(Parsed) + Send) -> Result<usize, PlanError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("eventlog-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(s, || scan_here(source, tasks, f))
            .map_err(PlanError::io("event log parser thread"))?
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn scan_here(source: &LogSource, tasks: &AtomicBool, mut f: impl FnMut(Parsed)) -> Result<usize, PlanError> {
    let reader = source.open()?;
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let start = memmem::Finder::new(START);
    let update = memmem::Finder::new(UPDATE);
    let app = memmem::Finder::new(APP_START);
    let env = memmem::Finder::new(ENVIRONMENT);
    let end = memmem::Finder::new(END);
    let task_end = memmem::Finder::new(TASK_END);
    let driver = memmem::Finder::new(DRIVER_ACCUM);
    let mut line = Vec::with_capacity(1 << 16);
    let mut lines = 0usize;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(PlanError::io(&source.describe()))?;
        if n == 0 {
            break;
        }
        lines += 1;
        // Only SQL execution events are parsed; the filter is a substring search.
        let head = &line[..line.len().min(160)];
        if task_end.find(head).is_some() {
            if tasks.load(Ordering::Relaxed) {
                match serde_json::from_slice::<TaskEnd>(&line) {
                    Ok(t) => f(Parsed::Task(t)),
                    Err(e) => tracing::warn!("{}: skipping unreadable task event on line {lines}: {e}", source.describe()),
                }
            }
            continue;
        }
        let wanted = start.find(head).is_some() || update.find(head).is_some() || app.find(head).is_some() || env.find(head).is_some() || end.find(head).is_some() || driver.find(head).is_some();
        if !wanted {
            continue;
        }
        match parse_event(&line) {
            Ok(ev) if [START, UPDATE, END, DRIVER_ACCUM].iter().any(|e| ev.event.ends_with(e)) || [APP_START, ENVIRONMENT].contains(&ev.event.as_str()) => f(Parsed::Event(ev)),
            Ok(_) => {}
            Err((e, eof)) if lines == 1 || eof => {
                return Err(PlanError::Malformed(format!("{}: line {lines} is not a complete JSON event: {e}", source.describe())));
            }
            Err((e, _)) => tracing::warn!("{}: skipping unreadable event on line {lines}: {e}", source.describe()),
        }
    }
    if lines == 0 {
        return Err(PlanError::Empty);
    }
    Ok(lines)
}

/// The user's call site from an execution's description (`collect at etl.py:53`) or
/// the first non-framework frame of its details.
fn call_site(description: &str, details: &str) -> String {
    if let Some((_, site)) = description.rsplit_once(" at ") {
        return site.to_string();
    }
    details
        .lines()
        .map(str::trim)
        .find(|l| !["org.apache.spark", "java.", "jdk.", "scala.", "sun.", "py4j.", "com.databricks"].iter().any(|p| l.starts_with(p)))
        .unwrap_or("")
        .to_string()
}

#[derive(Default)]
struct Acc {
    info: Option<ExecutionInfo>,
    plan: Option<(String, Option<PlanInfo>, bool, String)>,
}

/// List every SQL execution: id, description, call site, node count of its final plan.
pub fn list(source: &LogSource) -> Result<Vec<ExecutionInfo>, PlanError> {
    Ok(collect(source, &|_| false)?.0.into_values().filter_map(|a| a.info).collect())
}

/// One pass over the log: every execution's listing, and the plans of those `keep` picks.
fn collect(source: &LogSource, keep: &(dyn Fn(i64) -> bool + Sync)) -> Result<(BTreeMap<i64, Acc>, Accumulators), PlanError> {
    let mut execs: BTreeMap<i64, Acc> = BTreeMap::new();
    let (mut app_name, mut submitted) = (None, None);
    let mut accs = Accumulators::default();
    let tasks = AtomicBool::new(false);
    let lines = scan(source, &tasks, |parsed| {
        let ev = match parsed {
            Parsed::Task(t) => {
                if let (Some(stage), Some(task)) = (t.stage, &t.task) {
                    let updates = task.accumulables.iter().filter_map(|a| Some((a.id, a.update?)));
                    accs.task_end(stage, t.task_metrics.as_ref().and_then(|m| m.run_ms), updates);
                }
                return;
            }
            Parsed::Event(ev) => ev,
        };
        if ev.event == APP_START {
            app_name = ev.app_name.clone();
            return;
        }
        if ev.event == ENVIRONMENT {
            submitted = ev.system.as_ref().and_then(|s| s.get("sun.java.command")).and_then(|c| submitted_entry(c));
            accs.settings = settings(ev.spark.as_ref());
            return;
        }
        let Some(id) = ev.execution_id else { return };
        if ev.event.ends_with(END) {
            accs.active.remove(&id);
            tasks.store(!accs.active.is_empty(), Ordering::Relaxed);
            return;
        }
        if ev.event.ends_with(DRIVER_ACCUM) {
            if keep(id) {
                accs.driver(ev.accum_updates.as_deref().unwrap_or(&[]));
            }
            return;
        }
        if keep(id) {
            if let Some(info) = &ev.info {
                accs.register(id, info);
            }
            accs.active.insert(id);
            tasks.store(true, Ordering::Relaxed);
        }
        let acc = execs.entry(id).or_default();
        let is_start = ev.event.ends_with(START);
        let info = acc.info.get_or_insert_with(|| ExecutionInfo { id, description: String::new(), call_site: String::new(), nodes: 0, updates: 0, app_name: None, submitted: None, ran_before: None });
        if is_start {
            info.description = ev.description.clone().unwrap_or_default();
            info.call_site = call_site(info.description.as_str(), ev.details.as_deref().unwrap_or(""));
        } else {
            info.updates += 1;
        }
        let is_final = ev.info.as_ref().map(|i| i.is_final()).unwrap_or(false);
        // Keep the last final plan; a later non-final update does not replace it.
        let replace = match &acc.plan {
            None => true,
            Some((_, _, was_final, _)) => is_final || !*was_final,
        };
        if replace {
            info.nodes = ev.info.as_ref().map(|i| i.count()).unwrap_or(0);
            let src = if is_start { "SQLExecutionStart".to_string() } else { format!("SQLAdaptiveExecutionUpdate #{}", info.updates) };
            if keep(id) {
                acc.plan = Some((ev.plan.unwrap_or_default(), ev.info, is_final, src));
            } else {
                acc.plan = Some((String::new(), None, is_final, src));
            }
        }
    })?;
    if execs.is_empty() {
        return Err(PlanError::NoPlan(format!("{}: no SQL executions in {lines} events (the application ran no DataFrame or SQL query)", source.describe())));
    }
    // Executions start in id order: one whose call site names no line ran before the
    // next one that names a line.
    let mut next_named: Option<String> = None;
    for acc in execs.values_mut().rev() {
        if let Some(info) = acc.info.as_mut() {
            info.app_name.clone_from(&app_name);
            info.submitted.clone_from(&submitted);
            if super::call_site_line(&info.call_site).is_some() {
                next_named = Some(info.call_site.clone());
            } else {
                info.ran_before.clone_from(&next_named);
            }
        }
    }
    Ok((execs, accs))
}

/// The settings the cost findings read, from the environment event's Spark properties
/// (an object in current logs, a list of pairs in old ones).
fn settings(props: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: &serde_json::Value| {
        if SETTINGS.contains(&k) && let Some(v) = v.as_str() {
            out.insert(k.to_string(), v.to_string());
        }
    };
    match props {
        Some(serde_json::Value::Object(m)) => m.iter().for_each(|(k, v)| put(k, v)),
        Some(serde_json::Value::Array(pairs)) => pairs.iter().filter_map(|p| p.as_array()).for_each(|p| if let [k, v] = &p[..] { put(k.as_str().unwrap_or(""), v) }),
        _ => {}
    }
    out
}

/// The user's program in the JVM's command line (`SparkSubmit … --class x.Main app.jar`,
/// `SparkSubmit … jobs/q3.py args`); `pyspark-shell` (a `python` process) names none.
fn submitted_entry(command: &str) -> Option<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    if let Some(i) = words.iter().position(|w| *w == "--class") {
        return words.get(i + 1).map(|c| c.to_string());
    }
    words.iter().find(|w| [".py", ".jar", ".scala", ".R"].iter().any(|e| w.ends_with(e))).map(|w| w.to_string())
}

/// The chosen execution's final plan: `execution`, else the one with the most nodes.
pub fn select(source: &LogSource, execution: Option<i64>) -> Result<(ExecutionPlan, String), PlanError> {
    let (id, why, (mut execs, accs)) = match execution {
        // A named execution needs one pass: keep its plan while listing the rest.
        Some(id) => {
            let (execs, accs) = collect(source, &|e| e == id)?;
            if !execs.contains_key(&id) {
                let ids: Vec<String> = execs.keys().map(|e| e.to_string()).collect();
                return Err(PlanError::NoExecution { id, available: ids.join(", ") });
            }
            (id, format!("execution {id} (as requested)"), (execs, accs))
        }
        // The largest is only known at the end: list, then read its plan.
        None => {
            let listing = list(source)?;
            let best = listing.iter().max_by_key(|e| (e.nodes, -e.id)).expect("collect() returns at least one execution");
            let why = format!("execution {} (the one with most nodes, {}, of {} executions; another can be chosen by its id)", best.id, best.nodes, listing.len());
            let best = best.id;
            (best, why, collect(source, &|e| e == best)?)
        }
    };
    let acc = execs.remove(&id).expect("checked above");
    Ok((acc.into_plan(&Arc::new(accs)), why))
}

/// The plans of the executions `ids` names, in id order, in one pass over the log.
pub fn select_many(source: &LogSource, ids: &std::collections::BTreeSet<i64>) -> Result<Vec<ExecutionPlan>, PlanError> {
    let (execs, accs) = collect(source, &|e| ids.contains(&e))?;
    if let Some(missing) = ids.iter().find(|id| !execs.contains_key(id)) {
        let ids: Vec<String> = execs.keys().map(|e| e.to_string()).collect();
        return Err(PlanError::NoExecution { id: *missing, available: ids.join(", ") });
    }
    let accs = Arc::new(accs);
    Ok(execs.into_iter().filter(|(id, _)| ids.contains(id)).map(|(_, acc)| acc.into_plan(&accs)).collect())
}

impl Acc {
    fn into_plan(self, accumulators: &Arc<Accumulators>) -> ExecutionPlan {
        let info = self.info.expect("every listed execution has info");
        let (text, tree, _, src) = self.plan.expect("every listed execution has a plan");
        ExecutionPlan { info, description: if text.trim().is_empty() { None } else { Some(text) }, tree, source: src, accumulators: accumulators.clone() }
    }
}

/// Raw nodes from a `sparkPlanInfo` tree (used when the text description is missing
/// or unreadable). Databricks `explainId`s become ids.
pub fn raw_from_info(root: &PlanInfo) -> Vec<RawNode> {
    let mut nodes = Vec::new();
    fn walk(n: &PlanInfo, parent: Option<usize>, nodes: &mut Vec<RawNode>) {
        let idx = nodes.len();
        let text = if n.simple_string.is_empty() { n.node_name.clone() } else { n.simple_string.clone() };
        let mut raw = super::text::node_from_line(&text);
        raw.id = n.explain_id.as_ref().map(|v| v.to_string().trim_matches('"').to_string());
        raw.fields = n.metadata.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        raw.fields.sort();
        nodes.push(raw);
        if let Some(p) = parent {
            link(nodes, p, idx);
        }
        for c in &n.children {
            walk(c, Some(idx), nodes);
        }
    }
    walk(root, None, &mut nodes);
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_without_a_line_ran_before_the_next_one_that_names_one() {
        let log = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/public/plans/dbbench/join.zstd");
        let execs = list(&LogSource::Files(vec![log])).unwrap();
        let by_id = |id: i64| execs.iter().find(|e| e.id == id).unwrap();
        // `ans.count()` reports PySpark's bridge frame; the next named action is the
        // check query's `collect()` at line 90.
        assert_eq!(by_id(16).call_site, "NativeMethodAccessorImpl.java:0");
        assert!(by_id(16).ran_before.as_deref().is_some_and(|s| s.ends_with("spark/join-spark.py:90")), "{:?}", by_id(16).ran_before);
        // One that names its line needs no bound.
        assert!(by_id(18).call_site.ends_with("join-spark.py:90") && by_id(18).ran_before.is_none());
        let named = |s: &str| super::super::call_site_line(s).is_some();
        assert!(named("etl.py:53") && !named("NativeMethodAccessorImpl.java:0") && !named(""));
    }
}
