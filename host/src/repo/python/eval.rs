//! What a Python expression evaluates to, as far as the index can tell without running
//! it: string literals and f-strings (interpolations filled in when known), `+`
//! concatenation, `.format(...)`, `"sep".join([...])`, `os.path.join`, `Path / "x"`,
//! names bound in the function or the module, class attributes (`Cols.rating`,
//! `self.table`), dict and list lookups, names imported from other modules (as
//! references the linker resolves), and the contents of files read at run time
//! (`open(p).read()`, `Path(p).read_text()`).

use super::{text, Ctx};
use crate::repo::value::{any, Ref, Text, Value};
use tree_sitter::Node;

/// Calls that return their (first) argument's string unchanged, as far as names and
/// queries go.
const PASS_THROUGH_FUNCTIONS: &[&str] = &["dedent", "str", "cleandoc", "strip", "inspect.cleandoc", "textwrap.dedent"];
/// String methods whose result is the receiver as far as names and queries go.
const PASS_THROUGH_METHODS: &[&str] = &["strip", "lstrip", "rstrip", "lower", "upper", "casefold", "title"];

/// The value of `n` in `scope` (`<module>` or a qualified function name), if known.
pub fn eval(cx: &Ctx<'_>, n: Node, scope: &str) -> Option<Value> {
    eval_depth(cx, n, scope, 0)
}

fn eval_depth(cx: &Ctx<'_>, n: Node, scope: &str, depth: usize) -> Option<Value> {
    if depth > crate::repo::value::MAX_DEPTH {
        return None;
    }
    let ev = |x: Node| eval_depth(cx, x, scope, depth + 1);
    match n.kind() {
        "string" => Some(Value::Str(string_text(cx, n, scope, depth))),
        "concatenated_string" => {
            let mut c = n.walk();
            let parts: Vec<Node> = n.named_children(&mut c).collect();
            let mut out: Option<Text> = None;
            let mut prev_row = None;
            for p in parts {
                let t = string_text(cx, p, scope, depth);
                out = Some(match out {
                    None => t,
                    Some(o) => join_operands(o, &t, prev_row, p),
                });
                prev_row = Some(p.end_position().row);
            }
            out.map(Value::Str)
        }
        "parenthesized_expression" => ev(n.named_child(0)?),
        "binary_operator" => {
            let op = n.child_by_field_name("operator").map(|o| text(o, cx.src)).unwrap_or("");
            let (l, r) = (n.child_by_field_name("left")?, n.child_by_field_name("right")?);
            match op {
                "+" => {
                    let (a, b) = (ev(l), ev(r));
                    match (&a, &b) {
                        (None, None) => return None,
                        // A part another module defines: joined by the linker.
                        (Some(x), _) | (_, Some(x)) if x.has_refs() => {
                            let part = |v: Option<Value>, n: Node| v.unwrap_or_else(|| Value::Str(placeholder(cx, n)));
                            return Some(Value::Concat(vec![part(a, l), part(b, r)]));
                        }
                        // `COLUMNS + ["x"]`: a longer list.
                        (Some(Value::List(x)), Some(Value::List(y))) => return Some(Value::List(x.iter().chain(y).cloned().collect())),
                        (Some(Value::List(_) | Value::Dict(_)), _) | (_, Some(Value::List(_) | Value::Dict(_))) => return None,
                        _ => {}
                    }
                    let a = a.and_then(|v| v.str().cloned()).unwrap_or_else(|| placeholder(cx, l));
                    let b = b.and_then(|v| v.str().cloned()).unwrap_or_else(|| placeholder(cx, r));
                    Some(Value::Str(join_operands(a, &b, Some(l.end_position().row), r)))
                }
                // `Path(root) / "orders"`: a path.
                "/" => {
                    let a = ev(l).and_then(|v| v.str().cloned())?;
                    let b = ev(r).and_then(|v| v.str().cloned()).unwrap_or_else(|| placeholder(cx, r));
                    Some(Value::Str(a.concat(&Text::new("/".into(), cx.file, 0)).concat(&b)))
                }
                // `"... %s ..." % args`: the template, placeholders as written.
                "%" => ev(l).filter(|v| v.str().is_some()),
                _ => None,
            }
        }
        "conditional_expression" => {
            let mut c = n.walk();
            let kids: Vec<Node> = n.named_children(&mut c).collect();
            // `a if cond else b`: children are a, cond, b.
            let vals: Vec<Value> = [kids.first(), kids.get(2)].into_iter().flatten().filter_map(|k| ev(*k)).collect();
            any(vals)
        }
        "identifier" => lookup(cx, text(n, cx.src), scope),
        "attribute" => {
            let obj = n.child_by_field_name("object")?;
            let attr = text(n.child_by_field_name("attribute")?, cx.src);
            let on = text(obj, cx.src);
            if (on == "self" || on == "cls") && obj.kind() == "identifier" {
                return cx.class_attr(scope, attr);
            }
            ev(obj)?.member(attr)
        }
        "subscript" => {
            let base = ev(n.child_by_field_name("value")?)?;
            let key = n.child_by_field_name("subscript")?;
            match key.kind() {
                "integer" => base.member(text(key, cx.src)),
                _ => match ev(key).as_ref().and_then(Value::str) {
                    Some(k) => base.member(&k.text),
                    None => base.elements(),
                },
            }
        }
        "list" | "tuple" | "set" => {
            let mut c = n.walk();
            let items: Vec<Value> = n.named_children(&mut c).filter_map(&ev).collect();
            (!items.is_empty()).then_some(Value::List(items))
        }
        "dictionary" => {
            let mut c = n.walk();
            let mut entries = Vec::new();
            for pair in n.named_children(&mut c).filter(|p| p.kind() == "pair") {
                let (Some(k), Some(v)) = (pair.child_by_field_name("key"), pair.child_by_field_name("value")) else { continue };
                let Some(key) = ev(k).and_then(|x| x.str().map(|t| t.text.clone())) else { continue };
                if let Some(val) = ev(v) {
                    entries.push((key, val));
                }
            }
            (!entries.is_empty()).then_some(Value::Dict(entries))
        }
        "call" => call(cx, n, scope, depth),
        _ => None,
    }
}

