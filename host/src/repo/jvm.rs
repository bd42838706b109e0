//! Scala and Java (Dataset/DataFrame API) site extraction with tree-sitter: method
//! calls whose name is a Spark operation, with their span, statement, enclosing
//! symbol, string arguments as columns/tables/literals and called functions; queries
//! in string literals (`spark.sql("...")`, a `val query = """..."""`, a Java
//! concatenation) as SQL clause sites on their own lines; and the file's imports,
//! engine, entry point and path literals for program resolution.

use super::kinds::kind_of;
use super::python::{Engine, FileFacts, Import};
use super::site::{add, bounded, Site};
use super::value::{looks_like_sql, Text};
use tree_sitter::{Node, Parser};

/// What one JVM source yields.
pub struct Extracted {
    pub sites: Vec<Site>,
    pub errors: bool,
    pub facts: FileFacts,
}

fn text<'a>(n: Node, src: &'a str) -> &'a str {
    &src[n.byte_range()]
}

/// Sites of a Scala (`scala = true`) or Java file, with its facts.
pub fn extract(src: &str, file: &str, scala: bool) -> Extracted {
    let mut parser = Parser::new();
    let lang: tree_sitter::Language = if scala { tree_sitter_scala::LANGUAGE.into() } else { tree_sitter_java::LANGUAGE.into() };
    parser.set_language(&lang).expect("grammar ABI matches tree-sitter");
    let Some(tree) = parser.parse(src, None) else { return Extracted { sites: vec![], errors: true, facts: FileFacts::default() } };
    let mut out = Vec::new();
    let lang_name = if scala { "scala" } else { "java" };
    visit(tree.root_node(), src, file, lang_name, &mut Vec::new(), &mut out);
    let mut facts = FileFacts::default();
    let mut seen = std::collections::HashSet::new();
    strings(tree.root_node(), src, file, &mut facts, &mut out, &mut seen);
    facts.engine = if facts.imports.iter().any(|i| i.module.starts_with("org.apache.spark")) || src.contains("SparkSession") || src.contains("SparkContext") {
        Engine::Spark
    } else {
        Engine::Neutral
    };
    let flat: String = src.split_whitespace().collect::<Vec<_>>().join(" ");
    facts.entry = flat.contains("def main(") || flat.contains("def main (") || flat.contains("extends App") || flat.contains("static void main(") || flat.contains("static void main (");
    facts.lists_folders = ["listFiles(", "Files.list(", "Files.walk(", "getListing", ".listStatus("].iter().any(|m| src.contains(m));
    facts.paths.sort();
    facts.paths.dedup();
    declared_types(tree.root_node(), src, &mut facts.classes);
    facts.classes.sort();
    facts.classes.dedup();
    Extracted { sites: out, errors: tree.root_node().has_error(), facts }
}

/// Node kinds that declare a type, in the Java and Scala grammars.
const TYPE_DECLARATIONS: &[&str] = &["class_declaration", "interface_declaration", "enum_declaration", "record_declaration", "class_definition", "object_definition", "trait_definition"];

/// The simple names of every type the file declares (nested ones too), iteratively.
fn declared_types(root: Node, src: &str, out: &mut Vec<String>) {
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if TYPE_DECLARATIONS.contains(&n.kind())
            && let Some(name) = n.child_by_field_name("name") {
                out.push(text(name, src).to_string());
            }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
}

