//! The repository's files as program resolution sees them: what each is (language,
//! engine, entry point), and what it uses — the modules it imports, the notebooks it
//! runs, the files it reads at run time (a query file, a folder of `.sql` files a runner
//! loops over) — resolved to files of the repository.

use super::python::{Engine, FileFacts, Import};
use super::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One indexed file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileInfo {
    pub path: String,
    /// python, notebook, sql, scala, java, shell.
    pub language: String,
    pub engine: Engine,
    /// Run rather than imported: a `__main__` guard, top-level Spark work, a notebook,
    /// a `.sql` file, a JVM `main`.
    pub entry: bool,
    /// Indexes (into the context's files) of what it imports, runs or reads.
    pub uses: Vec<usize>,
    /// Application names and job descriptions it sets.
    pub app_names: Vec<String>,
    pub descriptions: Vec<String>,
    /// JVM types it declares (simple names), which a plan's lambdas and encoders name.
    #[serde(default)]
    pub classes: Vec<String>,
}

/// What the extractors found about a file before linking (unresolved).
#[derive(Debug, Default)]
pub struct Raw {
    pub info: FileInfo,
    pub facts: FileFacts,
}

/// Python modules by dotted name, for resolving imports.
pub struct Modules {
    /// Every dotted suffix of a module's name → the files that define it.
    by_suffix: HashMap<String, Vec<usize>>,
    paths: Vec<String>,
}

fn dotted(path: &str) -> Option<String> {
    let p = path.strip_suffix(".py")?;
    let p = p.strip_suffix("/__init__").unwrap_or(p);
    Some(p.replace('/', "."))
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.split('/').zip(b.split('/')).take_while(|(x, y)| x == y && !x.is_empty()).count()
}

impl Modules {
    pub fn new(paths: &[String]) -> Modules {
        let mut by_suffix: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in paths.iter().enumerate() {
            let Some(d) = dotted(p) else { continue };
            let parts: Vec<&str> = d.split('.').collect();
            for k in 0..parts.len() {
                by_suffix.entry(parts[k..].join(".")).or_default().push(i);
            }
        }
        Modules { by_suffix, paths: paths.to_vec() }
    }

    /// The path of file `i`.
    pub fn path(&self, i: usize) -> &str {
        &self.paths[i]
    }

    /// The file a module named in `importer` is, if it is in the repository: relative
    /// imports from the importer's package; absolute ones by name, the candidate whose
    /// package root is nearest the importer winning (a monorepo has many `utils.py`).
    pub fn resolve(&self, importer: &str, module: &str) -> Option<usize> {
        let dots = module.chars().take_while(|c| *c == '.').count();
        if dots > 0 {
            let mut base = dir_of(importer).to_string();
            for _ in 1..dots {
                base = dir_of(&base).to_string();
            }
            let rest = module[dots..].replace('.', "/");
            let stem = if rest.is_empty() { base.clone() } else if base.is_empty() { rest } else { format!("{base}/{rest}") };
            let want = [format!("{stem}.py"), format!("{stem}/__init__.py").trim_start_matches('/').to_string()];
            return self.paths.iter().position(|p| want.contains(p));
        }
        let cands = self.by_suffix.get(module)?;
        let here = dir_of(importer);
        cands
            .iter()
            .copied()
            .max_by_key(|&i| {
                let p = &self.paths[i];
                // The folder the module's top package sits in.
                let depth = module.split('.').count() + usize::from(p.ends_with("/__init__.py"));
                let root: Vec<&str> = p.split('/').collect();
                let root = root[..root.len().saturating_sub(depth)].join("/");
                let under = here == root || here.starts_with(&format!("{root}/")) || root.is_empty();
                (under, common_prefix(&root, here), std::cmp::Reverse(p.len()))
            })
    }

    /// The files an import statement uses: the module, and for `from pkg import x` the
    /// submodule `pkg.x` when `x` is one.
    pub fn imported(&self, importer: &str, imp: &Import) -> Vec<usize> {
        let mut out: Vec<usize> = self.resolve(importer, &imp.module).into_iter().collect();
        for n in &imp.names {
            if n == "*" {
                continue;
            }
            let sub = if imp.module.ends_with('.') { format!("{}{n}", imp.module) } else { format!("{}.{n}", imp.module) };
            if let Some(f) = self.resolve(importer, &sub) {
                out.push(f);
            }
        }
        out
    }
}

