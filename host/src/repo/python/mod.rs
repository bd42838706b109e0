//! PySpark site extraction with tree-sitter: every DataFrame method call that is a
//! Spark operation becomes a site with its own line span inside a chained statement,
//! the statement span, the enclosing symbol, columns / tables / literals / functions,
//! the DataFrame variables it consumes and produces, SQL clauses of queries (inline in
//! `.sql(...)`, or held in variables, constants, class attributes and dicts, with
//! their own lines), and UDF definitions and registrations. Names and paths held in
//! variables are recorded as the strings Spark sees (see `eval`); what another module
//! defines is left for the linker. Alongside the sites: the file's imports, whether it
//! is Spark code or another engine's, whether it is an entry point, and the files it
//! reads at run time — what program resolution builds on.

mod eval;
mod facts;

pub use facts::{Engine, FileFacts, Import};

use super::kinds::kind_of;
use super::site::{add, bounded, Site};
use super::sql;
use super::value::{looks_like_sql, Text, Value};
use std::collections::{HashMap, HashSet};
use tree_sitter::{Node, Parser};

/// Methods whose plain string arguments are column names.
const COLUMN_METHODS: &[&str] = &[
    "select", "groupBy", "groupby", "rollup", "cube", "orderBy", "sort", "sortWithinPartitions", "drop", "dropDuplicates", "drop_duplicates",
    "withColumn", "withColumnRenamed", "partitionBy", "repartition", "repartitionByRange", "pivot", "col", "column", "alias", "name",
    "unionByName", "toDF", "asc", "desc", "over", "rowsBetween", "withColumns", "withColumnsRenamed", "agg",
];
/// Calls whose string argument is a column (`F.col("x")`), or an output name.
const COLUMN_CALLS: &[&str] = &["col", "column", "alias", "name", "asc", "desc", "asc_nulls_first", "desc_nulls_last", "countDistinct", "count_distinct", "sum", "avg", "max", "min", "count", "mean", "first", "last", "collect_list", "collect_set", "approx_count_distinct", "stddev", "variance", "lag", "lead", "explode", "upper", "lower", "trim", "to_date", "year", "month", "date_trunc", "sum_distinct", "sumDistinct", "StructField"];
/// Join types passed as strings (`how`), which are not columns.
pub const JOIN_TYPES: &[&str] = &["inner", "cross", "outer", "full", "fullouter", "full_outer", "left", "leftouter", "left_outer", "right", "rightouter", "right_outer", "semi", "leftsemi", "left_semi", "anti", "leftanti", "left_anti"];
/// Methods whose first string argument names a table or a path.
const SOURCE_METHODS: &[&str] = &["parquet", "csv", "json", "orc", "text", "load", "table", "saveAsTable", "insertInto", "save", "jdbc", "avro", "delta", "toTable", "writeTo", "textFile"];
/// Receivers that are never DataFrames (`os.path.join`, `", ".join`).
const NOT_DATAFRAMES: &[&str] = &["os", "path", "os.path", "str", "sep", "posixpath", "shutil", "json", "re", "np", "pd", "math", "logging", "logger", "log", "sys", "select", "queue", "threading", "asyncio", "itertools", "functools", "pl", "polars", "duckdb", "dd", "glob", "Path", "pathlib", "random", "time", "datetime", "textwrap"];
/// Receivers of `.sql(...)` that are other engines, in files that also use Spark.
const NOT_SPARK_SQL: &[&str] = &["duckdb", "con", "conn", "connection", "cursor", "cur", "pl", "polars", "engine", "db", "sqlite3", "ctx_df", "datafusion"];
/// Methods that register a DataFrame under a name SQL can query.
const VIEW_METHODS: &[&str] = &["createOrReplaceTempView", "createTempView", "createOrReplaceGlobalTempView", "createGlobalTempView", "registerTempTable"];

/// A function summary for cross-file data flow: which sites consume each parameter
/// first, and which sites produce the returned value.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FunctionSummary {
    pub file: String,
    pub name: String,
    pub params: Vec<String>,
    pub param_sites: Vec<(usize, String)>,
    pub return_sites: Vec<String>,
}

/// A call to a (possibly helper) function whose result is assigned: `x = f(a, b)`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HelperCall {
    pub callee: String,
    /// The module the callee was imported from (`from m import f`), when it was.
    pub module: Option<String>,
    pub file: String,
    /// Producing sites of each argument (by position).
    pub arg_sources: Vec<Vec<String>>,
    /// The scope-qualified variable the result is assigned to.
    pub assigned: String,
}

/// Which list of a site a term resolved later goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermField {
    Column,
    Table,
    Literal,
    /// The column a `withColumn` (or a window inside one) defines (`sdk::DEFINES`).
    Defines,
}

/// A site's term that names a value of another module, resolved by the linker.
#[derive(Debug, Clone)]
pub struct PendingTerm {
    pub site: String,
    pub field: TermField,
    pub value: Value,
}

/// A query run through `.sql(...)` whose text another module holds.
#[derive(Debug, Clone)]
pub struct PendingSql {
    pub value: Value,
    pub symbol: String,
}

/// Everything extracted from one Python source.
#[derive(Debug, Default)]
pub struct Extracted {
    pub sites: Vec<Site>,
    /// (from, to) site ids: `from`'s output flows into `to`.
    pub edges: Vec<(String, String)>,
    pub functions: Vec<FunctionSummary>,
    pub calls: Vec<HelperCall>,
    /// Variables assigned from helper calls → the sites that consumed them (for later linking).
    pub consumers: HashMap<String, Vec<String>>,
    pub parse_errors: bool,
    /// The module's names (constants, dicts, classes, what it imports) for other modules.
    pub names: Vec<(String, Value)>,
    pub pending: Vec<PendingTerm>,
    pub pending_sql: Vec<PendingSql>,
    /// Temp views registered: (view name, the line registering it, the sites producing
    /// the registered DataFrame).
    pub views: Vec<(String, u32, Vec<String>)>,
    pub facts: FileFacts,
}

pub(crate) struct Ctx<'a> {
    src: &'a str,
    file: &'a str,
    line_map: &'a dyn Fn(usize) -> u32,
    out: Extracted,
    /// Names bound at module level: constants, dicts, lists, classes (as dicts of their
    /// attributes), and imported names (as references).
    module: HashMap<String, Value>,
    /// Names bound inside functions, scope-qualified (`scope:name`).
    locals: HashMap<String, Value>,
    /// Modules imported with `*`.
    star_imports: Vec<String>,
    /// Class names of this module, for `self.x` lookups.
    classes: HashSet<String>,
    /// Known UDF names (decorated or wrapped), to mark their uses.
    udfs: Vec<String>,
    /// scope-qualified var → producing site ids.
    producers: HashMap<String, Vec<String>>,
    /// Window specs by `scope:variable`: the names they use, and the values another
    /// module defines (resolved by the linker for each `.over(w)` site).
    windows: HashMap<String, (Vec<String>, Vec<Value>)>,
    /// Writers kept in variables (`w = df.write.format("parquet")`, then
    /// `w = w.partitionBy(col)`), by `scope:variable`: whether any assignment
    /// partitions, and the format one names.
    writers: HashMap<String, (bool, Option<String>)>,
    /// Where SQL texts were already turned into sites (file, first line).
    sql_seen: HashSet<(String, u32, usize)>,
    seq: usize,
    /// Parameter values by function, from the calls of an earlier walk.
    seeds: HashMap<String, HashMap<String, Value>>,
    /// What plain calls passed, by callee.
    calls: HashMap<String, Vec<CallArgs>>,
}

