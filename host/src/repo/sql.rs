//! Spark SQL clause extraction: a small tokenizer that finds FROM / JOIN / WHERE /
//! GROUP BY / HAVING / ORDER BY / LIMIT / UNION / INSERT / window (OVER) / SELECT clauses
//! with their lines, tables, columns, literals and functions. Hand-written rather than a
//! grammar: Spark SQL dialects, Jinja/f-string placeholders and half-written queries
//! must still yield sites, and a clause scanner degrades gracefully where a parser fails.

use super::site::{add, bounded, Site};
use super::value::Text;
use std::collections::HashMap;

/// One clause of a query, lines relative to the start of the SQL text (0-based).
#[derive(Debug, Clone, Default)]
pub struct Clause {
    pub kind: &'static str,
    pub line_start: usize,
    pub line_end: usize,
    pub columns: Vec<String>,
    pub tables: Vec<String>,
    pub literals: Vec<String>,
    pub functions: Vec<String>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Punct(char),
    /// A join or partitioning hint's name.
    Hint(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    start: usize,
    end: usize,
}

const KEYWORDS: &[&str] = &[
    "select", "from", "where", "group", "by", "having", "order", "sort", "limit", "union", "all", "intersect", "except", "insert", "into",
    "overwrite", "table", "join", "left", "right", "full", "inner", "outer", "cross", "semi", "anti", "on", "using", "as", "and", "or", "not",
    "in", "is", "null", "case", "when", "then", "else", "end", "distinct", "over", "partition", "rows", "range", "between", "preceding",
    "following", "unbounded", "current", "row", "asc", "desc", "nulls", "first", "last", "with", "like", "rlike", "exists", "cast", "interval",
    "true", "false", "lateral", "view", "create", "replace", "temporary", "temp", "if", "values", "cluster", "distribute", "qualify", "window",
];

fn tokenize(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 0);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') && b.get(i + 2) == Some(&b'+') {
            // A hint (`/*+ BROADCAST(t), MERGE(u) */`): its names, as `hint:<name>` words.
            let end = sql[i..].find("*/").map(|e| i + e).unwrap_or(b.len());
            for name in sql[i + 3..end].split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_')).filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())) {
                if name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    out.push(Token { tok: Tok::Hint(name.to_ascii_lowercase()), line, start: i, end: i });
                }
            }
            line += sql[i..end].matches('\n').count();
            i = (end + 2).min(b.len());
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                if b[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 2;
        } else if c == b'\'' || c == b'"' {
            let start = i;
            let l0 = line;
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                } else if b[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
            let end = i.min(b.len());
            out.push(Token { tok: Tok::Str(sql[start + 1..end].to_string()), line: l0, start, end: (i + 1).min(b.len()) });
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            out.push(Token { tok: Tok::Num(sql[start..i].to_string()), line, start, end: i });
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'`' || c >= 0x80 {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.' || b[i] == b'`' || b[i] >= 0x80) {
                i += 1;
            }
            out.push(Token { tok: Tok::Word(sql[start..i].replace('`', "")), line, start, end: i });
        } else {
            out.push(Token { tok: Tok::Punct(c as char), line, start: i, end: i + 1 });
            i += 1;
        }
    }
    out
}

fn word(t: &Token) -> Option<String> {
    match &t.tok {
        Tok::Word(w) => Some(w.to_ascii_lowercase()),
        _ => None,
    }
}

/// The clause a keyword at token `i` starts, and how many tokens the keyword uses.
fn clause_start(toks: &[Token], i: usize) -> Option<(&'static str, usize)> {
    let w = word(&toks[i])?;
    let next = toks.get(i + 1).and_then(word);
    Some(match w.as_str() {
        "select" => ("sql-select", 1),
        "from" => ("sql-from", 1),
        "where" => ("sql-where", 1),
        "having" => ("sql-where", 1),
        "qualify" => ("sql-where", 1),
        "group" if next.as_deref() == Some("by") => ("sql-group-by", 2),
        "order" | "sort" if next.as_deref() == Some("by") => ("sql-order-by", 2),
        "limit" => ("sql-limit", 1),
        "union" | "intersect" | "except" => ("sql-union", 1),
        "insert" => ("sql-insert", 1),
        "cache" if matches!(next.as_deref(), Some("table") | Some("lazy")) => ("sql-cache", 2),
        "join" => ("sql-join", 1),
        "left" | "right" | "full" | "inner" | "cross" | "outer" | "semi" | "anti" => {
            // `LEFT [OUTER|SEMI|ANTI] JOIN`: the clause starts at the first of these words.
            let prev_is_join_word = i > 0 && word(&toks[i - 1]).is_some_and(|p| matches!(p.as_str(), "left" | "right" | "full" | "inner" | "cross" | "outer" | "semi" | "anti" | "natural"));
            if prev_is_join_word {
                return None;
            }
            let mut j = i;
            while j < toks.len() && word(&toks[j]).is_some_and(|p| matches!(p.as_str(), "left" | "right" | "full" | "inner" | "cross" | "outer" | "semi" | "anti")) {
                j += 1;
            }
            if j < toks.len() && word(&toks[j]).as_deref() == Some("join") {
                ("sql-join", j - i + 1)
            } else {
                return None;
            }
        }
        _ => return None,
    })
}

