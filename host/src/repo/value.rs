//! Values the index can know without running the code: strings (with where each of
//! their lines was written, so SQL held in a variable maps back to its own lines),
//! dictionaries, lists and classes of them, and references to names defined in other
//! modules, resolved once every file is read. This is how a column name in a constant,
//! a class attribute or a config dict, a path built by concatenation, or a query kept in
//! a module constant reaches the site that uses it as the string Spark sees.

use serde::{Deserialize, Serialize};

/// A string with its origin: the file it was written in and the file line of each of
/// its lines (a triple-quoted query keeps one line per source line; a concatenation
/// keeps each piece's own line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Text {
    pub text: String,
    pub file: String,
    /// 1-based file line of each `\n`-separated line of `text`.
    pub lines: Vec<u32>,
}

impl Text {
    pub fn new(text: String, file: &str, first_line: u32) -> Text {
        let n = text.split('\n').count() as u32;
        Text { text, file: file.to_string(), lines: (first_line..first_line + n).collect() }
    }

    /// `self` followed by `other` (their line origins kept).
    pub fn concat(mut self, other: &Text) -> Text {
        let mut rest = other.lines.iter();
        let first = rest.next();
        self.text.push_str(&other.text);
        if first.is_none() {
            return self;
        }
        // The other's first line continues this one's last line.
        self.lines.extend(rest);
        self
    }

    /// `self`, a line break, then `other` (which starts on line `line`): a query
    /// written as `"SELECT …"` `"FROM …"` over several lines keeps each piece on its own
    /// line (a newline between tokens changes no query).
    pub fn on_next_line(mut self, other: &Text, line: u32) -> Text {
        if !self.text.ends_with('\n') {
            self.text.push('\n');
            self.lines.push(line);
        }
        self.concat(other)
    }

    /// The file line of line `i` of the text (0-based), clamped to the last.
    pub fn line(&self, i: usize) -> u32 {
        self.lines.get(i).or(self.lines.last()).copied().unwrap_or(1)
    }
}

/// A name defined in another module: `from M import X` makes `X` a reference to
/// (`M`, [`X`]), and `X.attr["key"]` to (`M`, [`X`, `attr`, `key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ref {
    /// The module as the import names it (`pkg.mod`, `.constants`, `..`).
    pub module: String,
    /// The name and the attributes or keys taken from it.
    pub path: Vec<String>,
    /// The importing file, so relative and nearby imports resolve.
    pub from_file: String,
}

/// What an expression is known to evaluate to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Str(Text),
    /// A dict literal, a class's attributes, or a module's names.
    Dict(Vec<(String, Value)>),
    List(Vec<Value>),
    /// One of several values (a subscript with an unknown key, a loop variable).
    Any(Vec<Value>),
    /// Defined in another module; resolved after every file is read.
    Ref(Ref),
    /// The contents of a file read at run time (`open(p).read()`, `Path(p).read_text()`),
    /// by its path.
    FileText(Box<Value>),
    /// A concatenation with a part another module defines (`root + CONFIG["path"]`):
    /// joined once the parts are known.
    Concat(Vec<Value>),
}

/// How deep values nest before the rest is dropped (a cycle of re-exports, a huge
/// literal table).
pub const MAX_DEPTH: usize = 8;
/// Most alternatives one `Any` keeps.
pub const MAX_ANY: usize = 64;

impl Value {
    pub fn str(&self) -> Option<&Text> {
        match self {
            Value::Str(t) => Some(t),
            _ => None,
        }
    }

    /// Take attribute or key `seg` of this value (`Value::Str` passes `.value` through,
    /// so a string enum member reads as its value).
    pub fn member(&self, seg: &str) -> Option<Value> {
        match self {
            Value::Dict(entries) => entries.iter().rev().find(|(k, _)| k == seg).map(|(_, v)| v.clone()),
            Value::Str(_) if seg == "value" => Some(self.clone()),
            Value::List(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i).cloned()),
            Value::Any(items) => {
                let found: Vec<Value> = items.iter().filter_map(|v| v.member(seg)).collect();
                any(found)
            }
            Value::Ref(r) => {
                let mut r = r.clone();
                r.path.push(seg.to_string());
                Some(Value::Ref(r))
            }
            _ => None,
        }
    }

    /// Every value a subscript with an unknown key could take.
    pub fn elements(&self) -> Option<Value> {
        match self {
            Value::Dict(entries) => any(entries.iter().map(|(_, v)| v.clone()).collect()),
            Value::List(items) => any(items.clone()),
            Value::Any(items) => any(items.iter().filter_map(Value::elements).collect()),
            _ => None,
        }
    }

    /// The keys of a dict, as strings written where the dict is.
    pub fn keys(&self, file: &str, line: u32) -> Option<Value> {
        match self {
            Value::Dict(entries) => any(entries.iter().map(|(k, _)| Value::Str(Text::new(k.clone(), file, line))).collect()),
            _ => None,
        }
    }

    /// Every string this value may be (an `Any` fans out; lists are not strings).
    pub fn strings(&self) -> Vec<&Text> {
        match self {
            Value::Str(t) => vec![t],
            Value::Any(items) => items.iter().flat_map(Value::strings).collect(),
            _ => vec![],
        }
    }

    /// Every string inside this value, lists and dicts included (`select(*COLUMNS)`).
    pub fn all_strings(&self) -> Vec<&Text> {
        match self {
            Value::Str(t) => vec![t],
            Value::Any(items) | Value::List(items) => items.iter().flat_map(Value::all_strings).collect(),
            Value::Dict(entries) => entries.iter().flat_map(|(_, v)| v.all_strings()).collect(),
            _ => vec![],
        }
    }

    /// Whether anything in it still refers to another module.
    pub fn has_refs(&self) -> bool {
        match self {
            Value::Ref(_) => true,
            Value::Any(v) | Value::List(v) => v.iter().any(Value::has_refs),
            Value::Dict(e) => e.iter().any(|(_, v)| v.has_refs()),
            Value::FileText(p) => p.has_refs(),
            Value::Concat(parts) => parts.iter().any(Value::has_refs),
            Value::Str(_) => false,
        }
    }
}