impl Ctx<'_> {
    /// `self.attr` / `cls.attr` inside a method of a class of this module.
    fn class_attr(&self, scope: &str, attr: &str) -> Option<Value> {
        scope.split('.').rev().find(|s| self.classes.contains(*s)).and_then(|c| self.module.get(c)).and_then(|v| v.member(attr))
    }

    fn bind(&mut self, scope: &str, name: &str, v: Option<Value>) {
        let key = format!("{scope}:{name}");
        let module_level = scope == "<module>";
        match v {
            Some(v) if module_level => {
                self.module.insert(name.to_string(), v);
            }
            Some(v) => {
                self.locals.insert(key, v);
            }
            None if module_level => {
                self.module.remove(name);
            }
            None => {
                self.locals.remove(&key);
            }
        }
    }
}

pub(crate) fn text<'a>(n: Node, src: &'a str) -> &'a str {
    &src[n.byte_range()]
}

/// Parse a Python source. `line_map` maps a 0-based row of `src` to the line reported
/// (identity + 1 for files; cell offsets for notebooks).
pub fn extract(src: &str, file: &str, line_map: &dyn Fn(usize) -> u32) -> Extracted {
    let mut parser = Parser::new();
    parser.set_language(&tree_sitter_python::LANGUAGE.into()).expect("the python grammar's ABI matches tree-sitter");
    let Some(tree) = parser.parse(src, None) else {
        return Extracted { parse_errors: true, ..Default::default() };
    };
    let root = tree.root_node();
    let (out, calls) = extract_with(src, file, line_map, root, HashMap::new());
    // A function called in this file with known strings (`process(spark, "s3a://b/")`
    // from `main`), or names another module defines (`f(df, Cols.KEY)`, resolved by the
    // linker): its parameters are those values, so read it again knowing them.
    let defined: HashSet<&str> = out.functions.iter().map(|f| f.name.as_str()).collect();
    let mut seeds: HashMap<String, HashMap<String, Vec<Value>>> = HashMap::new();
    for f in &out.functions {
        for args in calls.get(&f.name).into_iter().flatten() {
            for (i, p) in f.params.iter().enumerate() {
                let v = args.named.iter().find(|(k, _)| k == p).map(|(_, v)| v.clone()).or_else(|| args.positional.get(i).cloned().flatten());
                if let Some(v) = v.filter(|v| !v.strings().is_empty() || v.has_refs()) {
                    seeds.entry(f.name.clone()).or_default().entry(p.clone()).or_default().push(v);
                }
            }
        }
    }
    seeds.retain(|k, _| defined.contains(k.as_str()));
    if seeds.is_empty() {
        return out;
    }
    let seeds = seeds.into_iter().map(|(f, ps)| (f, ps.into_iter().filter_map(|(p, vs)| Some((p, super::value::any(vs)?))).collect())).collect();
    extract_with(src, file, line_map, root, seeds).0
}

/// The values a call passed, for seeding the callee's parameters.
#[derive(Default)]
struct CallArgs {
    positional: Vec<Option<Value>>,
    named: Vec<(String, Value)>,
}

/// One walk of a parsed file, with parameter values seeded by function name; also the
/// values every plain call passed, by callee name.
fn extract_with(src: &str, file: &str, line_map: &dyn Fn(usize) -> u32, root: Node, seeds: HashMap<String, HashMap<String, Value>>) -> (Extracted, HashMap<String, Vec<CallArgs>>) {
    let mut cx = Ctx {
        src,
        file,
        line_map,
        out: Extracted::default(),
        module: HashMap::new(),
        locals: HashMap::new(),
        star_imports: Vec::new(),
        classes: HashSet::new(),
        udfs: Vec::new(),
        producers: HashMap::new(),
        windows: HashMap::new(),
        writers: HashMap::new(),
        sql_seen: HashSet::new(),
        seq: 0,
        seeds,
        calls: HashMap::new(),
    };
    cx.out.parse_errors = root.has_error();
    facts::collect_module(&mut cx, root);
    walk(&mut cx, root, &mut vec![], None);
    // Queries kept in module constants, dicts and class attributes are sites even when
    // the call that runs them is out of sight (a helper in another module, a loop).
    let names: Vec<Value> = cx.module.values().cloned().collect();
    for v in &names {
        for t in v.all_strings() {
            if looks_like_sql(&t.text) {
                sql_text(&mut cx, &t.clone(), "<module>");
            }
        }
    }
    facts::finish(&mut cx, root);
    let mut names: Vec<(String, Value)> = cx.module.into_iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    cx.out.names = names;
    (cx.out, cx.calls)
}

/// `F.sum` → `sum`, `udf` → `udf`, `spark.read.parquet` → `parquet`.
fn callee_name(call: Node, src: &str) -> Option<String> {
    let f = call.child_by_field_name("function")?;
    Some(match f.kind() {
        "attribute" => text(f.child_by_field_name("attribute")?, src).to_string(),
        "identifier" => text(f, src).to_string(),
        _ => return None,
    })
}

fn scope_name(scopes: &[String]) -> String {
    if scopes.is_empty() { "<module>".into() } else { scopes.join(".") }
}

fn walk(cx: &mut Ctx<'_>, n: Node, scopes: &mut Vec<String>, func: Option<&mut FunctionSummary>) {
    match n.kind() {
        "function_definition" | "class_definition" => {
            let name = n.child_by_field_name("name").map(|x| text(x, cx.src).to_string()).unwrap_or_default();
            let is_udf = n.kind() == "function_definition" && cx.udfs.contains(&name);
            if is_udf {
                let mut s = new_site(cx, n, n, "udf", "python", &scope_name(scopes));
                add(&mut s.functions, name.clone());
                push_site(cx, s);
            }
            scopes.push(name.clone());
            if n.kind() == "function_definition" {
                let scope = scope_name(scopes);
                let mut summary = FunctionSummary { file: cx.file.to_string(), name: name.clone(), ..Default::default() };
                if let Some(params) = n.child_by_field_name("parameters") {
                    let mut c = params.walk();
                    for p in params.named_children(&mut c) {
                        let pn = match p.kind() {
                            "identifier" => Some(p),
                            _ => p.child_by_field_name("name").or_else(|| p.named_child(0)),
                        };
                        if let Some(pn) = pn {
                            let pname = text(pn, cx.src).to_string();
                            if pname != "self" && pname != "cls" {
                                summary.params.push(pname.clone());
                                // Parameters are DataFrames as far as the flow is concerned.
                                cx.producers.entry(format!("{scope}:{pname}")).or_default();
                                // `def f(df, key="customer_id")`: the default is what a
                                // call without the argument uses.
                                let default = p.child_by_field_name("value").and_then(|d| eval::eval(cx, d, &scope));
                                let seeded = cx.seeds.get(&name).and_then(|ps| ps.get(&pname)).cloned();
                                cx.bind(&scope, &pname, seeded.or(default));
                            }
                        }
                    }
                }
                if let Some(body) = n.child_by_field_name("body") {
                    walk(cx, body, scopes, Some(&mut summary));
                }
                cx.out.functions.push(summary);
            } else if let Some(body) = n.child_by_field_name("body") {
                walk(cx, body, scopes, None);
            }
            scopes.pop();
            return;
        }
        "expression_statement" | "return_statement" => {
            statement(cx, n, scopes, func);
            return;
        }
        "for_statement" => {
            let scope = scope_name(scopes);
            if let (Some(left), Some(right)) = (n.child_by_field_name("left"), n.child_by_field_name("right")) {
                bind_loop(cx, left, right, &scope);
                // The iterable may itself be a chain of Spark calls.
                statement_value(cx, right, n, scopes, None);
            }
            if let Some(body) = n.child_by_field_name("body") {
                walk(cx, body, scopes, func);
            }
            if let Some(alt) = n.child_by_field_name("alternative") {
                walk(cx, alt, scopes, None);
            }
            return;
        }
        "with_statement" => {
            // `with open(p) as f:` binds `f` to the file, so `f.read()` is its text.
            let scope = scope_name(scopes);
            let mut stack = vec![n];
            while let Some(x) = stack.pop() {
                if x.kind() == "as_pattern" {
                    let value = x.named_child(0);
                    let target = x.child_by_field_name("alias").and_then(|a| a.named_child(0)).or_else(|| x.named_child(1));
                    if let (Some(v), Some(t)) = (value, target)
                        && t.kind() == "identifier" {
                            let val = eval::eval(cx, v, &scope);
                            if let Some(Value::FileText(p)) = &val {
                                cx.out.facts.reads.push((**p).clone());
                            }
                            cx.bind(&scope, text(t, cx.src), val);
                        }
                    continue;
                }
                if x.kind() == "block" {
                    continue;
                }
                let mut c = x.walk();
                stack.extend(x.named_children(&mut c));
            }
        }
        _ => {}
    }
    let mut func = func;
    let mut c = n.walk();
    let children: Vec<Node> = n.children(&mut c).collect();
    for ch in children {
        walk(cx, ch, scopes, func.as_deref_mut());
    }
}

