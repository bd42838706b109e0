//! What a Python file is, for program resolution: the modules it imports, whether it is
//! Spark code, another engine's (Polars, pandas, Dask, DuckDB, ...) or neutral, whether
//! it is an entry point, the files it reads at run time, the notebooks it runs, and the
//! names it gives its application and jobs. Also the module pre-pass: constants, dicts,
//! classes and imports bound before the walk, so uses above a definition resolve.

use super::{eval, text, Ctx};
use crate::repo::value::{Ref, Value};
use serde::{Deserialize, Serialize};
use tree_sitter::Node;

/// Which engine a file's DataFrame code is written for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Engine {
    /// Imports or uses PySpark (or is a Databricks notebook, which has `spark`).
    Spark,
    /// No engine of its own: a helper whose DataFrames come from its callers.
    #[default]
    Neutral,
    /// Written for another engine (its name): it cannot have produced a Spark plan.
    Other(String),
}

/// An import as written: `import a.b` (no names), `from .m import x, y`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Import {
    pub module: String,
    pub names: Vec<String>,
}

/// The file-level facts program resolution reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct FileFacts {
    pub imports: Vec<Import>,
    pub engine: Engine,
    /// A `__main__` guard, or Spark work at module level: the file is run, not imported.
    pub entry: bool,
    /// Paths of files read at run time (`open(p).read()`), as far as they are known.
    pub reads: Vec<Value>,
    /// Short string literals that look like paths or globs (`queries/*.sql`, `q1.sql`,
    /// `sql`): a runner that lists a folder names it somewhere.
    pub paths: Vec<String>,
    /// It lists folders (`os.listdir`, `glob`, `Path.iterdir`, `os.walk`): a runner of
    /// the files in a folder its literals name.
    pub lists_folders: bool,
    /// Notebooks it runs (`dbutils.notebook.run("./x")`, `%run ./x`).
    pub runs: Vec<String>,
    /// `appName("...")` and job descriptions or groups it sets.
    pub app_names: Vec<String>,
    pub descriptions: Vec<String>,
    /// Views and tables it creates (`CREATE TEMP VIEW v AS …`, `createOrReplaceTempView`).
    pub defines: Vec<String>,
    /// Tables and views its queries and readers name (filled in from its sites).
    pub tables: Vec<String>,
    /// JVM classes, objects, traits and records it declares (simple names).
    pub classes: Vec<String>,
}

/// Top-level modules of other DataFrame engines. pandas counts only when nothing in the
/// file is Spark (PySpark code converts to and from pandas all the time).
const OTHER_ENGINES: &[&str] = &["polars", "dask", "duckdb", "datafusion", "modin", "vaex", "cudf", "daft", "ibis", "snowflake", "ray", "chdb", "datatable", "clickhouse_connect", "sqlalchemy", "psycopg2", "sqlite3", "cx_Oracle", "pymysql", "arrow", "pyarrow", "pandas"];
/// Modules whose import makes a file Spark code.
const SPARK_MODULES: &[&str] = &["pyspark", "findspark", "delta", "sparknlp", "databricks", "koalas", "pyspark_test", "chispa", "synapse", "sparkmeasure"];
/// Method names only the PySpark DataFrame API has (pandas and Polars spell theirs
/// differently), so a helper that never imports pyspark but calls them is Spark code.
const SPARK_ONLY_CALLS: &[&str] = &[
    ".withColumn(", ".withColumnRenamed(", ".groupBy(", ".orderBy(", ".createOrReplaceTempView(", ".selectExpr(", ".dropDuplicates(", ".unionByName(",
    ".toPandas(", ".createDataFrame(", ".sparkContext", "SparkSession", "spark.sql(", "spark.read", "spark.table(", ".saveAsTable(", ".registerTempTable(",
];
/// Longest literal kept as a possible path.
const MAX_PATH_LITERAL: usize = 160;

/// The module pre-pass: imports, constants, dicts, classes and UDF names at module
/// level (inside top-level `if`/`try`/`with` blocks too), in source order.
pub fn collect_module(cx: &mut Ctx<'_>, root: Node) {
    let mut c = root.walk();
    let stmts: Vec<Node> = root.children(&mut c).collect();
    for stmt in stmts {
        module_statement(cx, stmt, 0);
    }
}