/// `a` then `b` where `b` is written by node `right`: on a new line when `right`
/// starts on a later row than the left operand ends (a query concatenated over
/// several lines), else joined (a path built from a variable and a literal).
fn join_operands(a: Text, b: &Text, left_end_row: Option<usize>, right: Node) -> Text {
    match left_end_row {
        Some(r) if right.start_position().row > r => {
            let line = b.lines.first().copied().unwrap_or(1);
            a.on_next_line(b, line)
        }
        _ => a.concat(b),
    }
}

/// A stand-in for a part of a string that is not known: `{expression}`, as f-strings
/// already mark their interpolations.
fn placeholder(cx: &Ctx<'_>, n: Node) -> Text {
    let line = (cx.line_map)(n.start_position().row);
    let inner: String = text(n, cx.src).chars().filter(|c| !c.is_whitespace()).take(40).collect();
    Text::new(format!("{{{inner}}}"), cx.file, line)
}

/// A string literal's text: escapes kept as written, interpolations filled in when
/// their value is a one-line string, else `{expression}`.
fn string_text(cx: &Ctx<'_>, n: Node, scope: &str, depth: usize) -> Text {
    let first_line = (cx.line_map)(n.start_position().row);
    let mut out = Text::new(String::new(), cx.file, first_line);
    let mut c = n.walk();
    for part in n.children(&mut c) {
        match part.kind() {
            "string_content" | "escape_sequence" => {
                let t = Text::new(text(part, cx.src).to_string(), cx.file, (cx.line_map)(part.start_position().row));
                out = out.concat(&t);
            }
            "interpolation" => {
                let expr = part.child_by_field_name("expression");
                let known = expr.and_then(|e| eval_depth(cx, e, scope, depth + 1)).and_then(|v| v.str().filter(|t| !t.text.contains('\n')).cloned());
                let t = match known {
                    Some(k) => Text::new(k.text, cx.file, (cx.line_map)(part.start_position().row)),
                    None => {
                        let inner = expr.map(|e| text(e, cx.src)).unwrap_or("x").trim().to_string();
                        Text::new(format!("{{{inner}}}"), cx.file, (cx.line_map)(part.start_position().row))
                    }
                };
                out = out.concat(&t);
            }
            _ => {}
        }
    }
    out
}

