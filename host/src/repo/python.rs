//! PySpark site extraction with tree-sitter: every DataFrame method call that is a
//! Spark operation becomes a site with its own line span inside a chained statement,
//! the statement span, the enclosing symbol, columns / tables / literals / functions,
//! the DataFrame variables it consumes and produces, SQL clauses of `spark.sql(...)`
//! strings (f-string placeholders kept as names, lines mapped back into the file), and
//! UDF definitions and registrations.

use super::site::{add, bounded, Site};
use super::kinds::kind_of;
use super::sql;
use std::collections::HashMap;
use tree_sitter::{Node, Parser};

/// Methods whose plain string arguments are column names.
const COLUMN_METHODS: &[&str] = &[
    "select", "groupBy", "groupby", "rollup", "cube", "orderBy", "sort", "sortWithinPartitions", "drop", "dropDuplicates", "drop_duplicates",
    "withColumn", "withColumnRenamed", "partitionBy", "repartition", "repartitionByRange", "pivot", "col", "column", "alias", "name",
    "unionByName", "toDF", "asc", "desc", "over", "rowsBetween",
];
/// Calls whose string argument is a column (`F.col("x")`), or an output name.
const COLUMN_CALLS: &[&str] = &["col", "column", "alias", "name", "asc", "desc", "asc_nulls_first", "desc_nulls_last", "countDistinct", "sum", "avg", "max", "min", "count", "mean", "first", "last", "collect_list", "collect_set", "approx_count_distinct", "stddev", "variance", "lag", "lead", "explode", "upper", "lower", "trim", "to_date", "year", "month", "date_trunc"];
/// Join types passed as strings (`how`), which are not columns.
pub const JOIN_TYPES: &[&str] = &["inner", "cross", "outer", "full", "fullouter", "full_outer", "left", "leftouter", "left_outer", "right", "rightouter", "right_outer", "semi", "leftsemi", "left_semi", "anti", "leftanti", "left_anti"];
/// Methods whose first string argument names a table or a path.
const SOURCE_METHODS: &[&str] = &["parquet", "csv", "json", "orc", "text", "load", "table", "saveAsTable", "insertInto", "save", "jdbc", "avro", "delta", "toTable", "writeTo", "textFile"];
/// Receivers that are never DataFrames (`os.path.join`, `", ".join`).
const NOT_DATAFRAMES: &[&str] = &["os", "path", "os.path", "str", "sep", "posixpath", "shutil", "json", "re", "np", "pd", "math", "logging", "logger", "log", "sys", "select", "queue", "threading", "asyncio", "itertools", "functools"];

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
    /// Producing sites of each argument (by position).
    pub arg_sources: Vec<Vec<String>>,
    /// The scope-qualified variable the result is assigned to.
    pub assigned: String,
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
}

struct Ctx<'a> {
    src: &'a str,
    file: &'a str,
    line_map: &'a dyn Fn(usize) -> u32,
    out: Extracted,
    /// Module-level string constants, for `spark.read.parquet(PATH)`.
    constants: HashMap<String, String>,
    /// Known UDF names (decorated or wrapped), to mark their uses.
    udfs: Vec<String>,
    /// scope-qualified var → producing site ids.
    producers: HashMap<String, Vec<String>>,
    /// Window spec variables → (columns, literals).
    windows: HashMap<String, Vec<String>>,
    seq: usize,
}

fn text<'a>(n: Node, src: &'a str) -> &'a str {
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
    let mut cx = Ctx { src, file, line_map, out: Extracted::default(), constants: HashMap::new(), udfs: Vec::new(), producers: HashMap::new(), windows: HashMap::new(), seq: 0 };
    cx.out.parse_errors = root.has_error();
    collect_module_facts(&mut cx, root);
    walk(&mut cx, root, &mut vec![], None);
    cx.out
}