/// Join the parts of a `Concat` whose parts are all known; an unknown part stands as
/// `{…}`, as an unknown f-string interpolation does.
pub fn join_parts(parts: &[Value]) -> Option<Value> {
    let mut out: Option<Text> = None;
    for p in parts {
        let t = match p {
            Value::Str(t) => t.clone(),
            _ => Text::new("{…}".into(), out.as_ref().map(|o| o.file.as_str()).unwrap_or(""), out.as_ref().and_then(|o| o.lines.last().copied()).unwrap_or(1)),
        };
        out = Some(match out {
            None => t,
            Some(o) => o.concat(&t),
        });
    }
    out.map(Value::Str)
}

/// One value for several: none, the only one, or `Any` of them (bounded).
pub fn any(mut v: Vec<Value>) -> Option<Value> {
    v.truncate(MAX_ANY);
    match v.len() {
        0 => None,
        1 => v.pop(),
        _ => Some(Value::Any(v)),
    }
}

/// The first words of a string that make it a query Spark would run (`spark.sql` of
/// anything else fails), after comments and blank space.
pub fn looks_like_sql(s: &str) -> bool {
    let mut t = s.trim_start();
    loop {
        if let Some(rest) = t.strip_prefix("--") {
            t = rest.split_once('\n').map(|(_, r)| r).unwrap_or("").trim_start();
        } else if let Some(rest) = t.strip_prefix("/*") {
            t = rest.split_once("*/").map(|(_, r)| r).unwrap_or("").trim_start();
        } else {
            break;
        }
    }
    let t = t.trim_start_matches('(').trim_start();
    let first: String = t.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_lowercase();
    let rest = t[first.len()..].to_ascii_lowercase();
    match first.as_str() {
        // `select … from …`: a bare `select` word is common English in messages.
        "select" => rest.contains("from") || rest.trim_start().starts_with(|c: char| c.is_ascii_digit() || c == '*' || c == '\'') || rest.contains(" as "),
        "with" => rest.contains("select") && rest.contains(" as"),
        "insert" => rest.trim_start().starts_with("into") || rest.trim_start().starts_with("overwrite"),
        "create" | "merge" => rest.contains(" as select") || rest.contains("\nas select") || rest.contains("select") && (rest.contains("view") || rest.contains("table")),
        "from" => rest.contains("select") || rest.contains("insert"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenation_keeps_each_piece_on_its_own_lines() {
        let a = Text::new("SELECT a\nFROM t ".into(), "q.py", 10);
        let b = Text::new("WHERE x = 1".into(), "q.py", 14);
        let c = a.concat(&b);
        assert_eq!(c.text, "SELECT a\nFROM t WHERE x = 1");
        assert_eq!(c.lines, vec![10, 11], "the second piece continues the last line");
        let d = c.concat(&Text::new("\nGROUP BY a".into(), "q.py", 15));
        assert_eq!(d.lines, vec![10, 11, 16]);
        assert_eq!(d.line(9), 16);
        let e = Text::new("SELECT a ".into(), "q.py", 3).on_next_line(&Text::new("FROM t".into(), "q.py", 4), 4).concat(&Text::new(" WHERE x".into(), "q.py", 4));
        assert_eq!((e.text.as_str(), e.lines.clone()), ("SELECT a \nFROM t WHERE x", vec![3, 4]), "pieces on later lines start new lines");
    }

    #[test]
    fn members_of_classes_dicts_and_enums() {
        let t = |s: &str| Value::Str(Text::new(s.into(), "c.py", 1));
        let ratings = Value::Dict(vec![("average_rating".into(), t("averageRating"))]);
        assert_eq!(ratings.member("average_rating").unwrap().str().unwrap().text, "averageRating");
        assert_eq!(ratings.member("average_rating").unwrap().member("value").unwrap().str().unwrap().text, "averageRating", "a str enum member's .value");
        let cfg = Value::Dict(vec![("a".into(), t("x")), ("b".into(), t("y"))]);
        assert_eq!(cfg.elements().unwrap().strings().len(), 2, "an unknown key may be any value");
        let r = Value::Ref(Ref { module: "m".into(), path: vec!["C".into()], from_file: "a.py".into() });
        let Some(Value::Ref(r)) = r.member("x") else { panic!() };
        assert_eq!(r.path, vec!["C", "x"]);
    }

    #[test]
    fn queries_are_told_from_other_strings() {
        assert!(looks_like_sql("\n  -- top customers\n  SELECT c.name, sum(x) FROM orders o JOIN c"));
        assert!(looks_like_sql("with t as (select 1) select * from t"));
        assert!(looks_like_sql("INSERT OVERWRITE TABLE x SELECT * FROM y"));
        assert!(looks_like_sql("select * from {table} where d = '{day}'"));
        assert!(!looks_like_sql("Select the rows you want"));
        assert!(!looks_like_sql("order_id"));
        assert!(!looks_like_sql("with pleasure"));
    }
}