fn module_statement(cx: &mut Ctx<'_>, stmt: Node, depth: usize) {
    match stmt.kind() {
        "import_statement" => {
            let mut c = stmt.walk();
            for n in stmt.named_children(&mut c) {
                let (module, alias) = match n.kind() {
                    "dotted_name" => (text(n, cx.src).to_string(), None),
                    "aliased_import" => (n.child_by_field_name("name").map(|x| text(x, cx.src).to_string()).unwrap_or_default(), n.child_by_field_name("alias").map(|a| text(a, cx.src).to_string())),
                    _ => continue,
                };
                cx.out.facts.imports.push(Import { module: module.clone(), names: vec![] });
                match alias {
                    // `import a.b as m`: `m.X` is module a.b's X.
                    Some(a) => {
                        cx.module.insert(a, Value::Ref(Ref { module, path: vec![], from_file: cx.file.to_string() }));
                    }
                    // `import a.b`: `a.b.X` names module a.b's X; bound as `a` with the path.
                    None => {
                        let top = module.split('.').next().unwrap_or(&module).to_string();
                        cx.module.entry(top.clone()).or_insert(Value::Ref(Ref { module: top, path: vec![], from_file: cx.file.to_string() }));
                    }
                }
            }
        }
        "import_from_statement" => {
            let module = stmt.child_by_field_name("module_name").map(|m| text(m, cx.src).to_string()).unwrap_or_default();
            let mut names = Vec::new();
            let mut c = stmt.walk();
            for n in stmt.children_by_field_name("name", &mut c) {
                let (name, alias) = match n.kind() {
                    "aliased_import" => (n.child_by_field_name("name").map(|x| text(x, cx.src).to_string()).unwrap_or_default(), n.child_by_field_name("alias").map(|a| text(a, cx.src).to_string())),
                    _ => (text(n, cx.src).to_string(), None),
                };
                let bound = alias.unwrap_or_else(|| name.clone());
                cx.module.insert(bound, Value::Ref(Ref { module: module.clone(), path: vec![name.clone()], from_file: cx.file.to_string() }));
                names.push(name);
            }
            let mut c = stmt.walk();
            if stmt.named_children(&mut c).any(|n| n.kind() == "wildcard_import") {
                cx.star_imports.push(module.clone());
                names.push("*".into());
            }
            cx.out.facts.imports.push(Import { module, names });
        }
        "expression_statement" => {
            let Some(node) = stmt.named_child(0) else { return };
            if node.kind() != "assignment" {
                return;
            }
            let (Some(l), Some(r)) = (node.child_by_field_name("left"), node.child_by_field_name("right")) else { return };
            if l.kind() == "identifier" {
                let name = text(l, cx.src).to_string();
                if r.kind() == "call" && super::callee_name(r, cx.src).is_some_and(|c| c == "udf" || c == "pandas_udf") {
                    cx.udfs.push(name.clone());
                }
                let v = eval::eval(cx, r, "<module>");
                cx.bind("<module>", &name, v);
            }
        }
        "class_definition" => {
            let Some(name) = stmt.child_by_field_name("name").map(|n| text(n, cx.src).to_string()) else { return };
            cx.classes.insert(name.clone());
            let attrs = class_attrs(cx, stmt, &name);
            cx.module.insert(name, Value::Dict(attrs));
        }
        "decorated_definition" => {
            let is_udf = (0..stmt.named_child_count() as u32).filter_map(|i| stmt.named_child(i)).filter(|c| c.kind() == "decorator").any(|d| {
                let t = text(d, cx.src);
                t.contains("udf") || t.contains("pandas_udf")
            });
            if let Some(def) = stmt.child_by_field_name("definition") {
                if is_udf && let Some(n) = def.child_by_field_name("name") {
                    cx.udfs.push(text(n, cx.src).to_string());
                }
                if def.kind() == "class_definition" {
                    module_statement(cx, def, depth);
                }
            }
        }
        "if_statement" => {
            if let Some(cond) = stmt.child_by_field_name("condition") {
                let t = text(cond, cx.src);
                if t.contains("__name__") && t.contains("__main__") {
                    cx.out.facts.entry = true;
                    return;
                }
            }
            blocks(cx, stmt, depth);
        }
        "try_statement" | "with_statement" | "block" | "else_clause" | "except_clause" | "finally_clause" | "elif_clause" => blocks(cx, stmt, depth),
        _ => {}
    }
}

fn blocks(cx: &mut Ctx<'_>, n: Node, depth: usize) {
    if depth > 4 {
        return;
    }
    let mut c = n.walk();
    let kids: Vec<Node> = n.named_children(&mut c).collect();
    for k in kids {
        if matches!(k.kind(), "block" | "else_clause" | "except_clause" | "finally_clause" | "elif_clause") {
            let mut c2 = k.walk();
            let inner: Vec<Node> = k.named_children(&mut c2).collect();
            for s in inner {
                if s.kind() == "block" {
                    blocks(cx, s, depth + 1);
                } else {
                    module_statement(cx, s, depth + 1);
                }
            }
        } else if !matches!(k.kind(), "comparison_operator" | "identifier" | "boolean_operator") {
            module_statement(cx, k, depth + 1);
        }
    }
}