/// Extract the clauses of `sql`.
pub fn clauses(sql: &str) -> Vec<Clause> {
    let toks = tokenize(sql);
    let mut out: Vec<Clause> = Vec::new();
    // Open clauses as (kind, first token, paren depth); a clause ends at the next clause
    // keyword of the same depth, or when its depth closes.
    let mut open: Vec<(&'static str, usize, i32)> = Vec::new();
    let mut depth: i32 = 0;
    // What the last select list closed at each depth computes: the GROUP BY that
    // follows at that depth is where Spark's Aggregate of the query is, so it carries
    // the list's aggregate functions, and the columns and literals of its items that
    // aggregate (`MAX(CASE WHEN s LIKE '%x%' THEN 1 END) AS flag`).
    let mut aggregates: HashMap<i32, Clause> = HashMap::new();
    // Close every open clause at `depth` or deeper, its last token being `last`.
    let close_from = |out: &mut Vec<Clause>, open: &mut Vec<(&'static str, usize, i32)>, aggregates: &mut HashMap<i32, Clause>, depth: i32, last: usize| {
        while let Some(&(kind, first, d)) = open.last() {
            if d < depth {
                break;
            }
            open.pop();
            if last >= first {
                if kind == "sql-select" {
                    // A select list over many lines is one site per line of items, so a
                    // Project maps to the expressions it computes, not to the whole list.
                    let mut aggs = Clause::default();
                    let mut listed: Vec<String> = Vec::new();
                    for items in select_lines(&toks[first..=last]) {
                        let c = build(kind, items, sql);
                        if c.functions.iter().any(|f| planmap_plugin_sdk::is_aggregate_function(f)) {
                            aggs.functions.extend(c.functions.iter().filter(|f| planmap_plugin_sdk::is_aggregate_function(f)).cloned());
                            aggs.columns.extend(c.columns.iter().cloned());
                            aggs.literals.extend(c.literals.iter().cloned());
                        }
                        listed.extend(c.columns.iter().cloned());
                        out.push(c);
                    }
                    // `SELECT DISTINCT a, b`: the distinct's keys are the list's columns.
                    if toks.get(first + 1).and_then(word).as_deref() == Some("distinct")
                        && let Some(distinct) = out.iter_mut().rev().find(|c| c.kind == "sql-distinct" && c.line_start == toks[first].line) {
                            for x in listed {
                                add(&mut distinct.columns, x);
                            }
                        }
                    aggregates.insert(d, aggs);
                } else {
                    let mut c = build(kind, &toks[first..=last], sql);
                    if kind == "sql-group-by"
                        && let Some(a) = aggregates.get(&d) {
                            for f in &a.functions {
                                add(&mut c.functions, f.clone());
                            }
                            for x in &a.columns {
                                add(&mut c.columns, x.clone());
                            }
                            for x in &a.literals {
                                add(&mut c.literals, x.clone());
                            }
                        }
                    out.push(c);
                }
            }
        }
    };
    let mut i = 0;
    while i < toks.len() {
        match toks[i].tok {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => {
                close_from(&mut out, &mut open, &mut aggregates, depth, i.saturating_sub(1));
                depth -= 1;
            }
            _ => {}
        }
        if let Some((kind, width)) = clause_start(&toks, i) {
            close_from(&mut out, &mut open, &mut aggregates, depth, i.saturating_sub(1));
            open.push((kind, i, depth));
            if kind == "sql-select" && toks.get(i + 1).and_then(word).as_deref() == Some("distinct") {
                out.push(build("sql-distinct", &toks[i..i + 2], sql));
            }
            i += width;
            continue;
        }
        // `fn(...) OVER (...)`: a window clause of its own.
        if word(&toks[i]).as_deref() == Some("over") && matches!(toks.get(i + 1).map(|t| &t.tok), Some(Tok::Punct('('))) {
            let j = matching(&toks, i + 1, true);
            // Include the function call before OVER (`rank()`, `sum(x)`).
            let f = if i > 0 && toks[i - 1].tok == Tok::Punct(')') { matching(&toks, i - 1, false).saturating_sub(1) } else { i };
            out.push(build("sql-window", &toks[f..=j.min(toks.len() - 1)], sql));
        }
        i += 1;
    }
    close_from(&mut out, &mut open, &mut aggregates, i32::MIN, toks.len().saturating_sub(1));
    // Hints steer the whole query: every clause carries them.
    let hints: Vec<String> = toks.iter().filter_map(|t| if let Tok::Hint(h) = &t.tok { Some(format!("hint:{h}")) } else { None }).collect();
    for c in &mut out {
        for h in &hints {
            add(&mut c.functions, h.clone());
        }
    }
    out.sort_by_key(|c| (c.line_start, c.line_end));
    out
}

/// A select clause's tokens in runs of whole items (split at top-level commas), a new
/// run where an item starts on a later line than the run so far ends; the first run
/// keeps the `SELECT`.
fn select_lines(toks: &[Token]) -> Vec<&[Token]> {
    let mut runs = Vec::new();
    let (mut start, mut depth, mut item_start) = (0, 0i32, 0);
    for (k, t) in toks.iter().enumerate() {
        match t.tok {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                item_start = k + 1;
                continue;
            }
            _ => {}
        }
        // The first token of an item on a later line than the previous token.
        if k == item_start && k > start && k > 0 && t.line > toks[k - 1].line {
            runs.push(&toks[start..k]);
            start = k;
        }
    }
    runs.push(&toks[start..]);
    runs
}