/// A name in `scope`, then in the enclosing functions, the module, and what it imports.
pub fn lookup(cx: &Ctx<'_>, name: &str, scope: &str) -> Option<Value> {
    let mut s = scope;
    loop {
        if let Some(v) = cx.locals.get(&format!("{s}:{name}")) {
            return Some(v.clone());
        }
        match s.rfind('.') {
            Some(i) => s = &s[..i],
            None => break,
        }
    }
    if let Some(v) = cx.module.get(name) {
        return Some(v.clone());
    }
    // `from m import *`: the name may come from any of those modules (the first that
    // defines it, resolved later).
    cx.star_imports.first().map(|m| Value::Ref(Ref { module: m.clone(), path: vec![name.to_string()], from_file: cx.file.to_string() }))
        .filter(|_| name.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
}

fn call(cx: &Ctx<'_>, n: Node, scope: &str, depth: usize) -> Option<Value> {
    let ev = |x: Node| eval_depth(cx, x, scope, depth + 1);
    let f = n.child_by_field_name("function")?;
    let args: Vec<Node> = n
        .child_by_field_name("arguments")
        .map(|a| {
            let mut c = a.walk();
            a.named_children(&mut c).collect()
        })
        .unwrap_or_default();
    let positional: Vec<Node> = args.iter().copied().filter(|a| a.kind() != "keyword_argument").collect();
    let fname = text(f, cx.src);
    match f.kind() {
        "identifier" | "attribute" if PASS_THROUGH_FUNCTIONS.contains(&fname) => positional.first().and_then(|a| ev(*a)),
        "identifier" if fname == "open" => positional.first().and_then(|a| ev(*a)).map(|p| Value::FileText(Box::new(p))),
        "identifier" | "attribute" if fname == "Path" || fname.ends_with(".Path") || fname == "PurePath" => {
            // `Path(a, b)` is a path of its parts.
            let parts: Vec<Text> = positional.iter().filter_map(|a| ev(*a).and_then(|v| v.str().cloned())).collect();
            join_path(cx, parts, n)
        }
        "attribute" if fname == "os.path.join" || fname == "path.join" || fname == "posixpath.join" => {
            let parts: Vec<Text> = positional.iter().map(|a| ev(*a).and_then(|v| v.str().cloned()).unwrap_or_else(|| placeholder(cx, *a))).collect();
            join_path(cx, parts, n)
        }
        "attribute" if matches!(fname, "os.getenv" | "os.environ.get" | "environ.get" | "getenv") => positional.get(1).and_then(|a| ev(*a)),
        "attribute" => {
            let obj = f.child_by_field_name("object")?;
            let method = text(f.child_by_field_name("attribute")?, cx.src);
            match method {
                "read" | "read_text" | "readlines" | "getvalue" => match ev(obj)? {
                    Value::FileText(p) => Some(Value::FileText(p)),
                    // `Path(p).read_text()`: the receiver is the path.
                    p if method == "read_text" => Some(Value::FileText(Box::new(p))),
                    _ => None,
                },
                "format" => {
                    let template = ev(obj)?.str()?.clone();
                    Some(Value::Str(format_template(cx, template, &args, scope, depth)))
                }
                "join" => {
                    // `"sep".join(parts)` when the parts are known.
                    let sep = ev(obj)?.str()?.text.clone();
                    let parts = positional.first().and_then(|a| ev(*a))?;
                    let items: Vec<Text> = match parts {
                        Value::List(v) => v.iter().filter_map(|x| x.str().cloned()).collect(),
                        _ => return None,
                    };
                    let mut it = items.into_iter();
                    let mut out = it.next()?;
                    for t in it {
                        let line = *out.lines.last().unwrap_or(&1);
                        out = out.concat(&Text::new(sep.clone(), cx.file, line)).concat(&t);
                    }
                    Some(Value::Str(out))
                }
                "get" => {
                    // `cfg.get("key", default)`
                    let base = ev(obj);
                    let key = positional.first().and_then(|a| ev(*a)).and_then(|v| v.str().map(|t| t.text.clone()));
                    base.zip(key).and_then(|(b, k)| b.member(&k)).or_else(|| positional.get(1).and_then(|a| ev(*a)))
                }
                "values" => ev(obj)?.elements(),
                "keys" => {
                    let line = (cx.line_map)(n.start_position().row);
                    ev(obj)?.keys(cx.file, line)
                }
                "replace" | "removeprefix" | "removesuffix" => ev(obj).filter(|v| v.str().is_some()),
                m if PASS_THROUGH_METHODS.contains(&m) => ev(obj).filter(|v| v.str().is_some()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn join_path(cx: &Ctx<'_>, parts: Vec<Text>, at: Node) -> Option<Value> {
    let mut it = parts.into_iter();
    let mut out = it.next()?;
    let line = (cx.line_map)(at.start_position().row);
    for p in it {
        if !out.text.ends_with('/') {
            out = out.concat(&Text::new("/".into(), cx.file, line));
        }
        out = out.concat(&p);
    }
    Some(Value::Str(out))
}

/// `"... {name} ... {}".format(...)`: fields filled in with known one-line strings,
/// unknown ones kept as `{field}`.
fn format_template(cx: &Ctx<'_>, template: Text, args: &[Node], scope: &str, depth: usize) -> Text {
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for a in args {
        if a.kind() == "keyword_argument" {
            let (Some(k), Some(v)) = (a.child_by_field_name("name"), a.child_by_field_name("value")) else { continue };
            named.push((text(k, cx.src).to_string(), eval_depth(cx, v, scope, depth + 1)));
        } else {
            positional.push(eval_depth(cx, *a, scope, depth + 1));
        }
    }
    let one_line = |v: &Option<Value>| v.as_ref().and_then(|v| v.str()).filter(|t| !t.text.contains('\n')).map(|t| t.text.clone());
    let s = &template.text;
    let mut out = String::with_capacity(s.len());
    let mut auto = 0;
    let mut rest = s.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        if let Some(stripped) = after.strip_prefix('{') {
            out.push_str("{{");
            rest = stripped;
            continue;
        }
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let field = after[..close].split([':', '!']).next().unwrap_or("").trim();
        let value = if field.is_empty() {
            auto += 1;
            positional.get(auto - 1).and_then(one_line)
        } else if let Ok(i) = field.parse::<usize>() {
            positional.get(i).and_then(one_line)
        } else {
            named.iter().find(|(k, _)| k == field).and_then(|(_, v)| one_line(v))
        };
        match value {
            Some(v) => out.push_str(&v),
            None => {
                out.push('{');
                out.push_str(if field.is_empty() { "_" } else { field });
                out.push('}');
            }
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    // Substitutions are one-line, so the template's lines still map line for line.
    Text { text: out, file: template.file, lines: template.lines }
}
