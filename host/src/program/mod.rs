//! Which program ran. A plan comes from one program: an entry (a script, a notebook, a
//! JVM `main`, a `.sql` file a runner executes) and what it imports, runs or reads.
//! Real repositories hold many look-alike programs — the same job per format, per
//! engine or per version, tutorials, monorepos — and only Spark code makes Spark
//! plans (other engines' files were left out of the index). Every candidate program is
//! scored on how much of the whole plan it explains; the plan is mapped inside the best
//! one, and rivals that explain it about as well are kept, so the answer can say the
//! question is open and list both.

mod explain;

use crate::plan::{Ownership, Plan};
use crate::repo::files::FileInfo;
use crate::repo::RepoContext;
use explain::{NodeFacts, SiteFacts};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Files one program may span (a deeper closure is a whole monorepo, not a program).
const MAX_PROGRAM_FILES: usize = 400;
/// Import hops followed from an entry.
const MAX_DEPTH: usize = 8;
/// Programs kept in a resolution (the chosen one, its rivals, and the runners-up whose
/// weights are in the posterior).
const MAX_RANKED: usize = 12;
/// Rivals mapped beside the chosen program (each is a mapping run).
pub const MAX_RIVALS: usize = 2;
/// A node the chosen program explains this badly (not even an operation of its kind)
/// may still be found elsewhere: see `Params::fallback`.
const FALLBACK_BELOW: f64 = 0.34;

/// How candidate programs are weighed; fitted on the evaluation set (see
/// `tests/fixtures/public/README.md`).
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Posterior sharpness: weight ∝ exp(sharpness × score).
    pub sharpness: f64,
    /// Rivals are programs within this much of the best score.
    pub rival_margin: f64,
    /// Lost by a `.sql` file nothing reads when the repository has Spark code that
    /// could have run it another way (a reference query beside the real job).
    pub unread_sql: f64,
    /// Lost by a root that is neither an entry nor used by one (a helper module).
    pub not_entry: f64,
    /// Gained by a program holding the file the event log's call site names.
    pub call_site: f64,
    /// Gained by a program that sets the application name the event log records.
    pub app_name: f64,
    /// A node the chosen program cannot explain (below 0.34) is looked up in the rest of
    /// the repository when a file there explains it at least this well.
    pub fallback: f64,
    /// Lost by a program in a language that cannot produce the plan's operators
    /// (`BatchEvalPython` needs Python; `MapElements` a JVM lambda).
    pub language: f64,
    /// Gained, times the share of the plan's column names and aliases the program's
    /// code names anywhere: of look-alike scripts, the one that names `age2` made the
    /// plan that outputs it.
    pub names: f64,
    /// Gained by a program declaring a JVM class the plan names (a typed lambda's
    /// `chapter6.Example6_3$$Lambda$…`, a bean encoder's `class chapter6.Usage`).
    pub jvm_class: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { sharpness: 40.0, rival_margin: 0.03, unread_sql: 0.08, not_entry: 0.02, call_site: 0.25, app_name: 0.1, fallback: 0.7, language: 0.3, names: 0.1, jvm_class: 0.3 }
    }
}

/// What an event log says about the program, beyond the plan.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// `collect at /path/jobs/q3.py:45`: the call site of the action (any frame).
    pub call_sites: Vec<String>,
    pub app_name: Option<String>,
    pub description: Option<String>,
}

impl Hints {
    pub fn from_plan(plan: &Plan) -> Hints {
        let Some(e) = &plan.execution else { return Hints::default() };
        let sites = [Some(e.call_site.clone()), Some(e.description.clone()), e.submitted.clone()];
        Hints { call_sites: sites.into_iter().flatten().filter(|s| !s.is_empty()).collect(), app_name: e.app_name.clone(), description: Some(e.description.clone()).filter(|d| !d.is_empty()) }
    }
}

/// One candidate program: an entry and the files it reaches.
#[derive(Debug, Clone)]
struct Candidate {
    entry: usize,
    files: Vec<usize>,
    /// A `.sql` file nothing in the repository runs, beside Spark code that could have.
    unread_sql: bool,
    /// A helper module nothing uses, not an entry.
    not_entry: bool,
}