/// The value of a string expression: a literal (`"…"`, `"""…"""`, `s"…$x…"` with
/// interpolations as `{x}`), `+` of such, `.stripMargin`.
fn string_value(n: Node, src: &str, file: &str) -> Option<Text> {
    match n.kind() {
        "string" | "string_literal" | "interpolated_string_expression" => {
            let raw = text(n, src);
            let raw = raw.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            let body = if raw.starts_with("\"\"\"") && raw.len() >= 6 { &raw[3..raw.len() - 3] } else if raw.len() >= 2 { &raw[1..raw.len() - 1] } else { "" };
            let mut t = body.to_string();
            if n.kind() == "interpolated_string_expression" {
                t = interpolations(&t);
            }
            Some(Text::new(t, file, n.start_position().row as u32 + 1))
        }
        "infix_expression" | "binary_expression" => {
            let op = n.child_by_field_name("operator").map(|o| text(o, src)).unwrap_or("");
            if op != "+" {
                return None;
            }
            let l = n.child_by_field_name("left").and_then(|x| string_value(x, src, file));
            let r = n.child_by_field_name("right").and_then(|x| string_value(x, src, file));
            match (l, r) {
                (Some(a), Some(b)) => Some(a.concat(&b)),
                (Some(a), None) => Some(a.concat(&Text::new("{x}".into(), file, n.end_position().row as u32 + 1))),
                (None, Some(b)) => Some(Text::new("{x}".into(), file, n.start_position().row as u32 + 1).concat(&b)),
                _ => None,
            }
        }
        // `"""…""".stripMargin`: the margins go, the lines stay.
        "field_expression" | "call_expression" if text(n, src).trim_end_matches(')').trim_end_matches("('|'").trim_end_matches('(').ends_with("stripMargin") => {
            let inner = n.child_by_field_name("value").or_else(|| n.child_by_field_name("function").and_then(|f| f.child_by_field_name("value")))?;
            let t = string_value(inner, src, file)?;
            let stripped: Vec<String> = t.text.split('\n').map(|l| l.trim_start().strip_prefix('|').map(str::to_string).unwrap_or_else(|| l.to_string())).collect();
            Some(Text { text: stripped.join("\n"), ..t })
        }
        "parenthesized_expression" => string_value(n.named_child(0)?, src, file),
        _ => None,
    }
}

/// `$name` / `${expr}` in a Scala interpolated string → `{name}`.
fn interpolations(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if it.peek() == Some(&'{') {
            it.next();
            let inner: String = it.by_ref().take_while(|c| *c != '}').collect();
            out.push_str(&format!("{{{}}}", inner.trim()));
        } else {
            let name: String = std::iter::from_fn(|| it.next_if(|c| c.is_alphanumeric() || *c == '_')).collect();
            out.push_str(&format!("{{{name}}}"));
        }
    }
    out
}

/// Imports, path literals, and queries in strings (the largest string expression
/// around each literal, so a concatenated query is one text).
fn strings(n: Node, src: &str, file: &str, facts: &mut FileFacts, sites: &mut Vec<Site>, seen: &mut std::collections::HashSet<String>) {
    match n.kind() {
        "import_declaration" => {
            let t = text(n, src).trim_start_matches("import").trim().trim_end_matches(';').trim().to_string();
            facts.imports.push(Import { module: t.trim_start_matches("static ").to_string(), names: vec![] });
            return;
        }
        "string" | "string_literal" | "interpolated_string_expression" | "infix_expression" | "binary_expression" | "field_expression" | "call_expression" => {
            if let Some(t) = string_value(n, src, file) {
                if looks_like_sql(&t.text) && seen.insert(format!("{}:{}", t.line(0), t.text.len())) {
                    sites.extend(super::sql::text_sites(&t, "<query>"));
                }
                let lit = t.text.trim();
                if lit.len() <= 160 && !lit.contains(char::is_whitespace) && !lit.is_empty() {
                    facts.paths.push(lit.to_string());
                }
                if matches!(n.kind(), "string" | "string_literal" | "interpolated_string_expression") || t.text.contains('\n') || looks_like_sql(&t.text) {
                    return;
                }
            }
            if n.kind() == "call_expression"
                && n.child_by_field_name("function").and_then(|f| f.child_by_field_name("field")).is_some_and(|f| matches!(text(f, src), "appName" | "setAppName"))
                && let Some(a) = n.child_by_field_name("arguments").and_then(|a| a.named_child(0)).and_then(|a| string_value(a, src, file)) {
                    facts.app_names.push(a.text);
                }
        }
        "method_invocation" => {
            if n.child_by_field_name("name").is_some_and(|m| matches!(text(m, src), "appName" | "setAppName"))
                && let Some(a) = n.child_by_field_name("arguments").and_then(|a| a.named_child(0)).and_then(|a| string_value(a, src, file)) {
                    facts.app_names.push(a.text);
                }
        }
        _ => {}
    }
    let mut c = n.walk();
    for ch in n.children(&mut c) {
        strings(ch, src, file, facts, sites, seen);
    }
}

