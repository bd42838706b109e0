//! Building a repository's code context: walk, parse every file by language, link
//! names, queries and data flow across files, resolve what each file uses (imports,
//! notebooks run, files read at run time), and count what was found.

use super::files::{self, FileInfo, Modules};
use super::link;
use super::notebook;
use super::python::{self, Engine, Extracted, FunctionSummary, HelperCall, PendingSql, PendingTerm};
use super::site::Site;
use super::value::{Text, Value};
use super::walk::{self, Walk};
use super::{jvm, sql};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

/// Bump when extraction changes, so cached contexts of older indexers are not reused.
pub const INDEXER_VERSION: &str = "16";

/// Everything planmap knows about one repository at one commit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RepoContext {
    pub commit: String,
    pub sites: Vec<Site>,
    /// (from, to): `from`'s DataFrame flows into `to`.
    pub edges: Vec<(String, String)>,
    /// Every indexed file: language, engine, entry, and what it uses.
    #[serde(default)]
    pub files: Vec<FileInfo>,
    pub stats: IndexStats,
}

/// What `planmap index` reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct IndexStats {
    pub files_by_language: BTreeMap<String, usize>,
    pub sites_by_kind: BTreeMap<String, usize>,
    pub skipped: BTreeMap<String, usize>,
    pub warnings: Vec<String>,
    pub lines: usize,
    pub parse_ms: f64,
}

/// Most warnings kept (one per unparseable file); the rest are counted.
const MAX_WARNINGS: usize = 100;

/// Index the files under `root` (restricted to `targets`).
pub fn build(root: &Path, targets: &[String], commit: &str) -> Result<RepoContext, String> {
    build_with_progress(root, targets, commit, &|_, _| {})
}

/// What the per-file pass leaves for linking.
#[derive(Default)]
struct Pending {
    functions: Vec<FunctionSummary>,
    calls: Vec<HelperCall>,
    consumers: HashMap<String, Vec<String>>,
    /// Per file (same order as `raws`): the module's names.
    names: Vec<HashMap<String, Value>>,
    terms: Vec<PendingTerm>,
    /// (file index, query).
    sql: Vec<(usize, PendingSql)>,
    /// (file, view name, producing sites).
    views: Vec<link::View>,
    raws: Vec<files::Raw>,
}

