//! Building a repository's code context: walk, parse every file by language, link
//! data flow within files and across helper functions, and count what was found.

use super::notebook;
use super::python::{self, Extracted, FunctionSummary, HelperCall};
use super::site::Site;
use super::walk::{self, Walk};
use super::{jvm, sql};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Instant;

/// Bump when extraction changes, so cached contexts of older indexers are not reused.
pub const INDEXER_VERSION: &str = "3";

/// Everything planmap knows about one repository at one commit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RepoContext {
    pub commit: String,
    pub sites: Vec<Site>,
    /// (from, to): `from`'s DataFrame flows into `to`.
    pub edges: Vec<(String, String)>,
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

/// `build`, calling `progress(files done, files total)` as it goes.
pub fn build_with_progress(root: &Path, targets: &[String], commit: &str, progress: &dyn Fn(usize, usize)) -> Result<RepoContext, String> {
    let Walk { files, skipped } = walk::walk(root, targets)?;
    let total = files.len();
    let t = Instant::now();
    let mut ctx = RepoContext { commit: commit.to_string(), ..Default::default() };
    ctx.stats.skipped = skipped;
    let mut functions: Vec<FunctionSummary> = Vec::new();
    let mut calls: Vec<HelperCall> = Vec::new();
    let mut consumers: HashMap<String, Vec<String>> = HashMap::new();
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
        match lang {
            "python" => {
                let e = python::extract(&text, rel, &|row| row as u32 + 1);
                if e.parse_errors {
                    warn(&mut ctx.stats, format!("{rel}: syntax errors; sites were extracted from the parts that parse"));
                }
                absorb(&mut ctx, e, &mut functions, &mut calls, &mut consumers);
                if notebook::is_databricks_source(&text) {
                    for cell in notebook::databricks_sql_cells(&text) {
                        sql_sites(&mut ctx, &cell.source, rel, cell.first_line, "<notebook>");
                    }
                }
            }
            "notebook" => match notebook::ipynb_cells(&text) {
                Ok(cells) => {
                    // Python cells are read as one program (variables cross cells), with
                    // SQL cells blanked so every row keeps its notebook line number.
                    let mut program = String::new();
                    for cell in &cells {
                        let n = cell.source.lines().count().max(1);
                        if cell.language == "sql" {
                            sql_sites(&mut ctx, &cell.source, rel, cell.first_line, "<notebook>");
                            program.push_str(&"\n".repeat(n));
                        } else {
                            let mut lines: Vec<&str> = cell.source.lines().collect();
                            lines.resize(n, "");
                            for l in lines {
                                program.push_str(l);
                                program.push('\n');
                            }
                        }
                    }
                    let e = python::extract(&program, rel, &|row| row as u32 + 1);
                    absorb(&mut ctx, e, &mut functions, &mut calls, &mut consumers);
                }
                Err(e) => {
                    *ctx.stats.skipped.entry("unreadable notebook".into()).or_default() += 1;
                    warn(&mut ctx.stats, format!("{rel}: {e}; skipped"));
                }
            },
            "sql" => sql_sites(&mut ctx, &text, rel, 1, "<script>"),
            "scala" | "java" => {
                let (sites, errors) = jvm::extract(&text, rel, lang == "scala");
                if errors {
                    warn(&mut ctx.stats, format!("{rel}: syntax errors; sites were extracted from the parts that parse"));
                }
                ctx.sites.extend(sites);
            }
            _ => {}
        }
    }
    link_helpers(&mut ctx, &functions, &calls, &consumers);
    for s in &ctx.sites {
        *ctx.stats.sites_by_kind.entry(s.kind.clone()).or_default() += 1;
    }
    ctx.stats.parse_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(ctx)
}

fn warn(stats: &mut IndexStats, w: String) {
    if stats.warnings.len() < MAX_WARNINGS {
        stats.warnings.push(w);
    }
}

fn absorb(ctx: &mut RepoContext, e: Extracted, functions: &mut Vec<FunctionSummary>, calls: &mut Vec<HelperCall>, consumers: &mut HashMap<String, Vec<String>>) {
    ctx.sites.extend(e.sites);
    ctx.edges.extend(e.edges);
    functions.extend(e.functions);
    calls.extend(e.calls);
    for (k, v) in e.consumers {
        consumers.entry(k).or_default().extend(v);
    }
}

/// SQL clause sites of a SQL text whose first line is `first_line` in `file`.
fn sql_sites(ctx: &mut RepoContext, text: &str, file: &str, first_line: u32, symbol: &str) {
    for (i, c) in sql::clauses(text).into_iter().enumerate() {
        let start = first_line + c.line_start as u32;
        ctx.sites.push(Site {
            id: format!("{file}:{start}:q{i}:{}", c.kind),
            file: file.to_string(),
            symbol: symbol.to_string(),
            line_start: start,
            line_end: first_line + c.line_end as u32,
            statement_start: start,
            statement_end: first_line + c.line_end as u32,
            kind: c.kind.to_string(),
            language: "sql".into(),
            snippet: super::site::bounded(&c.text),
            columns: c.columns,
            tables: c.tables,
            literals: c.literals,
            functions: c.functions,
            inputs: vec![],
            outputs: vec![],
        });
    }
}

/// `x = helper(df)` where `helper` is defined anywhere in the repository: the
/// argument's producer flows into the helper's first use of that parameter, and the
/// helper's returned sites flow into the sites that use `x`.
fn link_helpers(ctx: &mut RepoContext, functions: &[FunctionSummary], calls: &[HelperCall], consumers: &HashMap<String, Vec<String>>) {
    let mut by_name: HashMap<&str, Vec<&FunctionSummary>> = HashMap::new();
    for f in functions {
        by_name.entry(f.name.as_str()).or_default().push(f);
    }
    for call in calls {
        let Some(cands) = by_name.get(call.callee.as_str()) else { continue };
        // Same-named helpers in several files are ambiguous; link only a unique one.
        if cands.len() != 1 {
            continue;
        }
        let f = cands[0];
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