/// A typed Dataset transformation (`ds.map(u -> …, Encoders.DOUBLE())`): Spark plans
/// it as DeserializeToObject, MapElements (or MapPartitions) and SerializeFromObject,
/// a projection of objects. Not on an RDD (`sc.parallelize(…).map`, `df.rdd.map`),
/// which makes no SQL plan node.
fn typed_map(method: &str, chain: &[String]) -> Option<&'static str> {
    const RDD: &[&str] = &["rdd", "parallelize", "sparkContext", "textFile", "sc"];
    (matches!(method, "map" | "flatMap" | "mapPartitions") && !chain.iter().any(|c| RDD.contains(&c.as_str()))).then_some("select")
}

/// A call's method name, receiver and arguments. Scala: call_expression(function:
/// field_expression(value, field)); Java: method_invocation(object, name).
fn call_parts(n: Node) -> (Option<Node>, Option<Node>, Option<Node>) {
    match n.kind() {
        "call_expression" => match n.child_by_field_name("function") {
            Some(f) if f.kind() == "field_expression" => (f.child_by_field_name("field"), f.child_by_field_name("value"), n.child_by_field_name("arguments")),
            _ => (None, None, None),
        },
        "method_invocation" => (n.child_by_field_name("name"), n.child_by_field_name("object"), n.child_by_field_name("arguments")),
        _ => (None, None, None),
    }
}

fn visit(n: Node, src: &str, file: &str, lang: &str, scopes: &mut Vec<String>, out: &mut Vec<Site>) {
    let named_scope = matches!(n.kind(), "function_definition" | "method_declaration" | "class_definition" | "object_definition" | "class_declaration" | "trait_definition");
    if named_scope
        && let Some(name) = n.child_by_field_name("name") {
            scopes.push(text(name, src).to_string());
        }
    let (method_node, receiver, args) = call_parts(n);
    if let (Some(m), Some(recv)) = (method_node, receiver) {
        let method = text(m, src);
        let chain: Vec<String> = text(recv, src).split(['.', '(']).map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')).collect();
        if let Some(kind) = kind_of(method, &chain).or_else(|| typed_map(method, &chain)) {
            let stmt = statement_of(n);
            let line = m.start_position().row as u32 + 1;
            let mut s = Site {
                id: format!("{file}:{line}:{}:{kind}", m.start_position().column + 1),
                file: file.to_string(),
                symbol: if scopes.is_empty() { "<module>".into() } else { scopes.join(".") },
                line_start: line,
                line_end: n.end_position().row as u32 + 1,
                statement_start: stmt.start_position().row as u32 + 1,
                statement_end: stmt.end_position().row as u32 + 1,
                kind: kind.to_string(),
                language: lang.to_string(),
                snippet: bounded(text(n, src)),
                ..Default::default()
            };
            if let Some(a) = args {
                args_of(a, src, method, true, &mut s);
            }
            if matches!(kind, "read" | "write" | "table") {
                jvm_format(method, text(recv, src), &mut s);
            }
            // `groupBy("k").agg(sum("v"))`: one Aggregate, keyed by the groupBy's columns.
            if let (Some(gm), _, Some(ga)) = call_parts(recv)
                && super::kinds::aggregates_grouped(kind, method, text(gm, src))
            {
                let mut grouping = Site::default();
                args_of(ga, src, text(gm, src), true, &mut grouping);
                for c in grouping.columns {
                    add(&mut s.columns, c);
                }
            }
            if method == "crossJoin" || matches!(kind, "action" | "aggregate") && !matches!(method, "groupBy" | "agg" | "rollup" | "cube" | "pivot") {
                add(&mut s.functions, method.to_string());
            }
            for m in super::kinds::marks(kind, method, &chain) {
                add(&mut s.functions, m);
            }
            if let Some(c) = super::kinds::output_column(kind, method) {
                add(&mut s.columns, c);
            }
            out.push(s);
        }
    }
    let mut c = n.walk();
    for ch in n.children(&mut c) {
        visit(ch, src, file, lang, scopes, out);
    }
    if named_scope && n.child_by_field_name("name").is_some() {
        scopes.pop();
    }
}