/// `build`, calling `progress(files done, files total)` as it goes.
pub fn build_with_progress(root: &Path, targets: &[String], commit: &str, progress: &dyn Fn(usize, usize)) -> Result<RepoContext, String> {
    let Walk { files, skipped } = walk::walk(root, targets)?;
    let total = files.len();
    let t = Instant::now();
    let mut ctx = RepoContext { commit: commit.to_string(), ..Default::default() };
    ctx.stats.skipped = skipped;
    let mut p = Pending::default();
    for (done, (path, rel)) in files.iter().enumerate() {
        progress(done, total);
        let text = match std::fs::read(path) {
            Ok(b) => match String::from_utf8(b) {
                Ok(s) => s,
                Err(_) => {
                    *ctx.stats.skipped.entry("not UTF-8 text".into()).or_default() += 1;
                    continue;
                }
            },
            Err(e) => {
                warn(&mut ctx.stats, format!("{rel}: cannot read: {e}"));
                continue;
            }
        };
        if text.as_bytes().iter().take(8000).any(|b| *b == 0) {
            *ctx.stats.skipped.entry("binary".into()).or_default() += 1;
            continue;
        }
        ctx.stats.lines += text.lines().count();
        let lang = walk::language(path).unwrap_or("other");
        *ctx.stats.files_by_language.entry(lang.to_string()).or_default() += 1;
        let mut raw = files::Raw { info: FileInfo { path: rel.clone(), language: lang.to_string(), ..Default::default() }, ..Default::default() };
        let mut sites: Vec<Site> = Vec::new();
        let mut extracted: Option<Extracted> = None;
        match lang {
            "python" => {
                let e = python::extract(&text, rel, &|row| row as u32 + 1);
                if e.parse_errors {
                    warn(&mut ctx.stats, format!("{rel}: syntax errors; sites were extracted from the parts that parse"));
                }
                if notebook::is_databricks_source(&text) {
                    for cell in notebook::databricks_sql_cells(&text) {
                        sites.extend(sql::text_sites(&Text::new(cell.source.clone(), rel, cell.first_line), "<notebook>"));
                    }
                    raw.info.language = "notebook".into();
                    raw.facts.runs = notebook::databricks_runs(&text);
                    extracted = Some(e);
                    raw.info.entry = true;
                } else {
                    extracted = Some(e);
                }
            }
            "notebook" => match notebook::ipynb_cells(&text) {
                Ok(cells) => {
                    // Python cells are read as one program (variables cross cells), with
                    // SQL cells and magics blanked so every row keeps its notebook line.
                    let mut program = String::new();
                    for cell in &cells {
                        let n = cell.source.lines().count().max(1);
                        if cell.language == "sql" {
                            sites.extend(sql::text_sites(&Text::new(cell.source.clone(), rel, cell.first_line), "<notebook>"));
                            program.push_str(&"\n".repeat(n));
                        } else {
                            let mut lines: Vec<&str> = cell.source.lines().collect();
                            lines.resize(n, "");
                            for l in lines {
                                let t = l.trim_start();
                                if let Some(target) = t.strip_prefix("%run ") {
                                    raw.facts.runs.push(target.split_whitespace().next().unwrap_or("").to_string());
                                }
                                if t.starts_with('%') || t.starts_with('!') {
                                    program.push('\n');
                                    continue;
                                }
                                program.push_str(l);
                                program.push('\n');
                            }
                        }
                    }
                    let e = python::extract(&program, rel, &|row| row as u32 + 1);
                    raw.info.entry = true;
                    extracted = Some(e);
                }
                Err(e) => {
                    *ctx.stats.skipped.entry("unreadable notebook".into()).or_default() += 1;
                    warn(&mut ctx.stats, format!("{rel}: {e}; skipped"));
                }
            },
            "sql" => {
                sites.extend(sql::text_sites(&Text::new(text.clone(), rel, 1), "<script>"));
                raw.facts.defines = sql::defined_names(&text);
                raw.info.entry = true;
            }
            "scala" | "java" => {
                let j = jvm::extract(&text, rel, lang == "scala");
                if j.errors {
                    warn(&mut ctx.stats, format!("{rel}: syntax errors; sites were extracted from the parts that parse"));
                }
                sites.extend(j.sites);
                raw.facts = j.facts;
            }
            "shell" => raw.facts = shell_facts(&text),
            _ => {}
        }
        let mut names = HashMap::new();
        if let Some(mut e) = extracted {
            let runs = std::mem::take(&mut raw.facts.runs);
            raw.facts = std::mem::take(&mut e.facts);
            raw.facts.runs.extend(runs);
            if raw.info.language == "notebook" {
                // A notebook always has a session (`spark`) in hand.
                raw.facts.entry = true;
                if raw.facts.engine == Engine::Neutral && !e.sites.is_empty() {
                    raw.facts.engine = Engine::Spark;
                }
            }
            names = e.names.drain(..).collect();
            sites.append(&mut e.sites);
            let file_index = p.raws.len();
            p.sql.extend(e.pending_sql.drain(..).map(|q| (file_index, q)));
            p.terms.append(&mut e.pending);
            p.views.extend(e.views.drain(..).map(|(name, line, producers)| link::View { file: rel.clone(), name, line, producers }));
            ctx.edges.append(&mut e.edges);
            p.functions.append(&mut e.functions);
            p.calls.append(&mut e.calls);
            for (k, v) in e.consumers {
                p.consumers.entry(k).or_default().extend(v);
            }
        }
        raw.info.entry |= raw.facts.entry;
        // What the file's queries and readers name, for the views other files define.
        for st in sites.iter().filter(|st| matches!(st.kind.as_str(), "sql-from" | "sql-join" | "table")) {
            for t in &st.tables {
                super::site::add(&mut raw.facts.tables, t.to_ascii_lowercase());
            }
        }
        raw.info.engine = raw.facts.engine.clone();
        raw.info.app_names = raw.facts.app_names.clone();
        raw.info.descriptions = raw.facts.descriptions.clone();
        raw.info.classes = raw.facts.classes.clone();
        if let Engine::Other(engine) = &raw.info.engine {
            // Another engine's code cannot have produced a Spark plan: no sites.
            *ctx.stats.skipped.entry(format!("not Spark code ({engine})")).or_default() += 1;
            sites.clear();
        }
        ctx.sites.append(&mut sites);
        p.names.push(names);
        p.raws.push(raw);
    }
    link_all(&mut ctx, p);
    for s in &ctx.sites {
        *ctx.stats.sites_by_kind.entry(s.kind.clone()).or_default() += 1;
    }
    ctx.stats.parse_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(ctx)
}

