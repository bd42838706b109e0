//! Reading Spark expression text: `#exprId` stripping, attribute, literal and function
//! extraction, and splitting top-level comma lists. Pure string work, no allocation
//! beyond the results, safe on any input.

use std::sync::LazyLock;

use regex::Regex;

static EXPR_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"#\d+L?").unwrap());
static ATTRIBUTE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)#\d+L?").unwrap());
static FUNCTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([A-Za-z_][A-Za-z0-9_]*)\(").unwrap());
static STRING_LIT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"'((?:[^'\\]|\\.)*)'").unwrap());
static TRUNCATED: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\.\.\. \d+ more fields|\.\.\.\s*\d+ more").unwrap());

/// Structural names Spark prints that are not user functions.
const NOT_FUNCTIONS: &[&str] = &[
    // `Some(Etc/UTC)`: a Scala option printed in an argument, not a call.
    "some",
    "isnotnull", "isnull", "cast", "struct", "input", "list", "knownfloatingpointnormalized", "normalizenanandzero",
    "dynamicpruningexpression", "windowspecdefinition", "specifiedwindowframe", "hashpartitioning", "rangepartitioning",
    "singlepartition", "roundrobinpartitioning", "unscaledvalue", "makedecimal", "promote_precision", "checkoverflow",
    "hashedrelationbroadcastmode", "identitybroadcastmode", "might_contain", "bloomfilteraggregate", "xxhash64",
    "scalarsubquery", "scalar", "subquery", "exists", "named_struct", "if", "coalesce_partitions", "plan_id", "id",
    "equalto", "greaterthan", "greaterthanorequal", "lessthan", "lessthanorequal", "in", "and", "or", "not", "stringstartswith",
    "stringendswith", "stringcontains", "equalnullsafe", "insubquery", "specifiedwindowframe", "rowframe", "rangeframe",
    "unboundedpreceding", "unboundedfollowing", "currentrow", "statistics", "struct", "map", "array", "decimal", "string", "int",
    "bigint", "double", "float", "boolean", "date", "timestamp", "filescan", "inmemoryfileindex", "relation", "location",
];

/// Remove `#12` / `#12L` expression ids.
pub fn strip_ids(s: &str) -> String {
    EXPR_ID.replace_all(s, "").into_owned()
}

/// Attribute names referenced (`customer_id#12` → `customer_id`), deduplicated in order.
pub fn attributes(s: &str) -> Vec<String> {
    dedup(ATTRIBUTE.captures_iter(s).map(|c| c[1].to_string()))
}

/// Function names called, lower-cased, without Spark's structural wrappers.
pub fn functions(s: &str) -> Vec<String> {
    dedup(FUNCTION.captures_iter(s).map(|c| c[1].to_ascii_lowercase()).filter(|f| !NOT_FUNCTIONS.contains(&f.as_str()) && !f.starts_with("partial_") && !f.starts_with("merge_")))
}

/// Aggregate function names, with Spark's `partial_`/`merge_` prefixes removed.
pub fn aggregate_functions(s: &str) -> Vec<String> {
    dedup(FUNCTION.captures_iter(s).map(|c| {
        let f = c[1].to_ascii_lowercase();
        f.trim_start_matches("partial_").trim_start_matches("merge_").to_string()
    }).filter(|f| !NOT_FUNCTIONS.contains(&f.as_str())))
}

/// String and numeric literals (numbers not part of identifiers or expression ids).
pub fn literals(s: &str) -> Vec<String> {
    let mut out: Vec<String> = STRING_LIT.captures_iter(s).map(|c| c[1].to_string()).collect();
    let without_strings = STRING_LIT.replace_all(s, " ");
    let bytes = without_strings.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            let prev = if i == 0 { b' ' } else { bytes[i - 1] };
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            let standalone = !(prev.is_ascii_alphanumeric() || prev == b'_' || prev == b'#' || prev == b'.' || prev == b'[');
            let next_ok = i >= bytes.len() || !(bytes[i].is_ascii_alphabetic() || bytes[i] == b'_');
            if standalone && next_ok {
                out.push(without_strings[start..i].trim_end_matches('.').to_string());
            }
        } else {
            i += 1;
        }
    }
    dedup(out)
}