/// `for x in ITERABLE` / `for k, v in D.items()`: each name is any of the values.
fn bind_loop(cx: &mut Ctx<'_>, left: Node, right: Node, scope: &str) {
    let (base, method) = match right.kind() {
        "call" => match right.child_by_field_name("function") {
            Some(f) if f.kind() == "attribute" => (f.child_by_field_name("object"), f.child_by_field_name("attribute").map(|a| text(a, cx.src).to_string())),
            Some(f) if text(f, cx.src) == "enumerate" => (right.child_by_field_name("arguments").and_then(|a| a.named_child(0)), Some("enumerate".to_string())),
            _ => (None, None),
        },
        _ => (Some(right), None),
    };
    let Some(base) = base else { return };
    let v = eval::eval(cx, base, scope);
    let line = (cx.line_map)(right.start_position().row);
    let targets: Vec<Node> = if matches!(left.kind(), "pattern_list" | "tuple_pattern" | "tuple") {
        let mut c = left.walk();
        left.named_children(&mut c).collect()
    } else {
        vec![left]
    };
    let names: Vec<&str> = targets.iter().filter(|t| t.kind() == "identifier").map(|t| text(*t, cx.src)).collect();
    let (key, item) = match (method.as_deref(), &v) {
        (Some("items"), Some(d)) => (d.keys(cx.file, line), d.elements()),
        (Some("values"), Some(d)) => (None, d.elements()),
        (Some("keys"), Some(d)) => (d.keys(cx.file, line), None),
        (Some("enumerate"), Some(d)) => (None, d.elements()),
        (None, Some(d @ Value::Dict(_))) => (d.keys(cx.file, line), None),
        (None, Some(d)) => (d.elements(), None),
        _ => (None, None),
    };
    match (method.as_deref(), names.as_slice()) {
        (Some("items"), [k, v]) => {
            cx.bind(scope, k, key);
            cx.bind(scope, v, item);
        }
        (Some("enumerate"), [_, v]) => cx.bind(scope, v, item),
        (_, [x]) => cx.bind(scope, x, key.or(item)),
        _ => {
            for n in names {
                cx.bind(scope, n, None);
            }
        }
    }
}