/// The repository's candidate programs with what resolution needs of its sites,
/// built once per repository context.
pub struct Programs {
    files: Vec<FileInfo>,
    /// Site indexes (positions in the context, = ids in its code index) by file.
    file_sites: Vec<Vec<u32>>,
    site_file: Vec<u32>,
    sites: Vec<SiteFacts>,
    /// Sites by kind, so a node compares only with sites that can produce it.
    by_kind: HashMap<String, Vec<u32>>,
    candidates: Vec<Candidate>,
    /// Candidates each file belongs to.
    of_file: Vec<Vec<u32>>,
    /// The files whose code names each column, table or string (lowercase base names).
    names: HashMap<String, Vec<u32>>,
}

/// A term worth comparing by name: an identifier of two characters or more, not a
/// number.
fn name_like(t: &str) -> bool {
    t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !t.bytes().all(|b| b.is_ascii_digit())
}

/// Packages of the JVM and of Spark itself, whose classes no user program declares.
const PLATFORM_PACKAGES: &[&str] = &["java.", "javax.", "jdk.", "sun.", "scala.", "org.apache.", "com.databricks.", "io.delta.", "com.fasterxml.", "org.json4s."];

/// The user classes a plan names (`main.java.chapter6.Example6_3$$Lambda$3019/0x…`,
/// `newInstance(class x.y.Usage)`, `obj#5: x.y.Usage`): simple names, once each.
fn plan_classes(plan: &Plan) -> Vec<String> {
    static QUALIFIED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| regex::Regex::new(r"\b((?:[a-z_][A-Za-z0-9_]*\.)+)([A-Z][A-Za-z0-9_]*)(?:\$[A-Za-z0-9_$]*)?").expect("a valid pattern"));
    let mut out: Vec<String> = Vec::new();
    for n in &plan.nodes {
        for c in QUALIFIED.captures_iter(&n.fragment) {
            let (pkg, name) = (&c[1], &c[2]);
            if !PLATFORM_PACKAGES.iter().any(|p| pkg.starts_with(p)) {
                out.push(name.to_string());
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The column names and aliases a plan shows, once each.
fn plan_names(plan: &Plan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .nodes
        .iter()
        .flat_map(|n| {
            let s = &n.semantics;
            s.columns.iter().chain(&s.output_columns).chain(&s.aliases).chain(&s.grouping_keys).chain(&s.left_keys).chain(&s.right_keys).chain(&s.window_partition)
        })
        .map(|c| planmap_plugin_sdk::base_name(c))
        .filter(|c| name_like(c))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

impl Programs {
    pub fn build(ctx: &RepoContext) -> Programs {
        let files = ctx.files.clone();
        let by_path: HashMap<&str, usize> = files.iter().enumerate().map(|(i, f)| (f.path.as_str(), i)).collect();
        let mut file_sites = vec![Vec::new(); files.len()];
        let mut site_file = Vec::with_capacity(ctx.sites.len());
        let mut by_kind: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, s) in ctx.sites.iter().enumerate() {
            let f = by_path.get(s.file.as_str()).copied().unwrap_or(usize::MAX);
            site_file.push(f as u32);
            if f != usize::MAX {
                file_sites[f].push(i as u32);
            }
            by_kind.entry(s.kind.clone()).or_default().push(i as u32);
        }
        let sites = ctx.sites.iter().map(SiteFacts::of).collect();
        let used: HashSet<usize> = files.iter().flat_map(|f| f.uses.iter().copied()).collect();
        let spark_code = files.iter().enumerate().any(|(i, f)| f.language != "sql" && !file_sites[i].is_empty() && f.engine == crate::repo::python::Engine::Spark);
        let read_by_spark: HashSet<usize> = files.iter().filter(|f| f.language != "sql").flat_map(|f| f.uses.iter().copied()).collect();
        let mut candidates = Vec::new();
        for (i, f) in files.iter().enumerate() {
            // Roots: entries, and what nothing uses (a job module a runner imports by
            // name at run time, a `.sql` file run from outside the repository).
            // Only Spark code (or a query file) can have been what ran; a neutral helper
            // is part of the programs that use it.
            let root = f.entry || !used.contains(&i);
            if !root || matches!(f.engine, crate::repo::python::Engine::Other(_)) {
                continue;
            }
            let reach = closure(&files, i);
            let is_spark = |c: usize| files[c].engine == crate::repo::python::Engine::Spark || files[c].language == "sql";
            if !reach.iter().any(|&c| is_spark(c) && !file_sites[c].is_empty()) {
                continue;
            }
            let unread_sql = f.language == "sql" && spark_code && !read_by_spark.contains(&i);
            let not_entry = !f.entry && f.language == "python";
            // A runner of many query files is one program per query it runs.
            let (queries, rest): (Vec<usize>, Vec<usize>) = reach.iter().partition(|&&c| files[c].language == "sql" && c != i);
            if queries.len() > 1 {
                // Each with the views it reads from the other query files.
                for q in queries {
                    let mut fs = rest.clone();
                    fs.extend(closure(&files, q));
                    fs.sort_unstable();
                    fs.dedup();
                    candidates.push(Candidate { entry: i, files: fs, unread_sql, not_entry });
                }
            } else {
                candidates.push(Candidate { entry: i, files: reach, unread_sql, not_entry });
            }
        }
        let mut of_file = vec![Vec::new(); files.len()];
        for (k, c) in candidates.iter().enumerate() {
            for &f in &c.files {
                of_file[f].push(k as u32);
            }
        }
        let mut names: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, site) in ctx.sites.iter().enumerate() {
            let f = site_file[i];
            if f == u32::MAX {
                continue;
            }
            for t in site.columns.iter().chain(&site.tables).chain(&site.literals) {
                let b = planmap_plugin_sdk::base_name(t);
                if name_like(&b) {
                    let v = names.entry(b).or_default();
                    if v.last() != Some(&f) {
                        v.push(f);
                    }
                }
            }
        }
        for v in names.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        Programs { files, file_sites, site_file, sites, by_kind, candidates, of_file, names }
    }

    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }
}

/// Everything `entry` reaches through imports, runs and reads, itself first.
fn closure(files: &[FileInfo], entry: usize) -> Vec<usize> {
    let mut seen = vec![entry];
    let mut frontier = vec![entry];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for &f in &frontier {
            for &u in &files[f].uses {
                if !seen.contains(&u) && !matches!(files[u].engine, crate::repo::python::Engine::Other(_)) {
                    seen.push(u);
                    next.push(u);
                }
            }
        }
        if next.is_empty() || seen.len() >= MAX_PROGRAM_FILES {
            break;
        }
        frontier = next;
    }
    seen.truncate(MAX_PROGRAM_FILES);
    seen.sort_unstable();
    seen
}