/// The index of the parenthesis matching the one at `at`, scanning forward from an
/// opening one or backward from a closing one (the last token if unbalanced).
fn matching(toks: &[Token], at: usize, forward: bool) -> usize {
    let (open, close) = if forward { ('(', ')') } else { (')', '(') };
    let mut depth = 0;
    let mut j = at;
    loop {
        match toks[j].tok {
            Tok::Punct(c) if c == open => depth += 1,
            Tok::Punct(c) if c == close => {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
            _ => {}
        }
        if forward {
            if j + 1 >= toks.len() {
                return j;
            }
            j += 1;
        } else {
            if j == 0 {
                return 0;
            }
            j -= 1;
        }
    }
}

fn build(kind: &'static str, toks: &[Token], sql: &str) -> Clause {
    let mut c = Clause { kind, line_start: toks[0].line, line_end: toks[toks.len() - 1].line, ..Default::default() };
    c.text = sql[toks[0].start..toks[toks.len() - 1].end].to_string();
    let mut expect_table = matches!(kind, "sql-from" | "sql-join" | "sql-insert" | "sql-cache");
    if kind == "sql-join" {
        // The join type as the words before JOIN (`left anti`), `inner` when bare, so it
        // can be compared with the plan's join type.
        let words: Vec<String> = toks.iter().map_while(|t| word(t).filter(|w| w != "join")).filter(|w| w != "natural").collect();
        add(&mut c.literals, if words.is_empty() { "inner".to_string() } else { words.join(" ") });
    }
    for (k, t) in toks.iter().enumerate() {
        match &t.tok {
            Tok::Str(s) => add(&mut c.literals, s.clone()),
            Tok::Num(n) => add(&mut c.literals, n.clone()),
            Tok::Word(w) => {
                let lw = w.to_ascii_lowercase();
                let is_call = matches!(toks.get(k + 1).map(|t| &t.tok), Some(Tok::Punct('(')));
                if KEYWORDS.contains(&lw.as_str()) {
                    if lw == "on" || lw == "using" || lw == "where" {
                        expect_table = false;
                    }
                    continue;
                }
                if is_call {
                    add(&mut c.functions, lw);
                } else if expect_table {
                    add(&mut c.tables, w.clone());
                    expect_table = false;
                } else {
                    // `t.col` → `col`; placeholders and aliases count as columns.
                    add(&mut c.columns, w.rsplit('.').next().unwrap_or(w).to_string());
                }
            }
            Tok::Punct(',') if matches!(kind, "sql-from") => expect_table = true,
            _ => {}
        }
    }
    c
}

/// The views and tables a SQL text creates (`CREATE [OR REPLACE] [GLOBAL] [TEMP] VIEW x`,
/// `CREATE TABLE x … AS`, `INSERT INTO x`), lower-cased.
pub fn defined_names(sql: &str) -> Vec<String> {
    let toks = tokenize(sql);
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let Some(w) = word(t) else { continue };
        if w != "create" && w != "insert" {
            continue;
        }
        let mut j = i + 1;
        while let Some(x) = toks.get(j).and_then(word) {
            if matches!(x.as_str(), "or" | "replace" | "global" | "temp" | "temporary" | "view" | "table" | "if" | "not" | "exists" | "into" | "overwrite" | "external") {
                j += 1;
            } else {
                break;
            }
        }
        if j > i + 1
            && let Some(name) = toks.get(j).and_then(word) {
                super::site::add(&mut out, name);
            }
    }
    out
}