/// A class's attributes (`average_rating = "averageRating"`, dataclass fields with
/// defaults, enum members, nested classes) and the strings its methods assign to
/// `self.x`.
fn class_attrs(cx: &mut Ctx<'_>, class: Node, name: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(body) = class.child_by_field_name("body") else { return out };
    let mut c = body.walk();
    let stmts: Vec<Node> = body.named_children(&mut c).collect();
    for s in stmts {
        match s.kind() {
            "expression_statement" => {
                let Some(a) = s.named_child(0).filter(|a| a.kind() == "assignment") else { continue };
                let (Some(l), Some(r)) = (a.child_by_field_name("left"), a.child_by_field_name("right")) else { continue };
                if l.kind() == "identifier" {
                    // Earlier attributes are in scope for later ones (`B = A + "_x"`).
                    let v = eval::eval(cx, r, "<module>").or_else(|| {
                        let prev = Value::Dict(out.clone());
                        r.kind().eq("identifier").then(|| prev.member(text(r, cx.src))).flatten()
                    });
                    if let Some(v) = v {
                        out.push((text(l, cx.src).to_string(), v));
                    }
                }
            }
            "class_definition" => {
                if let Some(inner) = s.child_by_field_name("name").map(|n| text(n, cx.src).to_string()) {
                    let attrs = class_attrs(cx, s, &format!("{name}.{inner}"));
                    out.push((inner, Value::Dict(attrs)));
                }
            }
            "function_definition" => {
                // `self.table = "orders"` in a method: a string the class carries.
                let method = s.child_by_field_name("name").map(|n| text(n, cx.src).to_string()).unwrap_or_default();
                let scope = format!("{name}.{method}");
                let mut stack = vec![s];
                while let Some(n) = stack.pop() {
                    if n.kind() == "assignment"
                        && let (Some(l), Some(r)) = (n.child_by_field_name("left"), n.child_by_field_name("right"))
                        && l.kind() == "attribute"
                        && l.child_by_field_name("object").is_some_and(|o| text(o, cx.src) == "self")
                        && matches!(r.kind(), "string" | "concatenated_string" | "dictionary" | "list" | "attribute" | "identifier" | "binary_operator")
                        && let (Some(attr), Some(v)) = (l.child_by_field_name("attribute"), eval::eval(cx, r, &scope)) {
                            out.push((text(attr, cx.src).to_string(), v));
                        }
                    if !matches!(n.kind(), "function_definition" | "class_definition") || n.id() == s.id() {
                        let mut c = n.walk();
                        stack.extend(n.named_children(&mut c));
                    }
                }
            }
            "decorated_definition" => {}
            _ => {}
        }
    }
    out
}

/// `appName("x")`, `setJobDescription("x")`, `setJobGroup("g", "x")`: names the event
/// log repeats.
pub fn note_name(cx: &mut Ctx<'_>, call: Node, method: &str, scope: &str) {
    let Some(args) = call.child_by_field_name("arguments") else { return };
    let mut c = args.walk();
    let vals: Vec<String> = args.named_children(&mut c).filter_map(|a| eval::eval(cx, a, scope)).flat_map(|v| v.strings().into_iter().map(|t| t.text.clone()).collect::<Vec<_>>()).collect();
    match method {
        "appName" | "setAppName" => cx.out.facts.app_names.extend(vals),
        "setLocalProperty" => cx.out.facts.descriptions.extend(vals.into_iter().skip(1)),
        _ => cx.out.facts.descriptions.extend(vals),
    }
}

/// `dbutils.notebook.run("./other", …)`.
pub fn note_run(cx: &mut Ctx<'_>, call: Node, scope: &str) {
    if let Some(v) = call.child_by_field_name("arguments").and_then(|a| a.named_child(0)).and_then(|a| eval::eval(cx, a, scope)) {
        for t in v.strings() {
            cx.out.facts.runs.push(t.text.clone());
        }
    }
}

/// After the walk: the engine, whether the file is an entry, and its path literals.
pub fn finish(cx: &mut Ctx<'_>, root: Node) {
    let tops: Vec<String> = cx.out.facts.imports.iter().map(|i| i.module.trim_start_matches('.').split('.').next().unwrap_or("").to_string()).collect();
    let spark = tops.iter().any(|t| SPARK_MODULES.contains(&t.as_str())) || SPARK_ONLY_CALLS.iter().any(|m| cx.src.contains(m));
    cx.out.facts.engine = if spark {
        Engine::Spark
    } else if let Some(other) = tops.iter().find(|t| OTHER_ENGINES.contains(&t.as_str())) {
        Engine::Other(other.clone())
    } else {
        Engine::Neutral
    };
    if !cx.out.facts.entry {
        cx.out.facts.entry = cx.out.sites.iter().any(|s| s.symbol == "<module>");
    }
    cx.out.facts.lists_folders = ["listdir(", "glob(", ".iterdir(", "os.walk(", "scandir(", ".rglob("].iter().any(|m| cx.src.contains(m));
    // Path-like literals, for files a runner reads by listing a folder.
    let mut stack = vec![root];
    let mut paths = Vec::new();
    while let Some(n) = stack.pop() {
        if n.kind() == "string_content" {
            let t = text(n, cx.src);
            if t.len() <= MAX_PATH_LITERAL && !t.contains(char::is_whitespace) && (t.contains('/') || t.contains('.') || t.contains('*')) {
                paths.push(t.to_string());
            } else if t.len() <= 40 && t.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
                // A bare folder name (`"queries"`) joined to a path elsewhere.
                paths.push(t.to_string());
            }
            continue;
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
    paths.sort();
    paths.dedup();
    cx.out.facts.paths = paths;
}