/// A program in a resolution.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ranked {
    /// The entry file.
    pub entry: String,
    /// Every file of the program (entry included).
    pub files: Vec<String>,
    /// Share of the plan it explains, after priors and event-log evidence.
    pub score: f64,
    /// Posterior weight among the ranked programs.
    pub weight: f64,
    /// Why it ranks where it does, for explanations.
    pub evidence: Vec<String>,
    /// Site ids inside the program (the code index's numbering), for scoped search.
    #[serde(skip)]
    pub sites: Arc<Vec<bool>>,
}

/// The programs that may have produced a plan, best first.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    /// The chosen program first, then its rivals (mapped as alternatives), then the
    /// rest of the ranking.
    pub programs: Vec<Ranked>,
    /// How many after the first are rivals.
    pub rivals: usize,
    /// Candidate programs in the repository.
    pub candidates: usize,
    pub ms: f64,
}

impl Resolution {
    pub fn chosen(&self) -> Option<&Ranked> {
        self.programs.first()
    }

    /// The chosen program's weight plus that of every rival whose answer for a node
    /// is the same place (`same(i)` for rival i), as the chance that place is right
    /// as far as the program goes.
    pub fn agreement(&self, same: impl Fn(usize) -> bool) -> f64 {
        let total: f64 = self.programs.iter().map(|p| p.weight).sum::<f64>().max(1e-9);
        let mut w = self.programs.first().map(|p| p.weight).unwrap_or(1.0);
        for i in 1..=self.rivals {
            if same(i) {
                w += self.programs[i].weight;
            }
        }
        (w / total).min(1.0)
    }
}