/// `expr AS alias` aliases.
pub fn aliases(s: &str) -> Vec<String> {
    static ALIAS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\bAS\s+`?([A-Za-z_][A-Za-z0-9_]*)`?(#\d+L?)?").unwrap());
    dedup(
        ALIAS
            .captures_iter(s)
            // `cast(x AS int)`, `cast(y AS decimal(10,2))`: a type, not a name. An alias
            // carries an expression id, or at least is not closed or called at once.
            .filter(|c| c.get(2).is_some() || !matches!(s[c.get(0).map_or(0, |m| m.end())..].trim_start().chars().next(), Some(')' | '(')))
            .map(|c| c[1].to_string()),
    )
}

/// Whether Spark cut this text (`... 5 more fields`).
pub fn is_truncated(s: &str) -> bool {
    TRUNCATED.is_match(s)
}

/// Split on commas that are not inside brackets, parentheses or quotes.
pub fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth: i32 = 0;
    let mut quote = false;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '\'' => quote = !quote,
            '(' | '[' | '{' if !quote => depth += 1,
            ')' | ']' | '}' if !quote => depth -= 1,
            ',' if !quote && depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// The content of a bracketed list `[a, b]` (outer brackets removed), else the text.
pub fn unbracket(s: &str) -> &str {
    let t = s.trim();
    if t.starts_with('[') && t.ends_with(']') && t.len() >= 2 {
        &t[1..t.len() - 1]
    } else {
        t
    }
}

/// Items of a bracketed list with ids stripped.
pub fn list_items(s: &str) -> Vec<String> {
    split_top(unbracket(s)).into_iter().map(|x| strip_ids(&x)).filter(|x| !x.is_empty()).collect()
}

/// The arguments of the first `name(...)` call in `s`.
pub fn call_args<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let start = s.find(&format!("{name}("))? + name.len() + 1;
    let mut depth = 1;
    for (i, c) in s[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[start..start + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Columns of a `struct<a:int,b:string>` read schema.
pub fn schema_columns(s: &str) -> Vec<String> {
    let inner = s.trim().strip_prefix("struct<").and_then(|x| x.strip_suffix('>')).unwrap_or(s);
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in inner.chars() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    dedup(out.into_iter().filter_map(|f| f.split_once(':').map(|(n, _)| n.trim().trim_matches('`').to_string())))
}

/// Sort keys from `a#1 ASC NULLS FIRST, b#2 DESC NULLS LAST`.
pub fn sort_keys(s: &str) -> Vec<super::model::SortKey> {
    split_top(unbracket(s))
        .into_iter()
        .filter(|k| !k.is_empty())
        .map(|k| {
            let ascending = !k.contains(" DESC");
            let expr = strip_ids(k.split(" ASC").next().unwrap_or(&k).split(" DESC").next().unwrap_or(&k)).trim().to_string();
            super::model::SortKey { expr, ascending }
        })
        .collect()
}

pub fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !i.is_empty() && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_spark_expressions() {
        let c = "((isnotnull(d_moy#3) AND (d_moy#3 = 11)) AND isnotnull(d_date_sk#1))";
        assert_eq!(attributes(c), vec!["d_moy", "d_date_sk"]);
        assert_eq!(literals(c), vec!["11"]);
        assert_eq!(strip_ids("sum(amount#12L) AS total#40"), "sum(amount) AS total");
        assert_eq!(aliases("pythonUDF0#13 AS doubled#5"), vec!["doubled"]);
        assert_eq!(aliases("cast((pmod(x#3L, 5) + 1) as int) AS quantity#41, cast(p#2 as decimal(10,2)) AS price#42"), vec!["quantity", "price"]);
        assert_eq!(aliases("count(1) AS n"), vec!["n"]);
        assert_eq!(functions("upper(name#1) AS u#2, date_add(d#3, 7)"), vec!["upper", "date_add"]);
        assert_eq!(aggregate_functions("[partial_sum(x#1), partial_count(1)]"), vec!["sum", "count"]);
        assert_eq!(literals("(status#4 = 'shipped') AND (qty#5 > 2.5)"), vec!["shipped", "2.5"]);
        assert_eq!(split_top("a#1, f(b#2, c#3), 'x,y'"), vec!["a#1", "f(b#2, c#3)", "'x,y'"]);
        assert_eq!(schema_columns("struct<id:int,m:map<string,int>,s:struct<a:int>>"), vec!["id", "m", "s"]);
        let k = sort_keys("[a#1 ASC NULLS FIRST, b#2 DESC NULLS LAST]");
        assert_eq!((k[0].expr.as_str(), k[0].ascending, k[1].expr.as_str(), k[1].ascending), ("a", true, "b", false));
        assert_eq!(call_args("Exchange hashpartitioning(a#1, 200), ENSURE_REQUIREMENTS", "hashpartitioning"), Some("a#1, 200"));
        assert!(is_truncated("[a#1, b#2, ... 12 more fields]"));
    }
}
