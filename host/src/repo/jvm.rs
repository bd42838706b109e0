//! Scala and Java (Dataset/DataFrame API) site extraction with tree-sitter: method
//! calls whose name is a Spark operation, with their span, statement, enclosing
//! symbol, string arguments as columns/tables/literals and called functions.

use super::kinds::kind_of;
use super::site::{add, bounded, Site};
use tree_sitter::{Node, Parser};

fn text<'a>(n: Node, src: &'a str) -> &'a str {
    &src[n.byte_range()]
}

/// Sites of a Scala (`scala = true`) or Java file.
pub fn extract(src: &str, file: &str, scala: bool) -> (Vec<Site>, bool) {
    let mut parser = Parser::new();
    let lang: tree_sitter::Language = if scala { tree_sitter_scala::LANGUAGE.into() } else { tree_sitter_java::LANGUAGE.into() };
    parser.set_language(&lang).expect("grammar ABI matches tree-sitter");
    let Some(tree) = parser.parse(src, None) else { return (vec![], true) };
    let mut out = Vec::new();
    let lang_name = if scala { "scala" } else { "java" };
    visit(tree.root_node(), src, file, lang_name, &mut Vec::new(), &mut out);
    (out, tree.root_node().has_error())
}

fn visit(n: Node, src: &str, file: &str, lang: &str, scopes: &mut Vec<String>, out: &mut Vec<Site>) {
    let named_scope = matches!(n.kind(), "function_definition" | "method_declaration" | "class_definition" | "object_definition" | "class_declaration" | "trait_definition");
    if named_scope
        && let Some(name) = n.child_by_field_name("name") {
            scopes.push(text(name, src).to_string());
        }
    // Scala: call_expression(function: field_expression(value, field)); Java: method_invocation(object, name).
    let (method_node, receiver, args) = match n.kind() {
        "call_expression" => match n.child_by_field_name("function") {
            Some(f) if f.kind() == "field_expression" => (f.child_by_field_name("field"), f.child_by_field_name("value"), n.child_by_field_name("arguments")),
            _ => (None, None, None),
        },
        "method_invocation" => (n.child_by_field_name("name"), n.child_by_field_name("object"), n.child_by_field_name("arguments")),
        _ => (None, None, None),
    };
    if let (Some(m), Some(recv)) = (method_node, receiver) {
        let method = text(m, src);
        let chain: Vec<String> = text(recv, src).split(['.', '(']).map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')).collect();
        if let Some(kind) = kind_of(method, &chain) {
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