/// Everything that needs every file: names across modules, queries held elsewhere,
/// views, helper data flow, and the file graph.
fn link_all(ctx: &mut RepoContext, mut p: Pending) {
    let paths: Vec<String> = p.raws.iter().map(|r| r.info.path.clone()).collect();
    let modules = Modules::new(&paths);
    let names = link::Names { modules: &modules, names: &p.names };
    // Sites of files that are not Spark code are gone; so are their pending terms.
    let mut index: HashMap<String, usize> = ctx.sites.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
    link::terms(&mut ctx.sites, &index, &p.terms, &names);
    let other: HashSet<String> = p.raws.iter().filter(|r| matches!(r.info.engine, Engine::Other(_))).map(|r| r.info.path.clone()).collect();
    for (file, q) in &p.sql {
        if other.contains(paths[*file].as_str()) {
            continue;
        }
        let (sites, reads) = link::queries(std::slice::from_ref(q), &names);
        for s in sites {
            if !index.contains_key(&s.id) && !other.contains(&s.file) {
                index.insert(s.id.clone(), ctx.sites.len());
                ctx.sites.push(s);
            }
        }
        p.raws[*file].facts.reads.extend(reads);
    }
    // Paths read at run time may be held in another module too.
    for r in &mut p.raws {
        r.facts.reads = r.facts.reads.iter().filter_map(|v| names.resolve(v, 0)).collect();
    }
    ctx.edges.extend(link::views(&ctx.sites, &p.views));
    link_helpers(ctx, &p.functions, &p.calls, &p.consumers, &modules);
    ctx.files = files::link(p.raws);
}

/// `spark-submit` / `spark-sql -f` lines of a shell script name the files it runs.
fn shell_facts(text: &str) -> python::FileFacts {
    let mut f = python::FileFacts::default();
    for tok in text.split(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '=' | ';')) {
        if [".sql", ".py", ".ipynb", ".jar", ".scala"].iter().any(|e| tok.ends_with(e)) && tok.len() < 200 {
            f.paths.push(tok.to_string());
            f.reads.push(Value::Str(Text::new(tok.to_string(), "", 1)));
        }
    }
    f
}

fn warn(stats: &mut IndexStats, w: String) {
    if stats.warnings.len() < MAX_WARNINGS {
        stats.warnings.push(w);
    }
}

/// `x = helper(df)` where `helper` is defined anywhere in the repository: the
/// argument's producer flows into the helper's first use of that parameter, and the
/// helper's returned sites flow into the sites that use `x`. A name defined in several
/// files is resolved through the caller's import of it, or the caller's own file.
fn link_helpers(ctx: &mut RepoContext, functions: &[FunctionSummary], calls: &[HelperCall], consumers: &HashMap<String, Vec<String>>, modules: &Modules) {
    let mut by_name: HashMap<&str, Vec<&FunctionSummary>> = HashMap::new();
    for f in functions {
        by_name.entry(f.name.as_str()).or_default().push(f);
    }
    for call in calls {
        let Some(cands) = by_name.get(call.callee.as_str()) else { continue };
        let f = if cands.len() == 1 {
            cands[0]
        } else {
            let imported = call.module.as_ref().and_then(|m| modules.resolve(&call.file, m)).map(|i| modules.path(i).to_string());
            match cands.iter().find(|c| Some(c.file.as_str()) == imported.as_deref()).or_else(|| cands.iter().find(|c| c.file == call.file)) {
                Some(f) => f,
                // Ambiguous and not imported by name: link none rather than a wrong one.
                None => continue,
            }
        };
        for (pi, site) in &f.param_sites {
            for src in call.arg_sources.get(*pi).into_iter().flatten() {
                ctx.edges.push((src.clone(), site.clone()));
            }
        }
        for ret in &f.return_sites {
            for consumer in consumers.get(&call.assigned).into_iter().flatten() {
                ctx.edges.push((ret.clone(), consumer.clone()));
            }
        }
    }
    ctx.edges.sort();
    ctx.edges.dedup();
}
