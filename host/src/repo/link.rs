//! Linking across files once every file is read: names one module takes from another
//! (`from schema import Ratings` … `col(Ratings.average_rating)`, a query in a module
//! constant run by a helper) are resolved to the strings they hold and added to the
//! sites that use them.

use super::files::Modules;
use super::python::{PendingSql, PendingTerm, TermField};
use super::site::{add, Site};
use super::sql;
use super::value::{Ref, Value, MAX_DEPTH};
use std::collections::HashMap;

/// Every Python module's names, by file index, with the import resolver.
pub struct Names<'a> {
    pub modules: &'a Modules,
    pub names: &'a [HashMap<String, Value>],
}

impl Names<'_> {
    /// `v` with every reference to another module replaced by what that module binds
    /// (references that lead nowhere are dropped).
    pub fn resolve(&self, v: &Value, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        match v {
            Value::Ref(r) => self.lookup(r, depth),
            Value::Any(items) => super::value::any(items.iter().filter_map(|x| self.resolve(x, depth + 1)).collect()),
            Value::List(items) => {
                let items: Vec<Value> = items.iter().filter_map(|x| self.resolve(x, depth + 1)).collect();
                (!items.is_empty()).then_some(Value::List(items))
            }
            Value::Dict(entries) => Some(Value::Dict(entries.iter().filter_map(|(k, x)| Some((k.clone(), self.resolve(x, depth + 1)?))).collect())),
            Value::FileText(p) => Some(Value::FileText(Box::new(self.resolve(p, depth + 1)?))),
            Value::Concat(parts) => {
                let parts: Vec<Value> = parts.iter().map(|x| self.resolve(x, depth + 1).unwrap_or(Value::List(vec![]))).collect();
                super::value::join_parts(&parts)
            }
            Value::Str(_) => Some(v.clone()),
        }
    }

    fn lookup(&self, r: &Ref, depth: usize) -> Option<Value> {
        // `from pkg import mod` then `mod.X`: the name may be a submodule.
        for split in 0..=r.path.len() {
            let module = if split == 0 {
                r.module.clone()
            } else if r.module.ends_with('.') {
                format!("{}{}", r.module, r.path[..split].join("."))
            } else {
                format!("{}.{}", r.module, r.path[..split].join("."))
            };
            let Some(file) = self.modules.resolve(&r.from_file, &module) else { continue };
            let rest = &r.path[split..];
            let Some(first) = rest.first() else { continue };
            let Some(mut v) = self.names[file].get(first).cloned() else { continue };
            if let Value::Ref(inner) = &v {
                v = self.lookup(inner, depth + 1)?;
            }
            for seg in &rest[1..] {
                v = v.member(seg)?;
                if let Value::Ref(inner) = &v {
                    v = self.lookup(inner, depth + 1)?;
                }
            }
            return self.resolve(&v, depth + 1);
        }
        None
    }
}

/// Add the resolved strings of pending terms to their sites.
pub fn terms(sites: &mut [Site], index: &HashMap<String, usize>, pending: &[PendingTerm], names: &Names) {
    for p in pending {
        let Some(&i) = index.get(&p.site) else { continue };
        let Some(v) = names.resolve(&p.value, 0) else { continue };
        let s = &mut sites[i];
        for t in v.all_strings() {
            match p.field {
                TermField::Column => add(&mut s.columns, t.text.clone()),
                TermField::Table => add(&mut s.tables, t.text.clone()),
                TermField::Literal => add(&mut s.literals, t.text.clone()),
                TermField::Defines => add(&mut s.functions, format!("{}{}", planmap_plugin_sdk::DEFINES, t.text)),
            }
        }
    }
}

/// Queries run through `.sql(...)` whose text another module holds: their clause sites
/// (on the lines of that module where the text is written) and the files read at run
/// time they name.
pub fn queries(pending: &[PendingSql], names: &Names) -> (Vec<Site>, Vec<Value>) {
    let mut sites = Vec::new();
    let mut reads = Vec::new();
    for p in pending {
        let Some(v) = names.resolve(&p.value, 0) else { continue };
        for t in v.strings() {
            sites.extend(sql::text_sites(t, &p.symbol));
        }
        match &v {
            Value::FileText(path) => reads.push((**path).clone()),
            Value::Any(items) => reads.extend(items.iter().filter_map(|i| if let Value::FileText(p) = i { Some((**p).clone()) } else { None })),
            _ => {}
        }
    }
    (sites, reads)
}

/// A temp view registered in code (`df.createOrReplaceTempView("orders")`).
pub struct View {
    pub file: String,
    pub name: String,
    /// The line registering it.
    pub line: u32,
    /// The sites producing the registered DataFrame.
    pub producers: Vec<String>,
}

/// Temp views: SQL that reads a view reads what was registered under that name (in the
/// same file when it is registered there, else anywhere in the repository). A file
/// that registers one name several times (a script re-registering `ans` per query)
/// is read top to bottom: SQL reads the last registration above it, when there is one.
pub fn views(sites: &[Site], views: &[View]) -> Vec<(String, String)> {
    let mut by_name: HashMap<String, Vec<&View>> = HashMap::new();
    for v in views {
        by_name.entry(v.name.to_ascii_lowercase()).or_default().push(v);
    }
    let mut edges = Vec::new();
    for s in sites.iter().filter(|s| matches!(s.kind.as_str(), "sql-from" | "sql-join")) {
        for t in &s.tables {
            let Some(regs) = by_name.get(&t.to_ascii_lowercase()) else { continue };
            let here: Vec<&View> = regs.iter().copied().filter(|v| v.file == s.file).collect();
            let above = here.iter().filter(|v| v.line <= s.line_start).map(|v| v.line).max();
            let chosen: Vec<&View> = match above {
                Some(last) => here.into_iter().filter(|v| v.line == last).collect(),
                None if here.is_empty() => regs.clone(),
                None => here,
            };
            for v in chosen {
                for p in &v.producers {
                    edges.push((p.clone(), s.id.clone()));
                }
            }
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    #[test]
    fn sql_reads_the_last_registration_of_a_view_above_it() {
        let dir = tempfile::tempdir().unwrap();
        let script = "\
ans = spark.sql('select a from x').persist()
ans.createOrReplaceTempView('ans')
spark.sql('select sum(a) from ans').collect()
ans = spark.sql('select b from x').persist()
ans.createOrReplaceTempView('ans')
spark.sql('select sum(b) from ans').collect()
";
        std::fs::write(dir.path().join("bench.py"), script).unwrap();
        let ctx = crate::repo::build(dir.path(), &[], "t").unwrap();
        let feeds = |line: u32| -> Vec<u32> {
            let from = ctx.sites.iter().find(|s| s.kind == "sql-from" && s.line_start == line && s.tables == ["ans"]).unwrap();
            let mut v: Vec<u32> = ctx.edges.iter().filter(|(_, to)| *to == from.id).map(|(p, _)| ctx.sites.iter().find(|s| s.id == *p).unwrap().line_start).collect();
            v.sort();
            v
        };
        assert_eq!(feeds(3), vec![1], "the first query reads the first registration");
        assert_eq!(feeds(6), vec![4], "the second reads the one just above it, not both");
    }
}