/// Rank the candidate programs for `plan`.
pub fn resolve(programs: &Programs, plan: &Plan, hints: &Hints, params: &Params) -> Resolution {
    let t = std::time::Instant::now();
    let nodes: Vec<NodeFacts> = plan.nodes.iter().filter(|n| n.ownership == Ownership::Owned).map(NodeFacts::of).filter(|n| n.weight > 0.0).collect();
    let ncand = programs.candidates.len();
    let mut score = vec![0.0f64; ncand];
    let mut total_weight = 0.0;
    // Per node: the best compatibility in each file (sparse, through a scratch row).
    let mut per_file = vec![0.0f64; programs.files.len()];
    let mut touched: Vec<usize> = Vec::new();
    let mut per_cand = vec![0.0f64; ncand];
    let mut cand_touched: Vec<usize> = Vec::new();
    let mut best_file_of_node: Vec<Vec<(u32, f64)>> = Vec::with_capacity(nodes.len());
    let mut seen: HashMap<String, Vec<(u32, f64)>> = HashMap::new();
    for n in &nodes {
        total_weight += n.weight;
        let key = n.key();
        let files_here = match seen.get(&key) {
            Some(v) => v.clone(),
            None => {
                for kind in planmap_plugin_sdk::kinds_for_operator(n.family, &n.operator) {
                    let affinity = planmap_plugin_sdk::operator_affinity(n.family, &n.operator, kind);
                    if affinity == 0.0 {
                        continue;
                    }
                    for &s in programs.by_kind.get(*kind).map(Vec::as_slice).unwrap_or(&[]) {
                        let f = programs.site_file[s as usize] as usize;
                        if f == u32::MAX as usize {
                            continue;
                        }
                        let v = explain::compat_with(n, &programs.sites[s as usize], affinity);
                        if v > per_file[f] {
                            if per_file[f] == 0.0 {
                                touched.push(f);
                            }
                            per_file[f] = v;
                        }
                    }
                }
                let mut v: Vec<(u32, f64)> = touched.iter().map(|&f| (f as u32, per_file[f])).collect();
                v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                for &f in &touched {
                    per_file[f] = 0.0;
                }
                touched.clear();
                seen.insert(key, v.clone());
                v
            }
        };
        for &(f, v) in &files_here {
            for &c in &programs.of_file[f as usize] {
                let c = c as usize;
                if v > per_cand[c] {
                    if per_cand[c] == 0.0 {
                        cand_touched.push(c);
                    }
                    per_cand[c] = v;
                }
            }
        }
        for &c in &cand_touched {
            score[c] += n.weight * per_cand[c];
            per_cand[c] = 0.0;
        }
        cand_touched.clear();
        best_file_of_node.push(files_here);
    }
    let norm = total_weight.max(1e-9);
    // The share of the plan's names each candidate's code names.
    let wanted = plan_names(plan);
    let mut named = vec![0u32; ncand];
    let mut stamp = vec![u32::MAX; ncand];
    for (w, name) in wanted.iter().enumerate() {
        for &f in programs.names.get(name).map(Vec::as_slice).unwrap_or(&[]) {
            for &c in &programs.of_file[f as usize] {
                if stamp[c as usize] != w as u32 {
                    stamp[c as usize] = w as u32;
                    named[c as usize] += 1;
                }
            }
        }
    }
    let classes = plan_classes(plan);
    let needs = languages_needed(plan);
    let mut evidence: Vec<Vec<String>> = vec![Vec::new(); ncand];
    for (k, c) in programs.candidates.iter().enumerate() {
        score[k] /= norm;
        if !wanted.is_empty() {
            score[k] += params.names * named[k] as f64 / wanted.len() as f64;
        }
        if c.unread_sql {
            score[k] -= params.unread_sql;
            evidence[k].push("a query file nothing in the repository runs".into());
        }
        if c.not_entry {
            score[k] -= params.not_entry;
        }
        for (lang, why, strength) in &needs {
            if !c.files.iter().any(|&f| lang.contains(&programs.files[f].language.as_str())) {
                score[k] -= params.language * strength;
                evidence[k].push(format!("it has no {} code, and the plan's {why}", lang.join("/")));
            }
        }
        let holds = |pred: &dyn Fn(&FileInfo) -> bool| c.files.iter().any(|&f| pred(&programs.files[f]));
        for site in &hints.call_sites {
            if holds(&|f: &FileInfo| call_site_names(site, &f.path)) {
                score[k] += params.call_site;
                evidence[k].push(format!("the event log's call site `{site}` is in this program"));
                break;
            }
        }
        if let Some(class) = classes.iter().find(|k| holds(&|f: &FileInfo| f.classes.iter().any(|d| d == *k))) {
            score[k] += params.jvm_class;
            evidence[k].push(format!("it declares `{class}`, a class the plan names"));
        }
        if let Some(app) = &hints.app_name
            && holds(&|f: &FileInfo| f.app_names.iter().any(|a| a == app)) {
                score[k] += params.app_name;
                evidence[k].push(format!("it names the application `{app}`, as the event log does"));
            }
    }
    let mut order: Vec<usize> = (0..ncand).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(programs.candidates[a].files.len().cmp(&programs.candidates[b].files.len())).then(a.cmp(&b)));
    // Programs that would be mapped to the same files are one answer: keep the best.
    let footprint = |k: usize| -> Vec<u32> {
        let files: HashSet<usize> = programs.candidates[k].files.iter().copied().collect();
        let mut fp: Vec<u32> = best_file_of_node.iter().filter_map(|fs| fs.iter().find(|(f, _)| files.contains(&(*f as usize))).map(|(f, _)| *f)).collect();
        fp.sort_unstable();
        fp.dedup();
        fp
    };
    let mut kept: Vec<(usize, Vec<u32>)> = Vec::new();
    for &k in order.iter() {
        if kept.len() >= MAX_RANKED {
            break;
        }
        let fp = footprint(k);
        if kept.iter().any(|(_, f)| *f == fp) {
            continue;
        }
        kept.push((k, fp));
    }
    let top = kept.first().map(|(k, _)| score[*k]).unwrap_or(0.0);
    let weights: Vec<f64> = kept.iter().map(|(k, _)| (params.sharpness * (score[*k] - top)).exp()).collect();
    let wsum: f64 = weights.iter().sum::<f64>().max(1e-12);
    let rivals = kept.iter().skip(1).take(MAX_RIVALS).filter(|(k, _)| score[*k] >= top - params.rival_margin).count();
    let mut ranked: Vec<Ranked> = kept
        .iter()
        .zip(&weights)
        .map(|((k, _), w)| {
            let c = &programs.candidates[*k];
            Ranked {
                entry: programs.files[c.entry].path.clone(),
                files: c.files.iter().map(|&f| programs.files[f].path.clone()).collect(),
                score: score[*k],
                weight: w / wsum,
                evidence: evidence[*k].clone(),
                sites: Arc::new(mask(programs, &c.files)),
            }
        })
        .collect();
    // Nodes the chosen program cannot explain at all may come from a file the program
    // graph missed (a dynamic import): let the file that explains them well in.
    if let Some(first) = kept.first() {
        let files: HashSet<usize> = programs.candidates[first.0].files.iter().copied().collect();
        let mut extra: Vec<usize> = Vec::new();
        for fs in &best_file_of_node {
            let inside = fs.iter().find(|(f, _)| files.contains(&(*f as usize))).map(|(_, v)| *v).unwrap_or(0.0);
            // Only a file no program runs on its own (a module imported at run time by
            // name): an entry elsewhere is a look-alike, not a missed import.
            if inside < FALLBACK_BELOW
                && let Some((f, v)) = fs.first()
                && *v >= params.fallback && !files.contains(&(*f as usize)) && !programs.files[*f as usize].entry {
                    extra.push(*f as usize);
                }
        }
        if !extra.is_empty() {
            extra.sort_unstable();
            extra.dedup();
            let mut all: Vec<usize> = files.into_iter().chain(extra.iter().copied()).collect();
            all.sort_unstable();
            ranked[0].sites = Arc::new(mask(programs, &all));
            ranked[0].evidence.push(format!("{} plan node(s) are explained only outside it, by {}", extra.len(), extra.iter().map(|&f| programs.files[f].path.as_str()).collect::<Vec<_>>().join(", ")));
        }
    }
    Resolution { programs: ranked, rivals, candidates: ncand, ms: t.elapsed().as_secs_f64() * 1e3 }
}