/// Whether a path pattern (`{placeholder}`s and `*` match any run of characters within
/// one path segment) names `file`, aligned at the end: `queries/q{n}.sql` names
/// `tpch/queries/q3.sql`.
pub fn names_file(pattern: &str, file: &str) -> bool {
    let pattern = pattern.trim().trim_start_matches("file:").trim_start_matches("dbfs:");
    // `{here}/../queries/x.sql`: a `..` takes back the segment before it; one with
    // nothing known before it leaves the prefix unknown, as a placeholder would.
    let mut pat: Vec<&str> = Vec::new();
    for seg in pattern.split('/').filter(|s| !s.is_empty() && *s != ".") {
        if seg == ".." {
            pat.pop();
        } else {
            pat.push(seg);
        }
    }
    let segs: Vec<&str> = file.split('/').collect();
    if pat.is_empty() || pat.len() > segs.len() {
        return false;
    }
    // Segments of the pattern that are wholly unknown (`{root}`) match any folder.
    pat.iter().rev().zip(segs.iter().rev()).all(|(p, s)| segment_matches(p, s))
}

fn segment_matches(p: &str, s: &str) -> bool {
    // Split the pattern at wildcards: `{…}` and `*`.
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for ch in p.chars() {
        match ch {
            '{' => {
                depth += 1;
                if depth == 1 {
                    parts.push(std::mem::take(&mut cur));
                }
            }
            '}' if depth > 0 => depth -= 1,
            '*' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            c if depth == 0 => cur.push(c),
            _ => {}
        }
    }
    parts.push(cur);
    if parts.len() == 1 {
        return parts[0] == s;
    }
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if !s.starts_with(first.as_str()) || !s[first.len()..].ends_with(last.as_str()) || s.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid.as_str()) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Resolve every file's imports, runs and reads to files of the repository.
pub fn link(raw: Vec<Raw>) -> Vec<FileInfo> {
    let paths: Vec<String> = raw.iter().map(|r| r.info.path.clone()).collect();
    let modules = Modules::new(&paths);
    let by_path: HashMap<&str, usize> = paths.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
    let sql_files: Vec<usize> = raw.iter().enumerate().filter(|(_, r)| r.info.language == "sql").map(|(i, _)| i).collect();
    // The folders holding query files, for runners that name a folder.
    let sql_folders: std::collections::HashSet<&str> = sql_files.iter().map(|&s| dir_of(&paths[s]).rsplit('/').next().unwrap_or("")).filter(|f| !f.is_empty()).collect();
    // Who defines each view or table: a query reading it uses that file.
    let mut definers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in raw.iter().enumerate() {
        for d in &r.facts.defines {
            definers.entry(d.as_str()).or_default().push(i);
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    for r in &raw {
        let mut info = r.info.clone();
        let me = info.path.clone();
        let mut uses: Vec<usize> = Vec::new();
        for imp in &r.facts.imports {
            uses.extend(modules.imported(&me, imp));
        }
        for run in &r.facts.runs {
            uses.extend(run_target(&me, run, &by_path));
        }
        // Files read at run time, by their (partly known) paths.
        let mut patterns: Vec<String> = Vec::new();
        for v in &r.facts.reads {
            patterns.extend(path_patterns(v));
        }
        if !patterns.is_empty() {
            for (i, p) in paths.iter().enumerate() {
                if patterns.iter().any(|pat| names_file(pat, p)) {
                    uses.push(i);
                }
            }
        }
        // A runner that lists a folder of queries: its literals name the folder or a
        // pattern of the files.
        // Literals that can name query files: with `.sql`, a glob over a folder
        // (`queries/*`; a bare `*` is `count("*")`), or a query folder's name.
        let literals: Vec<&String> = r.facts.paths.iter().filter(|p| p.contains(".sql") || (p.contains('*') && p.contains('/')) || sql_folders.contains(p.trim_end_matches('/').rsplit('/').next().unwrap_or(""))).collect();
        if !sql_files.is_empty() && !literals.is_empty() {
            let mentions_sql = r.facts.paths.iter().any(|p| p.contains(".sql") || p == "sql");
            for &s in &sql_files {
                let file = &paths[s];
                let folder = dir_of(file).rsplit('/').next().unwrap_or("");
                let hit = literals.iter().any(|lit| {
                    (lit.contains('/') || lit.contains('.') || lit.contains('*')) && names_file(lit, file)
                        || (r.facts.lists_folders && mentions_sql && !folder.is_empty() && (lit.as_str() == folder || lit.trim_end_matches('/').ends_with(&format!("/{folder}"))))
                });
                if hit {
                    uses.push(s);
                }
            }
        }
        for t in &r.facts.tables {
            let name = t.rsplit('.').next().unwrap_or(t);
            // A view the file registers itself is its own.
            if r.facts.defines.iter().any(|d| d == name || d == t) {
                continue;
            }
            if let Some(ds) = definers.get(name).or_else(|| definers.get(t.as_str())) {
                // A name defined in many places (a common view name) says little; and a
                // job that registers a view is an entry of its own, not part of a query
                // that reads the name (its runner brings both).
                if ds.len() <= 3 {
                    uses.extend(ds.iter().copied().filter(|&d| raw[d].info.language == "sql" || !raw[d].info.entry));
                }
            }
        }
        uses.sort_unstable();
        uses.dedup();
        let own = by_path[me.as_str()];
        uses.retain(|&u| u != own);
        info.uses = uses;
        out.push(info);
    }
    out
}

/// `%run ./setup` / `dbutils.notebook.run("../common/setup", …)`, from the notebook's
/// folder, with or without an extension.
fn run_target(from: &str, target: &str, by_path: &HashMap<&str, usize>) -> Option<usize> {
    let target = target.trim().trim_matches('"').trim_matches('\'');
    let mut parts: Vec<&str> = if target.starts_with('/') { vec![] } else { dir_of(from).split('/').filter(|s| !s.is_empty()).collect() };
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let base = parts.join("/");
    for ext in ["", ".py", ".ipynb", ".sql", ".scala", ".r"] {
        if let Some(&i) = by_path.get(format!("{base}{ext}").as_str()) {
            return Some(i);
        }
    }
    // An absolute workspace path (`/Repos/me/project/notebooks/setup`): by its tail.
    by_path.iter().filter(|(p, _)| names_file(&base, p) || ["py", "ipynb", "sql"].iter().any(|e| names_file(&format!("{base}.{e}"), p))).map(|(_, &i)| i).min()
}

/// The path patterns a read's path value may be.
fn path_patterns(v: &Value) -> Vec<String> {
    match v {
        Value::Str(t) => vec![t.text.clone()],
        Value::Any(items) | Value::List(items) => items.iter().flat_map(path_patterns).collect(),
        Value::FileText(p) => path_patterns(p),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_match_from_the_end() {
        assert!(names_file("queries/q{n}.sql", "bench/tpch/queries/q3.sql"));
        assert!(names_file("{root}/sql/*.sql", "etl/sql/daily.sql"));
        assert!(names_file("./q1.sql", "q1.sql"));
        assert!(!names_file("queries/q{n}.sql", "bench/other/q3.sql"));
        assert!(!names_file("q1.sql", "q11.sql"));
        assert!(names_file("q*.sql", "q11.sql"));
        assert!(names_file("{here}/../queries/{name}.sql", "queries/monthly.sql"), "a path relative to the module's folder");
    }

    #[test]
    fn imports_resolve_to_the_nearest_package() {
        let paths: Vec<String> = ["a/utils.py", "b/utils.py", "b/jobs/run.py", "pkg/__init__.py", "pkg/io.py", "pkg/jobs/x.py", "src/lib/common.py", "src/app/main.py"].iter().map(|s| s.to_string()).collect();
        let m = Modules::new(&paths);
        let at = |i: Option<usize>| i.map(|i| paths[i].as_str());
        assert_eq!(at(m.resolve("b/jobs/run.py", "utils")), Some("b/utils.py"), "the utils of the importer's project");
        assert_eq!(at(m.resolve("pkg/jobs/x.py", "..io")), Some("pkg/io.py"));
        assert_eq!(at(m.resolve("pkg/jobs/x.py", "pkg.io")), Some("pkg/io.py"));
        assert_eq!(at(m.resolve("pkg/io.py", ".")), Some("pkg/__init__.py"));
        assert_eq!(at(m.resolve("src/app/main.py", "lib.common")), Some("src/lib/common.py"));
        assert_eq!(m.resolve("pkg/io.py", "pyspark.sql"), None);
    }
}