/// Constants and UDF names first, so uses before definitions resolve.
fn collect_module_facts(cx: &mut Ctx<'_>, root: Node) {
    let mut cursor = root.walk();
    for stmt in root.children(&mut cursor) {
        let node = if stmt.kind() == "expression_statement" { stmt.child(0).unwrap_or(stmt) } else { stmt };
        if node.kind() == "assignment"
            && let (Some(l), Some(r)) = (node.child_by_field_name("left"), node.child_by_field_name("right")) {
                if l.kind() == "identifier" && r.kind() == "string" {
                    cx.constants.insert(text(l, cx.src).to_string(), string_value(r, cx.src));
                }
                if l.kind() == "identifier" && r.kind() == "call" && callee_name(r, cx.src).is_some_and(|c| c == "udf" || c == "pandas_udf") {
                    cx.udfs.push(text(l, cx.src).to_string());
                }
            }
        if node.kind() == "decorated_definition" {
            let is_udf = (0..node.named_child_count() as u32).filter_map(|i| node.named_child(i)).filter(|c| c.kind() == "decorator").any(|d| {
                let t = text(d, cx.src);
                t.contains("udf") || t.contains("pandas_udf")
            });
            if let Some(def) = node.child_by_field_name("definition")
                && is_udf
                    && let Some(n) = def.child_by_field_name("name") {
                        cx.udfs.push(text(n, cx.src).to_string());
                    }
        }
    }
}

/// The value of a string literal; f-string interpolations become `{expression}`, so
/// consumers can tell a placeholder from literal text.
fn string_value(n: Node, src: &str) -> String {
    let mut s = String::new();
    let mut c = n.walk();
    for part in n.children(&mut c) {
        match part.kind() {
            "string_content" | "escape_sequence" => s.push_str(text(part, src)),
            "interpolation" => {
                let inner = part.child_by_field_name("expression").map(|e| text(e, src)).unwrap_or("x");
                s.push('{');
                s.push_str(inner.trim());
                s.push('}');
            }
            _ => {}
        }
    }
    s
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
                            if pname != "self" {
                                summary.params.push(pname.clone());
                                // Parameters are DataFrames as far as the flow is concerned.
                                cx.producers.entry(format!("{}:{pname}", scope_name(scopes))).or_default();
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
        _ => {}
    }
    let mut func = func;
    let mut c = n.walk();
    let children: Vec<Node> = n.children(&mut c).collect();
    for ch in children {
        walk(cx, ch, scopes, func.as_deref_mut());
    }
}