/// For each code-owned node, the site of `files` that explains it best and how well:
/// (node id, family, `file:line kind`, compatibility). For `planmap program --explain`.
pub fn detail(programs: &Programs, plan: &Plan, files: &[String], sites: &[crate::repo::Site]) -> Vec<(String, &'static str, String, f64)> {
    let want: HashSet<usize> = programs.files.iter().enumerate().filter(|(_, f)| files.contains(&f.path)).map(|(i, _)| i).collect();
    plan.nodes
        .iter()
        .filter(|n| n.ownership == Ownership::Owned)
        .map(|n| {
            let facts = NodeFacts::of(n);
            let mut best: Option<(u32, f64)> = None;
            for kind in planmap_plugin_sdk::kinds_for_operator(facts.family, &facts.operator) {
                for &s in programs.by_kind.get(*kind).map(Vec::as_slice).unwrap_or(&[]) {
                    if !want.contains(&(programs.site_file[s as usize] as usize)) {
                        continue;
                    }
                    let v = explain::compat(&facts, &programs.sites[s as usize]);
                    if best.is_none_or(|(_, b)| v > b) {
                        best = Some((s, v));
                    }
                }
            }
            let (at, v) = match best {
                Some((s, v)) => {
                    let site = &sites[s as usize];
                    (format!("{}:{} {}", site.file, site.line_start, site.kind), v)
                }
                None => ("-".into(), 0.0),
            };
            (n.id.clone(), facts.family, at, v)
        })
        .collect()
}