/// The format a JVM read or write names: its method (`.parquet(...)`) or a
/// `.format("csv")` on its receiver, as a `format:<name>` function.
fn jvm_format(method: &str, receiver: &str, s: &mut Site) {
    const FORMATS: &[&str] = &["parquet", "csv", "json", "orc", "text", "avro", "jdbc", "delta", "textFile"];
    let found = if FORMATS.contains(&method) {
        Some(method.to_lowercase().replace("textfile", "text"))
    } else {
        receiver.rfind("format(\"").map(|i| receiver[i + 8..].split('"').next().unwrap_or("").to_lowercase())
    };
    if let Some(f) = found.filter(|f| !f.is_empty()) {
        add(&mut s.functions, format!("format:{}", f.rsplit('.').next().unwrap_or(&f)));
    }
}

fn statement_of(n: Node) -> Node {
    let mut cur = n;
    while let Some(p) = cur.parent() {
        if matches!(p.kind(), "block" | "template_body" | "compilation_unit" | "program" | "class_body" | "block_expression") {
            return cur;
        }
        cur = p;
    }
    cur
}

fn args_of(n: Node, src: &str, method: &str, direct: bool, s: &mut Site) {
    match n.kind() {
        "string" | "string_literal" => {
            let v = text(n, src).trim_matches('"').to_string();
            if matches!(method, "parquet" | "csv" | "json" | "orc" | "load" | "table" | "saveAsTable" | "insertInto" | "save") {
                add(&mut s.tables, v);
            } else if matches!(method, "filter" | "where" | "selectExpr" | "expr") {
                for c in super::sql::clauses(&format!("SELECT {v}")) {
                    c.columns.into_iter().for_each(|x| add(&mut s.columns, x));
                    c.literals.into_iter().for_each(|x| add(&mut s.literals, x));
                }
            } else if super::python::JOIN_TYPES.contains(&v.as_str()) {
                add(&mut s.literals, v);
            } else if direct || matches!(method, "col" | "column" | "alias" | "as" | "sum" | "avg" | "max" | "min" | "count" | "countDistinct") {
                add(&mut s.columns, v);
            } else {
                add(&mut s.literals, v);
            }
        }
        "integer_literal" | "floating_point_literal" | "decimal_integer_literal" | "decimal_floating_point_literal" => add(&mut s.literals, text(n, src).to_string()),
        "symbol_literal" => add(&mut s.columns, text(n, src).trim_start_matches('\'').to_string()),
        "interpolated_string_expression" => {
            // $"col" in Scala
            let t = text(n, src);
            if let Some(c) = t.strip_prefix("$\"").and_then(|x| x.strip_suffix('"')) {
                add(&mut s.columns, c.to_string());
            }
        }
        "call_expression" | "method_invocation" => {
            let name = match n.kind() {
                "call_expression" => n.child_by_field_name("function").map(|f| {
                    let t = text(f, src);
                    t.rsplit('.').next().unwrap_or(t).to_string()
                }),
                _ => n.child_by_field_name("name").map(|x| text(x, src).to_string()),
            };
            if let Some(name) = name {
                // `Seq("a", "b")` / `Arrays.asList(...)`: a list of the outer call's arguments.
                if matches!(name.as_str(), "Seq" | "List" | "Array" | "asList" | "of") {
                    let mut c = n.walk();
                    let kids: Vec<Node> = n.named_children(&mut c).collect();
                    for k in kids {
                        args_of(k, src, method, direct, s);
                    }
                    return;
                }
                add(&mut s.functions, name.clone());
                let mut c = n.walk();
                let kids: Vec<Node> = n.named_children(&mut c).collect();
                for k in kids {
                    args_of(k, src, &name, false, s);
                }
            }
        }
        _ => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            let list = matches!(n.kind(), "arguments" | "argument_list");
            for k in kids {
                args_of(k, src, method, direct && list, s);
            }
        }
    }
}