/// One statement: find the assignment target, the call chains, and link the flow.
fn statement(cx: &mut Ctx<'_>, stmt: Node, scopes: &[String], func: Option<&mut FunctionSummary>) {
    let scope = scope_name(scopes);
    let inner = if stmt.kind() == "expression_statement" { stmt.named_child(0).unwrap_or(stmt) } else { stmt };
    let (target, value) = match inner.kind() {
        "assignment" | "augmented_assignment" => (inner.child_by_field_name("left"), inner.child_by_field_name("right")),
        "return_statement" => (None, inner.named_child(0)),
        _ => (None, Some(inner)),
    };
    let Some(value) = value else { return };
    // Window specs: `w = Window.partitionBy(...).orderBy(...)`.
    if let Some(t) = target {
        let vt = text(value, cx.src);
        if vt.starts_with("Window.") || vt.contains(" Window.") {
            let mut cols = Vec::new();
            collect_strings(value, cx.src, &mut cols);
            cx.windows.insert(format!("{scope}:{}", text(t, cx.src)), cols);
        }
        if value.kind() == "string" && scopes.is_empty() {
            cx.constants.insert(text(t, cx.src).to_string(), string_value(value, cx.src));
        }
    }
    let before = cx.out.sites.len();
    let last = chain_sites(cx, value, stmt, &scope);
    // Helper calls `x = helper(df)` (or just `helper(df)`): remember for cross-file linking.
    if value.kind() == "call"
        && let Some(name) = callee_name(value, cx.src)
            && value.child_by_field_name("function").is_some_and(|f| f.kind() == "identifier") && kind_of(&name, &[]).is_none() {
                let args: Vec<Vec<String>> = value
                    .child_by_field_name("arguments")
                    .map(|a| {
                        let mut c = a.walk();
                        a.named_children(&mut c).map(|x| cx.producers.get(&format!("{scope}:{}", text(x, cx.src))).cloned().unwrap_or_default()).collect()
                    })
                    .unwrap_or_default();
                let assigned = target.map(|t| format!("{scope}:{}", text(t, cx.src))).unwrap_or_default();
                cx.out.calls.push(HelperCall { callee: name, arg_sources: args, assigned });
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
        } else if cx.out.calls.last().is_some_and(|c| c.assigned == var) {
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
            // `Window.partitionBy(...).orderBy(...)` is a spec, used through `.over(w)`.
            if chain.first().is_some_and(|r| NOT_DATAFRAMES.contains(&r.as_str()) || r == "Window") || obj.kind() == "string" {
                continue;
            }
            if method == "sql" && chain.first().is_some_and(|r| r.contains("spark") || r.contains("session") || r == "sqlContext" || r == "ctx") {
                sql_call(cx, call, stmt, scope);
                continue;
            }
            if method == "register" && chain.iter().any(|c| c == "udf") {
                let mut s = new_site(cx, call, stmt, "udf", "python", scope);
                collect_args(cx, call, "register", &mut s);
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
            collect_args(cx, call, &method, &mut s);
            if kind == "window" {
                // `.over(w)`: the spec's columns, and the window function called on.
                if let Some(args) = call.child_by_field_name("arguments") {
                    let mut c = args.walk();
                    for a in args.named_children(&mut c) {
                        if let Some(cols) = cx.windows.get(&format!("{scope}:{}", text(a, cx.src))).or_else(|| cx.windows.get(&format!("<module>:{}", text(a, cx.src)))) {
                            for col in cols.clone() {
                                add(&mut s.columns, col);
                            }
                        }
                    }
                }
                if obj.kind() == "call"
                    && let Some(fname) = callee_name(obj, cx.src) {
                        add(&mut s.functions, fname);
                    }
            }
            if let Some(t) = source_table(cx, call, &method) {
                add(&mut s.tables, t);
            }
            // Flow: the receiver (a variable, or the previous call of the chain).
            let root_var = chain_root_identifier(obj, cx.src);
            let idx = push_site(cx, s);
            if let Some(prev) = made.iter().rev().find(|(nid, _)| is_within(obj, *nid)).map(|(_, i)| *i) {
                let (a, b) = (cx.out.sites[prev].id.clone(), cx.out.sites[idx].id.clone());
                cx.out.edges.push((a, b));
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
    if let Some(i) = cx.out.sites.iter().position(|x| x.id == s.id) {
        return i;
    }
    cx.out.sites.push(s);
    cx.out.sites.len() - 1
}

fn collect_strings(n: Node, src: &str, out: &mut Vec<String>) {
    if n.kind() == "string" {
        add(out, string_value(n, src));
        return;
    }
    let mut c = n.walk();
    for ch in n.children(&mut c) {
        collect_strings(ch, src, out);
    }
}

/// The table or path a read/write names (a literal or a module constant).
fn source_table(cx: &Ctx<'_>, call: Node, method: &str) -> Option<String> {
    if !SOURCE_METHODS.contains(&method) {
        return None;
    }
    let args = call.child_by_field_name("arguments")?;
    let first = args.named_child(0)?;
    let first = if first.kind() == "keyword_argument" { first.child_by_field_name("value")? } else { first };
    match first.kind() {
        "string" => Some(string_value(first, cx.src)),
        "identifier" => cx.constants.get(text(first, cx.src)).cloned(),
        _ => None,
    }
}

/// Columns, literals and functions from a call's arguments.
fn collect_args(cx: &mut Ctx<'_>, call: Node, method: &str, s: &mut Site) {
    let Some(args) = call.child_by_field_name("arguments") else { return };
    let sql_like = matches!(method, "filter" | "where" | "selectExpr" | "expr");
    visit_arg(cx, args, method, true, sql_like, s);
}

fn visit_arg(cx: &mut Ctx<'_>, n: Node, method: &str, direct: bool, sql_like: bool, s: &mut Site) {
    match n.kind() {
        "string" => {
            let v = string_value(n, cx.src);
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
            } else if JOIN_TYPES.contains(&v.as_str()) {
                add(&mut s.literals, v);
            } else if (direct && COLUMN_METHODS.contains(&method)) || COLUMN_CALLS.contains(&method) || (direct && method == "join") {
                add(&mut s.columns, v);
            } else if direct && SOURCE_METHODS.contains(&method) {
                add(&mut s.tables, v);
            } else {
                add(&mut s.literals, v);
            }
        }
        "integer" | "float" => add(&mut s.literals, text(n, cx.src).to_string()),
        "call" => {
            let name = callee_name(n, cx.src).unwrap_or_default();
            if !name.is_empty() {
                add(&mut s.functions, name.clone());
                if cx.udfs.contains(&name) {
                    add(&mut s.functions, "udf".to_string());
                }
            }
            // The receiver of a method call inside the arguments (`F.col("a").alias("b")`).
            if let Some(f) = n.child_by_field_name("function")
                && f.kind() == "attribute"
                    && let Some(o) = f.child_by_field_name("object") {
                        visit_arg(cx, o, method, false, sql_like, s);
                    }
            if let Some(a) = n.child_by_field_name("arguments") {
                let inner_sql = matches!(name.as_str(), "expr");
                let mut c = a.walk();
                let kids: Vec<Node> = a.named_children(&mut c).collect();
                for k in kids {
                    visit_arg(cx, k, &name, true, inner_sql, s);
                }
            }
        }
        "keyword_argument" => {
            let key = n.child_by_field_name("name").map(|k| text(k, cx.src).to_string()).unwrap_or_default();
            if let Some(v) = n.child_by_field_name("value") {
                // `on=`, `subset=`, `cols=` hold columns; `how=` a join type literal.
                let m = if matches!(key.as_str(), "on" | "subset" | "cols" | "partitionBy") { "select" } else { "" };
                visit_arg(cx, v, if m.is_empty() { method } else { m }, !m.is_empty() || direct, sql_like, s);
            }
        }
        "subscript" => {
            // `df["col"]`
            if let Some(sub) = n.child_by_field_name("subscript")
                && sub.kind() == "string" {
                    add(&mut s.columns, string_value(sub, cx.src));
                }
        }
        "attribute" => {
            // `df.amount` on a DataFrame variable, `F.col` etc.
            if let (Some(o), Some(a)) = (n.child_by_field_name("object"), n.child_by_field_name("attribute")) {
                let on = text(o, cx.src);
                if o.kind() == "identifier" && !matches!(on, "F" | "f" | "functions" | "T" | "types" | "Window" | "spark" | "self") && !NOT_DATAFRAMES.contains(&on) {
                    add(&mut s.columns, text(a, cx.src).to_string());
                }
            }
        }
        "identifier" => {
            let id = text(n, cx.src);
            if let Some(c) = cx.constants.get(id).cloned() {
                if SOURCE_METHODS.contains(&method) {
                    add(&mut s.tables, c);
                } else {
                    add(&mut s.literals, c);
                }
            }
        }
        _ => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            let list = matches!(n.kind(), "list" | "tuple" | "argument_list");
            for k in kids {
                visit_arg(cx, k, method, direct && list, sql_like, s);
            }
        }
    }
}

/// `spark.sql("…")`: one site per SQL clause, lines mapped into this file.
fn sql_call(cx: &mut Ctx<'_>, call: Node, stmt: Node, scope: &str) {
    let Some(args) = call.child_by_field_name("arguments") else { return };
    let Some(first) = args.named_child(0) else { return };
    let (sql_text, start_row) = match first.kind() {
        "string" => (string_value(first, cx.src), first.start_position().row),
        "concatenated_string" => {
            let mut s = String::new();
            let mut c = first.walk();
            for part in first.named_children(&mut c) {
                s.push_str(&string_value(part, cx.src));
                s.push('\n');
            }
            (s, first.start_position().row)
        }
        "identifier" => match cx.constants.get(text(first, cx.src)) {
            Some(v) => (v.clone(), call.start_position().row),
            None => return,
        },
        _ => return,
    };
    // Placeholders are kept by name in SQL (`{day}` → `day`), as Spark would see a value there.
    let sql_text = sql_text.replace(['{', '}'], "");
    // The string's first line is the opening quote's line (`"""` starts on the same row).
    for c in sql::clauses(&sql_text) {
        let mut s = new_site(cx, call, stmt, c.kind, "sql", scope);
        s.id = format!("{}:{}:sql{}:{}", cx.file, (cx.line_map)(start_row + c.line_start), cx.seq, c.kind);
        s.line_start = (cx.line_map)(start_row + c.line_start);
        s.line_end = (cx.line_map)(start_row + c.line_end);
        s.snippet = bounded(&c.text);
        s.columns = c.columns;
        s.tables = c.tables;
        s.literals = c.literals;
        s.functions = c.functions;
        push_site(cx, s);
    }
}
