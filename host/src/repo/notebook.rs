//! Notebooks. Jupyter `.ipynb`: the code cells are read in order and their lines are
//! numbered as one file (cell 1's first line is 1; each next cell continues where the
//! previous one ended), which is how editors that flatten a notebook show it; `%%sql`
//! cells are SQL. Databricks source notebooks (`# Databricks notebook source`) are
//! Python files whose `# MAGIC %sql` cells are SQL, with the `# MAGIC ` prefix removed
//! and lines kept as in the file.

use serde::Deserialize;

/// One cell of code with its language and the line of its first row in the reported
/// numbering (1-based).
#[derive(Debug, Clone)]
pub struct Cell {
    pub language: &'static str,
    pub first_line: u32,
    pub source: String,
}

#[derive(Deserialize)]
struct Ipynb {
    cells: Vec<IpyCell>,
}

#[derive(Deserialize)]
struct IpyCell {
    cell_type: String,
    #[serde(default)]
    source: Source,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Source {
    Lines(Vec<String>),
    Text(String),
    #[default]
    None,
}

/// The code cells of a Jupyter notebook.
pub fn ipynb_cells(text: &str) -> Result<Vec<Cell>, String> {
    let nb: Ipynb = serde_json::from_str(text).map_err(|e| format!("not a Jupyter notebook: {e}"))?;
    let mut out = Vec::new();
    let mut line = 1u32;
    for c in nb.cells.into_iter().filter(|c| c.cell_type == "code") {
        let source = match c.source {
            Source::Lines(l) => l.concat(),
            Source::Text(t) => t,
            Source::None => String::new(),
        };
        let n = source.lines().count().max(1) as u32;
        let trimmed = source.trim_start();
        let (language, source) = if let Some(rest) = trimmed.strip_prefix("%%sql") {
            // Keep the line count: blank out the magic line.
            ("sql", format!("{}{}", " ".repeat(5), rest))
        } else {
            ("python", source)
        };
        out.push(Cell { language, first_line: line, source });
        line += n;
    }
    Ok(out)
}

/// Whether a Python file is a Databricks source notebook.
pub fn is_databricks_source(text: &str) -> bool {
    text.trim_start().starts_with("# Databricks notebook source")
}

/// The `%sql` cells of a Databricks source notebook (Python cells are parsed as the
/// whole file, where MAGIC lines are comments).
pub fn databricks_sql_cells(text: &str) -> Vec<Cell> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "# MAGIC %sql" {
            let first = i + 1;
            let mut j = first;
            let mut body = String::new();
            while j < lines.len() && lines[j].starts_with("# MAGIC") {
                body.push_str(lines[j].trim_start_matches("# MAGIC").strip_prefix(' ').unwrap_or(""));
                body.push('\n');
                j += 1;
            }
            out.push(Cell { language: "sql", first_line: first as u32 + 1, source: body });
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The notebooks a Databricks source notebook runs with `# MAGIC %run ./other`.
pub fn databricks_runs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("# MAGIC"))
        .filter_map(|l| l.trim_start().strip_prefix("%run"))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}
