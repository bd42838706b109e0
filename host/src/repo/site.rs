//! A code site: one place in the repository where Spark work is expressed, with the
//! structure the matcher compares against plan semantics.

use planmap_runtime::{model, wit};
use serde::{Deserialize, Serialize};

/// One Spark operation in the code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Stable within one index: `file:line:column:kind`.
    pub id: String,
    /// Path relative to the repository root, `/`-separated.
    pub file: String,
    /// Enclosing function, method or class (`Class.method`), `<module>` at top level.
    pub symbol: String,
    /// The span of the call itself (1-based, inclusive).
    pub line_start: u32,
    pub line_end: u32,
    /// The whole statement the call belongs to.
    pub statement_start: u32,
    pub statement_end: u32,
    /// read, table, filter, select, with-column, join, aggregate, window, sort, limit,
    /// union, distinct, repartition, cache, udf, write, action, sql-from, sql-join,
    /// sql-where, sql-group-by, sql-order-by, sql-limit, sql-union, sql-insert, sql-window,
    /// sql-select, sql-distinct.
    pub kind: String,
    /// python, scala, java, sql (notebooks report the language of the cell).
    pub language: String,
    /// The source of the span, bounded.
    pub snippet: String,
    pub columns: Vec<String>,
    pub tables: Vec<String>,
    pub literals: Vec<String>,
    pub functions: Vec<String>,
    /// DataFrame variables consumed and produced (scope-qualified: `function:var`).
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

/// Longest snippet kept per site.
pub const MAX_SNIPPET: usize = 600;

impl Site {
    /// The site as plugins get it, numbered `id` in its index.
    pub fn to_code_site(&self, id: u32) -> model::CodeSite {
        model::CodeSite {
            id,
            location: model::Location { file: self.file.clone(), symbol: self.symbol.clone(), line_start: self.line_start, line_end: self.line_end },
            statement_start: self.statement_start,
            statement_end: self.statement_end,
            kind: self.kind.clone(),
            columns: self.columns.clone(),
            tables: self.tables.clone(),
            literals: self.literals.clone(),
            functions: self.functions.clone(),
        }
    }

    /// The site's source text in the WIT form.
    pub fn to_wit_source(&self, id: u32) -> wit::SiteSource {
        wit::SiteSource { site_id: id, language: self.language.clone(), snippet: self.snippet.clone() }
    }

    /// The entry for the in-process index (which numbers it).
    pub fn index_entry(&self) -> crate::capabilities::IndexEntry {
        crate::capabilities::IndexEntry { name: self.id.clone(), site: self.to_code_site(0), source: self.to_wit_source(0), outputs: self.outputs.clone() }
    }
}

/// Cut a snippet to `MAX_SNIPPET` bytes on a character boundary.
pub fn bounded(s: &str) -> String {
    let mut out = s.to_string();
    crate::text::truncate(&mut out, MAX_SNIPPET, " …");
    out
}

/// Push `v` unless present or empty.
pub fn add(list: &mut Vec<String>, v: impl Into<String>) {
    let v = v.into();
    if !v.is_empty() && !list.contains(&v) {
        list.push(v);
    }
}