/// Operators only one kind of program produces: Python UDF evaluation and pandas
/// functions need Python; typed lambdas (`MapElements`, `DeserializeToObject`) a JVM
/// language.
fn languages_needed(plan: &Plan) -> Vec<(&'static [&'static str], String, f64)> {
    const PYTHON: &[&str] = &["BatchEvalPython", "ArrowEvalPython", "FlatMapGroupsInPandas", "MapInPandas", "MapInArrow", "PythonMapInArrow", "AggregateInPandas", "FlatMapCoGroupsInPandas", "WindowInPandas", "FlatMapGroupsInArrow", "FlatMapCoGroupsInArrow"];
    const JVM: &[&str] = &["MapElements", "DeserializeToObject", "SerializeFromObject", "MapPartitions", "AppendColumns", "AppendColumnsWithObject", "MapGroups", "CoGroup", "FlatMapGroupsWithState"];
    let mut out: Vec<(&'static [&'static str], String, f64)> = Vec::new();
    if let Some(n) = plan.nodes.iter().find(|n| PYTHON.contains(&n.spark_operator.as_str())) {
        out.push((&["python", "notebook"], format!("{} runs Python", n.operator), 1.0));
    } else if let Some(n) = plan.nodes.iter().find(|n| n.operator == "Scan ExistingRDD") {
        // PySpark's `createDataFrame(rows)` goes through an RDD; the JVM's
        // `Seq(...).toDF()` is a LocalTableScan. A JVM job can still scan an RDD.
        out.push((&["python", "notebook"], format!("{} is how PySpark reads local rows", n.operator), 0.5));
    }
    if let Some(n) = plan.nodes.iter().find(|n| JVM.contains(&n.spark_operator.as_str())) {
        out.push((&["scala", "java"], format!("{} runs a JVM lambda", n.operator), 1.0));
    }
    out
}

fn mask(programs: &Programs, files: &[usize]) -> Vec<bool> {
    let mut m = vec![false; programs.sites.len()];
    for &f in files {
        for &s in &programs.file_sites[f] {
            m[s as usize] = true;
        }
    }
    m
}

/// Whether a call site (`collect at /tmp/x/jobs/q3.py:45`, a stack frame) names `path`
/// (relative to the repository): the call site's path ends with it.
pub(crate) fn call_site_names(site: &str, path: &str) -> bool {
    let s = site.rsplit_once(" at ").map(|(_, s)| s).unwrap_or(site);
    let file = s.rsplit_once(':').filter(|(_, l)| l.chars().all(|c| c.is_ascii_digit())).map(|(f, _)| f).unwrap_or(s);
    let file = file.trim();
    !file.is_empty() && (file == path || file.ends_with(&format!("/{path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_names_the_user_classes_of_its_lambdas_and_encoders() {
        let text = "== Physical Plan ==\n* SerializeFromObject (3)\n+- MapElements (2)\n   +- * Scan ExistingRDD (1)\n\n\n(1) Scan ExistingRDD\nOutput [1]: [uid#3]\nArguments: [uid#3], MapPartitionsRDD[4] at createDataFrame at Job.java:20, ExistingRDD, UnknownPartitioning(0)\n\n(2) MapElements\nArguments: main.java.jobs.Example6_3$$Lambda$3019/0x00007f@39aaa7db, obj#58: java.lang.Double\n\n(3) SerializeFromObject\nArguments: newInstance(class main.java.jobs.Usage), scala.Tuple2\n";
        let plan = crate::plan::parse(crate::plan::PlanInput::Bytes(text.as_bytes().into()), &Default::default()).unwrap();
        assert_eq!(plan_classes(&plan), vec!["Example6_3".to_string(), "Usage".to_string()]);
    }

    #[test]
    fn call_sites_name_files_by_their_tail() {
        assert!(call_site_names("collect at /tmp/planmap-public/x/jobs/q3.py:45", "jobs/q3.py"));
        assert!(!call_site_names("collect at /tmp/x/other/q3.py:45", "jobs/q3.py"));
        assert!(!call_site_names("csv at NativeMethodAccessorImpl.java:0", "jobs/q3.py"));
        assert!(call_site_names("jobs/q3.py:12", "jobs/q3.py"));
    }
}