/// The sites of a query text, one per clause, on the file lines where the text is
/// written. `{placeholder}`s stay as names (Spark sees a value there). `symbol` is the
/// enclosing function, `<module>`, `<script>` for a `.sql` file or `<notebook>`.
pub fn text_sites(t: &Text, symbol: &str) -> Vec<Site> {
    let sql = t.text.replace(['{', '}'], "");
    let first = t.line(0);
    clauses(&sql)
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (start, end) = (t.line(c.line_start), t.line(c.line_end).max(t.line(c.line_start)));
            Site {
                id: format!("{}:{start}:q{first}.{i}:{}", t.file, c.kind),
                file: t.file.clone(),
                symbol: symbol.to_string(),
                line_start: start,
                line_end: end,
                statement_start: start,
                statement_end: end,
                kind: c.kind.to_string(),
                language: "sql".into(),
                snippet: bounded(&c.text),
                columns: c.columns,
                tables: c.tables,
                literals: c.literals,
                functions: c.functions,
                inputs: vec![],
                outputs: vec![],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn finds_clauses_with_lines_tables_and_columns() {
        let sql = "SELECT c.region, sum(o.amount) AS revenue\nFROM sales.orders o\nLEFT JOIN customers c ON o.customer_id = c.customer_id\nWHERE o.status = 'shipped' AND o.amount > 10\nGROUP BY c.region\nORDER BY revenue DESC\nLIMIT 5";
        let cs = clauses(sql);
        let kinds: Vec<&str> = cs.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec!["sql-select", "sql-from", "sql-join", "sql-where", "sql-group-by", "sql-order-by", "sql-limit"]);
        // The GROUP BY computes the select list's aggregates; a subquery's stay its own.
        assert!(cs[4].functions.contains(&"sum".to_string()), "{:?}", cs[4].functions);
        let nested = clauses("SELECT k, max(n) FROM (SELECT k, count(*) AS n FROM t GROUP BY k) GROUP BY k");
        let groups: Vec<&Vec<String>> = nested.iter().filter(|c| c.kind == "sql-group-by").map(|c| &c.functions).collect();
        assert_eq!(groups.len(), 2);
        assert!(groups.iter().any(|f| f.contains(&"count".to_string()) && !f.contains(&"max".to_string())), "{groups:?}");
        assert!(groups.iter().any(|f| f.contains(&"max".to_string()) && !f.contains(&"count".to_string())), "{groups:?}");
        // ... and the columns and literals of the items that aggregate, not of the keys
        // alone: it is the query's Aggregate node.
        let flags = clauses("SELECT id,\n  MAX(CASE WHEN s LIKE '%paid%' THEN 1 ELSE 0 END) AS paid,\n  upper(name) AS n\nFROM t\nGROUP BY id");
        let group = flags.iter().find(|c| c.kind == "sql-group-by").unwrap();
        assert_eq!((group.columns.clone(), group.literals.clone()), (strs(&["id", "s", "paid"]), strs(&["%paid%", "1", "0"])));
        // SELECT DISTINCT: the distinct is keyed by the select list.
        let distinct = clauses("SELECT DISTINCT(zip_code), city FROM t");
        assert_eq!(distinct.iter().find(|c| c.kind == "sql-distinct").unwrap().columns, strs(&["zip_code", "city"]));
        let from = &cs[1];
        assert_eq!(from.tables, vec!["sales.orders"]);
        assert_eq!((from.line_start, from.line_end), (1, 1));
        let join = &cs[2];
        assert_eq!(join.tables, vec!["customers"]);
        assert!(join.columns.contains(&"customer_id".to_string()));
        assert_eq!(cs[3].literals, vec!["shipped", "10"]);
        assert_eq!(cs[0].functions, vec!["sum"]);
        assert!(cs[0].columns.contains(&"revenue".to_string()));
        assert_eq!(cs[6].literals, vec!["5"]);
    }

    #[test]
    fn windows_subqueries_and_unions() {
        let sql = "SELECT id, rank() OVER (PARTITION BY region ORDER BY amount DESC) AS r\nFROM (SELECT * FROM a UNION ALL SELECT * FROM b) t\nWHERE amount > (SELECT avg(amount) FROM a)";
        let cs = clauses(sql);
        let w = cs.iter().find(|c| c.kind == "sql-window").unwrap();
        assert_eq!(w.functions, vec!["rank"]);
        assert!(w.columns.contains(&"region".to_string()) && w.columns.contains(&"amount".to_string()));
        assert_eq!(cs.iter().filter(|c| c.kind == "sql-from").count(), 4);
        assert_eq!(cs.iter().filter(|c| c.kind == "sql-union").count(), 1);
        assert!(cs.iter().any(|c| c.kind == "sql-from" && c.tables == vec!["b"]));
    }
}