/// One statement: find the assignment target, the call chains, and link the flow.
fn statement(cx: &mut Ctx<'_>, stmt: Node, scopes: &[String], func: Option<&mut FunctionSummary>) {
    let inner = if stmt.kind() == "expression_statement" { stmt.named_child(0).unwrap_or(stmt) } else { stmt };
    let (target, value) = match inner.kind() {
        "assignment" | "augmented_assignment" => (inner.child_by_field_name("left"), inner.child_by_field_name("right")),
        "return_statement" => (None, inner.named_child(0)),
        _ => (None, Some(inner)),
    };
    let Some(value) = value else { return };
    // `a = b = expr` nests assignments: the innermost right side is the value.
    let mut targets: Vec<Node> = target.into_iter().collect();
    let mut value = value;
    while value.kind() == "assignment" {
        if let Some(l) = value.child_by_field_name("left") {
            targets.push(l);
        }
        match value.child_by_field_name("right") {
            Some(r) => value = r,
            None => return,
        }
    }
    let scope = scope_name(scopes);
    // What the value is, as a string or structure, for the names it is bound to.
    if inner.kind() == "assignment" {
        let known = eval::eval(cx, value, &scope);
        if let Some(Value::FileText(p)) = &known {
            cx.out.facts.reads.push((**p).clone());
        }
        if let Some(v) = &known {
            for t in v.strings() {
                if looks_like_sql(&t.text) {
                    sql_text(cx, &t.clone(), &scope);
                }
            }
        }
        for t in &targets {
            match t.kind() {
                "identifier" => cx.bind(&scope, text(*t, cx.src), known.clone()),
                // `self.table = "x"` in a method: a class attribute for `self.table` uses.
                "attribute" if t.child_by_field_name("object").is_some_and(|o| text(o, cx.src) == "self") => {
                    if let (Some(attr), Some(v), Some(class)) = (t.child_by_field_name("attribute"), known.clone(), scopes.iter().rev().find(|s| cx.classes.contains(*s)).cloned()) {
                        let attr = text(attr, cx.src).to_string();
                        if let Some(Value::Dict(entries)) = cx.module.get_mut(&class) {
                            entries.push((attr, v));
                        }
                    }
                }
                "pattern_list" | "tuple_pattern" | "tuple" => {
                    let mut c = t.walk();
                    let names: Vec<Node> = t.named_children(&mut c).collect();
                    let items = match &known {
                        Some(Value::List(items)) if items.len() == names.len() => items.iter().cloned().map(Some).collect(),
                        _ => vec![None; names.len()],
                    };
                    for (nm, v) in names.iter().zip(items) {
                        if nm.kind() == "identifier" {
                            cx.bind(&scope, text(*nm, cx.src), v);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if inner.kind() == "return_statement"
        && let Some(Value::FileText(p)) = eval::eval(cx, value, &scope) {
            // `return open(path).read()`: a query file the helper hands back.
            cx.out.facts.reads.push(*p);
        }
    let target = targets.first().copied();
    let before = cx.out.sites.len();
    let last = statement_value(cx, value, stmt, scopes, target);
    link_statement(cx, stmt, value, scopes, target, func, before, last);
}

/// The Spark calls of a statement's value (and the window spec it may define); returns
/// the site whose value the expression produces, if any.
fn statement_value(cx: &mut Ctx<'_>, value: Node, stmt: Node, scopes: &[String], target: Option<Node>) -> Option<usize> {
    let scope = scope_name(scopes);
    // Writers: `w = df.write.mode(...)`, `w = w.partitionBy(...)`.
    if let Some(t) = target {
        let vt = text(value, cx.src);
        let key = format!("{scope}:{}", text(t, cx.src));
        let root = chain_root_identifier(value, cx.src).map(|r| format!("{scope}:{r}"));
        let known = root.as_ref().and_then(|r| cx.writers.get(r)).cloned();
        if vt.contains(".write") || known.is_some() {
            let (was_partitioned, was_format) = known.unwrap_or_default();
            let format = spine_format(cx, value, &scope).or(was_format);
            let entry = cx.writers.entry(key).or_default();
            entry.0 |= was_partitioned || vt.contains("partitionBy(");
            entry.1 = entry.1.take().or(format);
        }
    }
    // Window specs: `w = Window.partitionBy(...).orderBy(...)`.
    if let Some(t) = target {
        // `(Window\n .partitionBy(...)\n .orderBy(...))` spread over lines in parentheses.
        let vt = text(value, cx.src).trim_start_matches(|c: char| c == '(' || c.is_whitespace());
        if vt.starts_with("Window") || vt.contains(" Window.") {
            let (mut cols, mut refs) = (Vec::new(), Vec::new());
            collect_names(cx, value, &scope, &mut cols, &mut refs);
            cx.windows.insert(format!("{scope}:{}", text(t, cx.src)), (cols, refs));
        }
    }
    chain_sites(cx, value, stmt, &scope)
}

/// Data flow of one statement: helper calls for the linker, the variable it assigns,
/// and for a function body which sites consume its parameters and produce its result.
#[allow(clippy::too_many_arguments)]
fn link_statement(cx: &mut Ctx<'_>, stmt: Node, value: Node, scopes: &[String], target: Option<Node>, func: Option<&mut FunctionSummary>, before: usize, last: Option<usize>) {
    let scope = scope_name(scopes);
    let before_calls = cx.out.calls.len();
    // Helper calls `x = helper(df)` (or just `helper(df)`): remember for cross-file linking.
    if value.kind() == "call"
        && let Some(name) = callee_name(value, cx.src)
        && value.child_by_field_name("function").is_some_and(|f| matches!(f.kind(), "identifier" | "attribute"))
        && kind_of(&name, &[]).is_none()
    {
        let f = value.child_by_field_name("function").expect("checked above");
        // `m.helper(df)` where `m` is an imported module, or a name from `from m import helper`.
        let module = match f.kind() {
            "attribute" => f.child_by_field_name("object").and_then(|o| match cx.module.get(text(o, cx.src)) {
                Some(Value::Ref(r)) if r.path.is_empty() => Some(r.module.clone()),
                _ => None,
            }),
            _ => match cx.module.get(&name) {
                Some(Value::Ref(r)) => Some(r.module.clone()),
                _ => None,
            },
        };
        let is_plain = f.kind() == "identifier" || module.is_some();
        if is_plain {
            let args: Vec<Vec<String>> = value
                .child_by_field_name("arguments")
                .map(|a| {
                    let mut c = a.walk();
                    a.named_children(&mut c).map(|x| cx.producers.get(&format!("{scope}:{}", text(x, cx.src))).cloned().unwrap_or_default()).collect()
                })
                .unwrap_or_default();
            let assigned = target.map(|t| format!("{scope}:{}", text(t, cx.src))).unwrap_or_default();
            cx.out.calls.push(HelperCall { callee: name, module, file: cx.file.to_string(), arg_sources: args, assigned });
        }
    }
    if let Some(t) = target {
        let var = format!("{scope}:{}", text(t, cx.src));
        if let Some(last) = last {
            cx.out.sites[last].outputs.push(var.clone());
            cx.producers.insert(var, vec![cx.out.sites[last].id.clone()]);
        } else if value.kind() == "identifier" {
            // `b = a`: alias.
            if let Some(p) = cx.producers.get(&format!("{scope}:{}", text(value, cx.src))).cloned() {
                cx.producers.insert(var, p);
            }
        } else if cx.out.calls.len() > before_calls && cx.out.calls.last().is_some_and(|c| c.assigned == var) {
            // The producer is in the helper; it is linked once every file is read.
            cx.producers.insert(var, Vec::new());
        } else {
            cx.producers.remove(&var);
        }
    }
    if let Some(f) = func {
        if stmt.kind() == "return_statement" {
            if let Some(last) = last {
                f.return_sites.push(cx.out.sites[last].id.clone());
            } else if value.kind() == "identifier"
                && let Some(p) = cx.producers.get(&format!("{scope}:{}", text(value, cx.src))) {
                    f.return_sites.extend(p.iter().cloned());
                }
        }
        for i in before..cx.out.sites.len() {
            for (pi, p) in f.params.clone().iter().enumerate() {
                let pv = format!("{scope}:{p}");
                if cx.out.sites[i].inputs.contains(&pv) && !f.param_sites.iter().any(|(k, _)| *k == pi) {
                    f.param_sites.push((pi, cx.out.sites[i].id.clone()));
                }
            }
        }
    }
}

/// Make sites for every Spark call in `expr` (outermost chain first) and link them.
/// Returns the index of the site whose value the expression produces, if any.
fn chain_sites(cx: &mut Ctx<'_>, expr: Node, stmt: Node, scope: &str) -> Option<usize> {
    // Find all calls in pre-order; handle each `X.method(...)` call once.
    let mut calls = Vec::new();
    collect_calls(expr, &mut calls);
    let mut made: Vec<(usize, usize)> = Vec::new(); // (call node id, site index)
    let mut result = None;
    // Process innermost first so a chain's earlier calls exist when later ones link.
    calls.sort_by_key(|c| std::cmp::Reverse(c.start_byte()));
    calls.sort_by_key(|c| c.end_byte());
    for call in calls {
        let Some(f) = call.child_by_field_name("function") else { continue };
        if f.kind() == "attribute" {
            let Some(attr) = f.child_by_field_name("attribute") else { continue };
            let Some(obj) = f.child_by_field_name("object") else { continue };
            let method = text(attr, cx.src).to_string();
            let chain = receiver_chain(obj, cx.src);
            let root = chain.first().map(String::as_str).unwrap_or("");
            if method == "sql" && !NOT_SPARK_SQL.contains(&root) && obj.kind() != "string" {
                sql_call(cx, call, scope);
                continue;
            }
            if VIEW_METHODS.contains(&method.as_str()) {
                register_view(cx, call, obj, &made, scope);
                continue;
            }
            if method == "run" && chain.iter().any(|c| c == "notebook") {
                facts::note_run(cx, call, scope);
                continue;
            }
            if matches!(method.as_str(), "appName" | "setAppName" | "setJobDescription" | "setJobGroup" | "setLocalProperty") {
                facts::note_name(cx, call, &method, scope);
                continue;
            }
            // `Window.partitionBy(...).orderBy(...)` is a spec, used through `.over(w)`.
            if NOT_DATAFRAMES.contains(&root) || root == "Window" || obj.kind() == "string" {
                continue;
            }
            if method == "register" && chain.iter().any(|c| c == "udf") {
                let mut s = new_site(cx, call, stmt, "udf", "python", scope);
                collect_args(cx, call, "register", scope, &mut s);
                let names: Vec<String> = s.literals.drain(..).collect();
                for n in names {
                    add(&mut s.functions, n.clone());
                    cx.udfs.push(n);
                }
                push_site(cx, s);
                continue;
            }
            let Some(kind) = kind_of(&method, &chain) else { continue };
            let mut s = new_site(cx, attr, stmt, kind, "python", scope);
            s.line_end = (cx.line_map)(call.end_position().row);
            s.snippet = bounded(text(call, cx.src));
            collect_args(cx, call, &method, scope, &mut s);
            if method == "withColumn" {
                defined_by(cx, call, scope, &mut s);
            }
            // `.count()`, `groupBy(...).sum("x")`, `.collect()`: the method is the
            // aggregate (or action) the plan names.
            if matches!(kind, "action" | "aggregate") && !matches!(method.as_str(), "groupBy" | "groupby" | "agg" | "rollup" | "cube" | "pivot") {
                add(&mut s.functions, method.clone());
            }
            if let Some(c) = super::kinds::output_column(kind, &method) {
                add(&mut s.columns, c);
            }
            for m in super::kinds::marks(kind, &method, &chain) {
                add(&mut s.functions, m);
            }
            // The statistics `describe()` computes (and `summary()`, with percentiles).
            if kind == "describe" {
                for f in ["count", "avg", "stddev", "min", "max"].into_iter().chain((method == "summary").then_some("percentile_approx")) {
                    add(&mut s.functions, f);
                }
            }
            if method == "crossJoin" {
                add(&mut s.functions, "crossJoin");
            }
            if kind == "join" {
                join_hints(cx, call, obj, scope, &mut s);
            }
            if kind == "read" || kind == "table" || kind == "write" {
                reader_format(cx, call, obj, &method, scope, &mut s);
            }
            if kind == "write" {
                writer_facts(cx, call, obj, &chain, scope, &mut s);
            }
            if kind == "window" {
                // `.over(w)`: the spec's columns, and the window function called on.
                if let Some(args) = call.child_by_field_name("arguments") {
                    let mut c = args.walk();
                    for a in args.named_children(&mut c) {
                        let key = text(a, cx.src).to_string();
                        if let Some((cols, refs)) = cx.windows.get(&format!("{scope}:{key}")).or_else(|| cx.windows.get(&format!("<module>:{key}"))).cloned() {
                            for col in cols {
                                add(&mut s.columns, col);
                            }
                            // `Window.partitionBy(Model.key)` with `Model` imported.
                            for value in refs {
                                cx.out.pending.push(PendingTerm { site: s.id.clone(), field: TermField::Column, value });
                            }
                        }
                    }
                }
                if obj.kind() == "call"
                    && let Some(fname) = callee_name(obj, cx.src) {
                        add(&mut s.functions, fname);
                    }
            }
            if let Some(t) = source_table(cx, call, &method, scope, &s.id) {
                add(&mut s.tables, t);
            }
            // Flow: the receiver (a variable, or the previous call of the chain).
            let root_var = chain_root_identifier(obj, cx.src);
            let idx = push_site(cx, s);
            if let Some(prev) = made.iter().rev().find(|(nid, _)| is_within(obj, *nid)).map(|(_, i)| *i) {
                let (a, b) = (cx.out.sites[prev].id.clone(), cx.out.sites[idx].id.clone());
                cx.out.edges.push((a, b));
                if obj.kind() == "call" && callee_name(obj, cx.src).is_some_and(|r| super::kinds::aggregates_grouped(kind, &method, &r)) {
                    for c in cx.out.sites[prev].columns.clone() {
                        add(&mut cx.out.sites[idx].columns, c);
                    }
                }
            } else if kind == "window" {
                window_input(cx, call, &made, scope, idx);
            } else if let Some(v) = root_var {
                link_var(cx, &format!("{scope}:{v}"), idx);
            }
            // Other DataFrames passed as arguments (`a.join(b, ...)`, `a.join(F.broadcast(b))`).
            if let Some(args) = call.child_by_field_name("arguments") {
                let mut ids = Vec::new();
                identifiers(args, cx.src, &mut ids);
                for id in ids {
                    link_var(cx, &format!("{scope}:{id}"), idx);
                }
            }
            made.push((call.id(), idx));
            if call.end_byte() == expr.end_byte() || is_outer_value(call, expr) {
                result = Some(idx);
            }
        } else if f.kind() == "identifier" && text(f, cx.src) == "display" {
            // Databricks `display(df)` fetches a bounded preview: a limit in the plan.
            let mut s = new_site(cx, f, stmt, "action", "python", scope);
            s.line_end = (cx.line_map)(call.end_position().row);
            s.snippet = bounded(text(call, cx.src));
            add(&mut s.functions, "display");
            let idx = push_site(cx, s);
            let args = call.child_by_field_name("arguments");
            if let Some(prev) = args.and_then(|a| made.iter().rev().find(|(nid, _)| is_within(a, *nid))).map(|(_, i)| *i) {
                let (a, b) = (cx.out.sites[prev].id.clone(), cx.out.sites[idx].id.clone());
                cx.out.edges.push((a, b));
            } else if let Some(a) = args {
                let mut ids = Vec::new();
                identifiers(a, cx.src, &mut ids);
                for id in ids {
                    link_var(cx, &format!("{scope}:{id}"), idx);
                }
            }
            made.push((call.id(), idx));
        } else if f.kind() == "identifier" {
            // A plain call (`run_query(spark, Q)`): queries among its arguments are sites,
            // and the values it passes seed the callee's parameters.
            if let Some(args) = call.child_by_field_name("arguments") {
                let mut c = args.walk();
                let kids: Vec<Node> = args.named_children(&mut c).collect();
                let mut passed = CallArgs::default();
                for a in kids {
                    let (name, expr) = match a.kind() {
                        "keyword_argument" => (a.child_by_field_name("name").map(|n| text(n, cx.src).to_string()), a.child_by_field_name("value")),
                        _ => (None, Some(a)),
                    };
                    let v = expr.and_then(|e| eval::eval(cx, e, scope));
                    if let Some(v) = &v {
                        for t in v.strings() {
                            if looks_like_sql(&t.text) {
                                sql_text(cx, &t.clone(), scope);
                            }
                        }
                    }
                    match (name, v) {
                        (Some(n), Some(v)) => passed.named.push((n, v)),
                        (Some(_), None) => {}
                        (None, v) => passed.positional.push(v),
                    }
                }
                cx.calls.entry(text(f, cx.src).to_string()).or_default().push(passed);
            }
        }
    }
    result.or_else(|| made.last().map(|(_, i)| *i).filter(|_| expr.kind() == "call"))
}

fn is_outer_value(call: Node, expr: Node) -> bool {
    // `(chain)` in parentheses, or the expression itself.
    let mut e = expr;
    while e.kind() == "parenthesized_expression" {
        match e.named_child(0) {
            Some(x) => e = x,
            None => break,
        }
    }
    e.id() == call.id()
}

fn is_within(obj: Node, node_id: usize) -> bool {
    let mut stack = vec![obj];
    while let Some(n) = stack.pop() {
        if n.id() == node_id {
            return true;
        }
        // Only follow the receiver spine (calls and attributes), not arguments.
        match n.kind() {
            "call" => {
                if let Some(f) = n.child_by_field_name("function") {
                    stack.push(f);
                }
            }
            "attribute" => {
                if let Some(o) = n.child_by_field_name("object") {
                    stack.push(o);
                }
            }
            "parenthesized_expression" => {
                if let Some(x) = n.named_child(0) {
                    stack.push(x);
                }
            }
            _ => {}
        }
    }
    false
}

/// The column a `withColumn` defines, as a `sdk::DEFINES` mark: every value its first
/// argument may hold (a helper's parameter takes each caller's name), another module's
/// through the linker.
fn defined_by(cx: &mut Ctx<'_>, call: Node, scope: &str, s: &mut Site) {
    if let Some(first) = call.child_by_field_name("arguments").and_then(|a| a.named_child(0)) {
        let marks = defines_marks(cx, first, scope, &s.id);
        for m in marks {
            add(&mut s.functions, m);
        }
    }
}

/// The `sdk::DEFINES` marks for the column `name` evaluates to; a value another module
/// defines is left to the linker for site `site`.
fn defines_marks(cx: &mut Ctx<'_>, name: Node, scope: &str, site: &str) -> Vec<String> {
    match eval::eval(cx, name, scope) {
        Some(v) if v.has_refs() => {
            cx.out.pending.push(PendingTerm { site: site.to_string(), field: TermField::Defines, value: v });
            Vec::new()
        }
        Some(v) => v.all_strings().iter().map(|t| format!("{}{}", planmap_plugin_sdk::DEFINES, t.text)).collect(),
        None => Vec::new(),
    }
}

/// `df.withColumn("r", row_number().over(w))`: the window runs over the DataFrame the
/// call holding it in its arguments is called on, so that DataFrame feeds it.
fn window_input(cx: &mut Ctx<'_>, call: Node, made: &[(usize, usize)], scope: &str, idx: usize) {
    let mut up = call.parent();
    while let Some(a) = up {
        if a.kind() == "call"
            && let Some(obj) = a.child_by_field_name("function").filter(|f| f.kind() == "attribute").and_then(|f| f.child_by_field_name("object")) {
                if let Some(prev) = made.iter().rev().find(|(nid, _)| is_within(obj, *nid)).map(|(_, i)| *i) {
                    let (from, to) = (cx.out.sites[prev].id.clone(), cx.out.sites[idx].id.clone());
                    cx.out.edges.push((from, to));
                } else if let Some(v) = chain_root_identifier(obj, cx.src) {
                    link_var(cx, &format!("{scope}:{v}"), idx);
                }
                // The column it defines: `withColumn`'s first argument.
                let method = a.child_by_field_name("function").and_then(|f| f.child_by_field_name("attribute")).map(|m| text(m, cx.src));
                let first = a.child_by_field_name("arguments").and_then(|x| x.named_child(0)).filter(|x| x.id() != call.id() && !is_within(*x, call.id()));
                if let (Some("withColumn"), Some(name)) = (method, first) {
                    let id = cx.out.sites[idx].id.clone();
                    for m in defines_marks(cx, name, scope, &id) {
                        add(&mut cx.out.sites[idx].functions, m);
                    }
                }
                return;
            }
        up = a.parent();
    }
}

fn link_var(cx: &mut Ctx<'_>, var: &str, idx: usize) {
    // A known DataFrame variable (its producers may be resolved later, across files).
    if let Some(prods) = cx.producers.get(var).cloned() {
        add(&mut cx.out.sites[idx].inputs, var.to_string());
        let to = cx.out.sites[idx].id.clone();
        for p in prods {
            if p != to {
                cx.out.edges.push((p, to.clone()));
            }
        }
        cx.out.consumers.entry(var.to_string()).or_default().push(to);
    }
}

fn identifiers(n: Node, src: &str, out: &mut Vec<String>) {
    match n.kind() {
        "identifier" => out.push(text(n, src).to_string()),
        "keyword_argument" => {
            if let Some(v) = n.child_by_field_name("value") {
                identifiers(v, src, out);
            }
        }
        // `F.col(...)`: only the call's arguments can be DataFrames, not `F`.
        "attribute" => {}
        "call" => {
            if let Some(a) = n.child_by_field_name("arguments") {
                identifiers(a, src, out);
            }
        }
        _ => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            for k in kids {
                identifiers(k, src, out);
            }
        }
    }
}

fn collect_calls<'t>(n: Node<'t>, out: &mut Vec<Node<'t>>) {
    if n.kind() == "call" {
        out.push(n);
    }
    if matches!(n.kind(), "lambda" | "function_definition" | "class_definition") {
        return;
    }
    let mut c = n.walk();
    for ch in n.children(&mut c) {
        collect_calls(ch, out);
    }
}

/// The names along a receiver: `spark.read.format("x")` → [spark, read, format].
fn receiver_chain(obj: Node, src: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut n = obj;
    loop {
        match n.kind() {
            "identifier" => {
                names.push(text(n, src).to_string());
                break;
            }
            "attribute" => {
                if let Some(a) = n.child_by_field_name("attribute") {
                    names.push(text(a, src).to_string());
                }
                match n.child_by_field_name("object") {
                    Some(o) => n = o,
                    None => break,
                }
            }
            "call" => match n.child_by_field_name("function") {
                Some(f) => n = f,
                None => break,
            },
            "parenthesized_expression" => match n.named_child(0) {
                Some(x) => n = x,
                None => break,
            },
            _ => break,
        }
    }
    names.reverse();
    names
}

fn chain_root_identifier(obj: Node, src: &str) -> Option<String> {
    let chain = receiver_chain(obj, src);
    chain.first().cloned()
}

fn new_site(cx: &mut Ctx<'_>, at: Node, stmt: Node, kind: &str, language: &str, scope: &str) -> Site {
    cx.seq += 1;
    let line = (cx.line_map)(at.start_position().row);
    Site {
        id: format!("{}:{}:{}:{}", cx.file, line, at.start_position().column + 1, kind),
        file: cx.file.to_string(),
        symbol: scope.to_string(),
        line_start: line,
        line_end: (cx.line_map)(at.end_position().row),
        statement_start: (cx.line_map)(stmt.start_position().row),
        statement_end: (cx.line_map)(stmt.end_position().row),
        kind: kind.to_string(),
        language: language.to_string(),
        snippet: bounded(text(at, cx.src)),
        ..Default::default()
    }
}

fn push_site(cx: &mut Ctx<'_>, s: Site) -> usize {
    // Two sites at one position (e.g. `.count()` seen twice) keep the first.
    if let Some(i) = cx.out.sites.iter().rposition(|x| x.id == s.id) {
        return i;
    }
    cx.out.sites.push(s);
    cx.out.sites.len() - 1
}

/// Every string an expression names, literally or through values (window specs); a
/// value another module defines goes to `refs`, for the linker.
fn collect_names(cx: &Ctx<'_>, n: Node, scope: &str, out: &mut Vec<String>, refs: &mut Vec<Value>) {
    match n.kind() {
        "string" | "identifier" | "attribute" | "subscript" => {
            if let Some(v) = eval::eval(cx, n, scope) {
                if v.has_refs() {
                    refs.push(v);
                    return;
                }
                for t in v.all_strings() {
                    add(out, t.text.clone());
                }
                return;
            }
            if n.kind() == "string" {
                return;
            }
        }
        // `F.col("year").cast("long")`: the argument is a type, not a name.
        "call" if callee_name(n, cx.src).is_some_and(|f| matches!(f.as_str(), "cast" | "astype")) => {
            if let Some(f) = n.child_by_field_name("function") {
                collect_names(cx, f, scope, out, refs);
            }
            return;
        }
        _ => {}
    }
    let mut c = n.walk();
    for ch in n.named_children(&mut c) {
        collect_names(cx, ch, scope, out, refs);
    }
}

/// The table or path a read/write names (a literal, or a value the index knows; one
/// another module defines is resolved by the linker).
fn source_table(cx: &mut Ctx<'_>, call: Node, method: &str, scope: &str, site: &str) -> Option<String> {
    if !SOURCE_METHODS.contains(&method) {
        return None;
    }
    let args = call.child_by_field_name("arguments")?;
    let first = args.named_child(0)?;
    let first = if first.kind() == "keyword_argument" { first.child_by_field_name("value")? } else { first };
    let v = eval::eval(cx, first, scope)?;
    if v.has_refs() {
        cx.out.pending.push(PendingTerm { site: site.to_string(), field: TermField::Table, value: v });
        return None;
    }
    v.all_strings().first().map(|t| t.text.clone())
}

/// A write that partitions its output (`partitionBy(...)` in its chain, a
/// `partitionBy=` argument, or a writer variable some assignment partitioned) is marked
/// `sdk::PARTITIONED`; a writer variable's format is the write's too.
fn writer_facts(cx: &Ctx<'_>, call: Node, obj: Node, chain: &[String], scope: &str, s: &mut Site) {
    let kwarg = call.child_by_field_name("arguments").is_some_and(|a| {
        let mut c = a.walk();
        a.named_children(&mut c).any(|k| k.kind() == "keyword_argument" && k.child_by_field_name("name").is_some_and(|n| text(n, cx.src) == "partitionBy"))
    });
    let var = chain_root_identifier(obj, cx.src).and_then(|r| cx.writers.get(&format!("{scope}:{r}")).or_else(|| cx.writers.get(&format!("<module>:{r}"))));
    if chain.iter().any(|m| m == "partitionBy") || kwarg || var.is_some_and(|(p, _)| *p) {
        add(&mut s.functions, planmap_plugin_sdk::PARTITIONED);
    }
    if let Some(f) = var.and_then(|(_, f)| f.clone())
        && !s.functions.iter().any(|x| x.starts_with("format:")) {
            add(&mut s.functions, format_mark(&f));
        }
}

/// The format a read or write names: its method (`.parquet(...)`), `.format("x")` in
/// its chain, or `format="x"`. Kept among the site's functions as `format:<name>`.
fn reader_format(cx: &Ctx<'_>, call: Node, obj: Node, method: &str, scope: &str, s: &mut Site) {
    const FORMATS: &[&str] = &["parquet", "csv", "json", "orc", "text", "avro", "jdbc", "delta", "textFile", "xml", "binaryFile", "iceberg"];
    let mut found: Option<String> = FORMATS.contains(&method).then(|| method.to_lowercase().replace("textfile", "text")).or_else(|| spine_format(cx, obj, scope));
    if found.is_none()
        && let Some(args) = call.child_by_field_name("arguments") {
            let mut c = args.walk();
            for a in args.named_children(&mut c).filter(|a| a.kind() == "keyword_argument") {
                if a.child_by_field_name("name").is_some_and(|k| text(k, cx.src) == "format")
                    && let Some(t) = a.child_by_field_name("value").and_then(|v| eval::eval(cx, v, scope)).and_then(|v| v.str().map(|t| t.text.clone())) {
                        found = Some(t.to_lowercase());
                    }
            }
        }
    if let Some(f) = found {
        add(&mut s.functions, format_mark(&f));
    }
}

/// The format a `.format("avro")` call on `n`'s receiver spine names (`.option(...)`
/// calls and attributes between are passed), lowercase.
fn spine_format(cx: &Ctx<'_>, mut n: Node, scope: &str) -> Option<String> {
    loop {
        match n.kind() {
            "call" => {
                let f = n.child_by_field_name("function")?;
                if f.kind() == "attribute"
                    && f.child_by_field_name("attribute").is_some_and(|a| text(a, cx.src) == "format")
                    && let Some(a) = n.child_by_field_name("arguments").and_then(|a| a.named_child(0))
                    && let Some(t) = eval::eval(cx, a, scope).and_then(|v| v.str().map(|t| t.text.clone())) {
                        return Some(t.to_lowercase());
                    }
                n = f;
            }
            "attribute" => n = n.child_by_field_name("object")?,
            _ => return None,
        }
    }
}

/// A format as a site's `format:<name>` function: `format("com.databricks.spark.csv")`
/// and `org.apache.spark.sql.parquet` name the format by its package.
fn format_mark(f: &str) -> String {
    format!("format:{}", f.rsplit('.').next().unwrap_or(f))
}

/// `a.hint("merge").join(b.hint("broadcast"), …)`: the hints on either side, as
/// `hint:<name>` functions.
fn join_hints(cx: &Ctx<'_>, call: Node, obj: Node, scope: &str, s: &mut Site) {
    let mut stack = vec![obj];
    if let Some(a) = call.child_by_field_name("arguments") {
        stack.push(a);
    }
    while let Some(n) = stack.pop() {
        if n.kind() == "call"
            && let Some(f) = n.child_by_field_name("function").filter(|f| f.kind() == "attribute")
            && f.child_by_field_name("attribute").is_some_and(|a| text(a, cx.src) == "hint")
            && let Some(h) = n.child_by_field_name("arguments").and_then(|a| a.named_child(0)).and_then(|a| eval::eval(cx, a, scope)).and_then(|v| v.str().map(|t| t.text.to_ascii_lowercase())) {
                add(&mut s.functions, format!("hint:{h}"));
            }
        if matches!(n.kind(), "lambda" | "string") {
            continue;
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
}

/// Columns, literals and functions from a call's arguments.
fn collect_args(cx: &mut Ctx<'_>, call: Node, method: &str, scope: &str, s: &mut Site) {
    let Some(args) = call.child_by_field_name("arguments") else { return };
    if matches!(method, "createDataFrame" | "createDataset") {
        return created_frame_args(cx, args, method, scope, s);
    }
    let sql_like = matches!(method, "filter" | "where" | "selectExpr" | "expr");
    visit_arg(cx, args, method, true, sql_like, scope, s);
}

/// `spark.createDataFrame(rows, ["name", "age"])` (or `schema=`, a DDL string
/// `"name string, age int"`, a `StructType` of `StructField`s): the schema names the
/// columns the plan's scan outputs; the rows are literals.
fn created_frame_args(cx: &mut Ctx<'_>, args: Node, method: &str, scope: &str, s: &mut Site) {
    let mut c = args.walk();
    let kids: Vec<Node> = args.named_children(&mut c).collect();
    let mut position = 0;
    for k in kids {
        let (schema, value) = match k.kind() {
            "keyword_argument" => (k.child_by_field_name("name").is_some_and(|n| text(n, cx.src) == "schema"), k.child_by_field_name("value")),
            _ => {
                position += 1;
                (position == 2, Some(k))
            }
        };
        let Some(v) = value else { continue };
        if !schema {
            visit_arg(cx, v, method, true, false, scope, s);
            continue;
        }
        match eval::eval(cx, v, scope).and_then(|x| x.str().map(|t| t.text.clone())) {
            // A DDL schema: each field's name is its first word.
            Some(ddl) if ddl.contains(' ') || ddl.contains(':') => {
                for field in ddl.split(',') {
                    if let Some(name) = field.split(|ch: char| ch.is_whitespace() || ch == ':').find(|w| !w.is_empty()) {
                        add(&mut s.columns, name.trim_matches('`').to_string());
                    }
                }
            }
            _ => visit_arg(cx, v, "toDF", true, false, scope, s),
        }
    }
}

/// Record one string an argument names, by where it appears.
fn string_term(v: String, method: &str, direct: bool, sql_like: bool, s: &mut Site) {
    if sql_like && direct {
        for c in sql::clauses(&format!("SELECT {v}")) {
            for col in c.columns {
                add(&mut s.columns, col);
            }
            for l in c.literals {
                add(&mut s.literals, l);
            }
            for f in c.functions {
                add(&mut s.functions, f);
            }
        }
    } else if method == "join" && JOIN_TYPES.contains(&v.to_ascii_lowercase().as_str()) {
        add(&mut s.literals, v);
    } else if (direct && COLUMN_METHODS.contains(&method)) || COLUMN_CALLS.contains(&method) || (direct && method == "join") {
        add(&mut s.columns, v);
    } else if direct && SOURCE_METHODS.contains(&method) {
        add(&mut s.tables, v);
    } else {
        add(&mut s.literals, v);
    }
}

/// Where a term of another module's value goes, by where it appears.
fn pending_field(method: &str, direct: bool) -> TermField {
    if (direct && (COLUMN_METHODS.contains(&method) || method == "join")) || COLUMN_CALLS.contains(&method) {
        TermField::Column
    } else if direct && SOURCE_METHODS.contains(&method) {
        TermField::Table
    } else {
        TermField::Literal
    }
}

#[allow(clippy::too_many_arguments)]
fn visit_arg(cx: &mut Ctx<'_>, n: Node, method: &str, direct: bool, sql_like: bool, scope: &str, s: &mut Site) {
    match n.kind() {
        "string" | "concatenated_string" | "binary_operator" | "identifier" | "subscript" | "attribute" | "list" | "tuple" if !matches!(n.kind(), "attribute") || attribute_value(cx, n, scope) => {
            let known = eval::eval(cx, n, scope);
            match known {
                Some(v) if v.has_refs() => {
                    cx.out.pending.push(PendingTerm { site: s.id.clone(), field: pending_field(method, direct), value: v });
                }
                Some(v) => {
                    let list = matches!(v, Value::List(_));
                    for t in v.all_strings() {
                        string_term(t.text.clone(), method, direct || list, sql_like, s);
                    }
                }
                None => match n.kind() {
                    // `df["col"]` with a name the index cannot evaluate.
                    "subscript" => {
                        if let Some(sub) = n.child_by_field_name("subscript")
                            && let Some(v) = eval::eval(cx, sub, scope) {
                                if v.has_refs() {
                                    // `df[Cols.AMOUNT]` with the name in another module.
                                    cx.out.pending.push(PendingTerm { site: s.id.clone(), field: TermField::Column, value: v });
                                } else {
                                    for t in v.strings() {
                                        add(&mut s.columns, t.text.clone());
                                    }
                                }
                            }
                    }
                    "list" | "tuple" | "binary_operator" => {
                        let mut c = n.walk();
                        let kids: Vec<Node> = n.named_children(&mut c).collect();
                        for k in kids {
                            visit_arg(cx, k, method, direct && n.kind() != "binary_operator", sql_like, scope, s);
                        }
                    }
                    "attribute" => column_attribute(cx, n, s),
                    _ => {}
                },
            }
        }
        "attribute" => column_attribute(cx, n, s),
        "integer" | "float" => add(&mut s.literals, text(n, cx.src).to_string()),
        "call" => {
            let name = callee_name(n, cx.src).unwrap_or_default();
            if !name.is_empty() {
                add(&mut s.functions, name.clone());
                if cx.udfs.contains(&name) {
                    add(&mut s.functions, "udf".to_string());
                }
            }
            // A call whose value the index knows (`"a,b".split(",")` aside): its strings.
            if let Some(v) = eval::eval(cx, n, scope).filter(|v| v.str().is_some()) {
                for t in v.strings() {
                    string_term(t.text.clone(), method, direct, sql_like, s);
                }
                return;
            }
            // The receiver of a method call inside the arguments (`F.col("a").alias("b")`).
            if let Some(f) = n.child_by_field_name("function")
                && f.kind() == "attribute"
                    && let Some(o) = f.child_by_field_name("object") {
                        visit_arg(cx, o, method, false, sql_like, scope, s);
                    }
            if let Some(a) = n.child_by_field_name("arguments") {
                let inner_sql = matches!(name.as_str(), "expr");
                let mut c = a.walk();
                let kids: Vec<Node> = a.named_children(&mut c).collect();
                for k in kids {
                    visit_arg(cx, k, &name, true, inner_sql, scope, s);
                }
            }
        }
        "keyword_argument" => {
            let key = n.child_by_field_name("name").map(|k| text(k, cx.src).to_string()).unwrap_or_default();
            if let Some(v) = n.child_by_field_name("value") {
                // `on=`, `subset=`, `cols=` hold columns; `how=` a join type literal.
                let m = if matches!(key.as_str(), "on" | "subset" | "cols" | "partitionBy") { "select" } else { "" };
                visit_arg(cx, v, if m.is_empty() { method } else { m }, !m.is_empty() || direct, sql_like, scope, s);
            }
        }
        "list_comprehension" | "generator_expression" | "set_comprehension" => {
            // `[F.col(c) for c in COLS]`: the body with the loop name bound to each item.
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            for k in kids.iter().filter(|k| k.kind() == "for_in_clause") {
                if let (Some(l), Some(r)) = (k.child_by_field_name("left"), k.child_by_field_name("right")) {
                    bind_loop(cx, l, r, scope);
                }
            }
            if let Some(body) = n.child_by_field_name("body") {
                visit_arg(cx, body, method, direct, sql_like, scope, s);
            }
        }
        _ => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            let list = matches!(n.kind(), "list" | "tuple" | "argument_list" | "list_splat" | "parenthesized_expression");
            for k in kids {
                visit_arg(cx, k, method, direct && list, sql_like, scope, s);
            }
        }
    }
}

/// Whether an attribute expression names a value (`Cols.rating`, `cfg.path`, `self.t`)
/// rather than a DataFrame column (`df.amount`) or a function (`F.col`).
fn attribute_value(cx: &Ctx<'_>, n: Node, scope: &str) -> bool {
    eval::eval(cx, n, scope).is_some()
}

/// `df.amount` on a DataFrame variable: the column `amount`.
fn column_attribute(cx: &Ctx<'_>, n: Node, s: &mut Site) {
    if let (Some(o), Some(a)) = (n.child_by_field_name("object"), n.child_by_field_name("attribute")) {
        let on = text(o, cx.src);
        if o.kind() == "identifier" && !matches!(on, "F" | "f" | "functions" | "T" | "types" | "Window" | "spark" | "self") && !NOT_DATAFRAMES.contains(&on) {
            add(&mut s.columns, text(a, cx.src).to_string());
        }
    }
}

/// `df.createOrReplaceTempView("orders")`: SQL that reads `orders` reads what produced
/// `df` (the linker adds the flow).
fn register_view(cx: &mut Ctx<'_>, call: Node, obj: Node, made: &[(usize, usize)], scope: &str) {
    // `for name in (...): ….createOrReplaceTempView(name)` registers each of them.
    let Some(v) = call.child_by_field_name("arguments").and_then(|a| a.named_child(0)).and_then(|a| eval::eval(cx, a, scope)) else { return };
    let names: Vec<String> = v.strings().into_iter().map(|t| t.text.clone()).collect();
    if names.is_empty() {
        return;
    }
    let producers = if let Some(prev) = made.iter().rev().find(|(nid, _)| is_within(obj, *nid)).map(|(_, i)| *i) {
        vec![cx.out.sites[prev].id.clone()]
    } else {
        chain_root_identifier(obj, cx.src).and_then(|v| cx.producers.get(&format!("{scope}:{v}")).or_else(|| cx.producers.get(&format!("<module>:{v}"))).cloned()).unwrap_or_default()
    };
    let line = (cx.line_map)(call.start_position().row);
    for name in names {
        add(&mut cx.out.facts.defines, name.to_ascii_lowercase());
        cx.out.views.push((name, line, producers.clone()));
    }
}

/// `….sql(query)`: the query's clauses become sites on the lines where it is written
/// (inline, a variable, a constant); a query another module holds is resolved by the
/// linker, and a file read at run time is noted for program resolution.
fn sql_call(cx: &mut Ctx<'_>, call: Node, scope: &str) {
    let Some(args) = call.child_by_field_name("arguments") else { return };
    let Some(first) = args.named_child(0) else { return };
    let first = if first.kind() == "keyword_argument" { first.child_by_field_name("value").unwrap_or(first) } else { first };
    let Some(v) = eval::eval(cx, first, scope) else { return };
    if v.has_refs() {
        cx.out.pending_sql.push(PendingSql { value: v, symbol: scope.to_string() });
        return;
    }
    for t in v.strings() {
        sql_text(cx, &t.clone(), scope);
    }
    let files: Vec<Value> = match &v {
        Value::FileText(p) => vec![(**p).clone()],
        Value::Any(items) => items.iter().filter_map(|i| if let Value::FileText(p) = i { Some((**p).clone()) } else { None }).collect(),
        _ => vec![],
    };
    cx.out.facts.reads.extend(files);
}

/// The sites of one query text, once per place it is written.
fn sql_text(cx: &mut Ctx<'_>, t: &Text, scope: &str) {
    let key = (t.file.clone(), t.line(0), t.text.len());
    if !cx.sql_seen.insert(key) {
        return;
    }
    for d in sql::defined_names(&t.text) {
        add(&mut cx.out.facts.defines, d);
    }
    for s in sql::text_sites(t, scope) {
        push_site(cx, s);
    }
}
