//! Semantics of one node from its operator text and detail fields: tables, paths,
//! columns, keys, predicates, literals, aggregates, sort and window specs, limits,
//! UDFs, aliases and write targets, with `#exprId` suffixes stripped.

use super::expr::{self, attributes, call_args, dedup, list_items, literals, split_top, strip_ids, unbracket};
use super::model::{Family, Semantics};
use super::raw::RawNode;

/// `Key: value` pairs of a simple-mode scan line (`Batched: true, Format: Parquet, ...`).
fn inline_fields(text: &str) -> Vec<(String, String)> {
    let after = match text.find("] ") {
        Some(i) => &text[i + 2..],
        None => text,
    };
    // `ReadSchema: struct<a:int,b:string>` comes last and holds commas inside `<>`.
    let (head, schema) = match after.find("ReadSchema: ") {
        Some(i) => (&after[..i], Some(after[i + "ReadSchema: ".len()..].trim())),
        None => (after, None),
    };
    let mut out: Vec<(String, String)> = split_top(head).into_iter().filter_map(|kv| kv.split_once(": ").map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    if let Some(s) = schema {
        out.push(("ReadSchema".into(), s.to_string()));
    }
    out
}

fn get<'a>(raw: &'a RawNode, inline: &'a [(String, String)], key: &str) -> Option<&'a str> {
    raw.field(key).or_else(|| inline.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str()))
}

/// The operator's arguments: the formatted `Arguments` field, else the text after the name.
fn arguments(raw: &RawNode, name_len: usize) -> &str {
    raw.field("Arguments").unwrap_or_else(|| raw.text.get(name_len..).unwrap_or("").trim())
}

fn paths_of(location: &str) -> Vec<String> {
    // `InMemoryFileIndex(2 paths)[file:/a, file:/b]`, `InMemoryFileIndex [s3://b/x]`,
    // `[not included in comparison]/{warehouse_dir}/date_dim]`
    let inner = match location.rfind('[') {
        Some(i) => location[i + 1..].trim_end_matches(']'),
        None => location,
    };
    if location.contains("not included in comparison") {
        let tail = location.rsplit(']').nth(1).unwrap_or("");
        return if tail.is_empty() { vec![] } else { vec![tail.to_string()] };
    }
    dedup(inner.split(", ").map(|p| p.trim().trim_end_matches(", ...").to_string()).filter(|p| p.contains('/') || p.contains(':')))
}

/// Extract semantics for a node whose Spark operator is `op`.
pub fn extract(op: &str, family: Family, raw: &RawNode) -> Semantics {
    let mut s = Semantics::default();
    let header = raw.field("__header").unwrap_or(&raw.text).to_string();
    let all: String = std::iter::once(raw.text.as_str()).chain(raw.fields.iter().filter(|(k, _)| k != "Input").map(|(_, v)| v.as_str())).collect::<Vec<_>>().join(" ");
    s.truncated = expr::is_truncated(&all);
    let name_len = raw.text.find([' ', '[', '(']).unwrap_or(raw.text.len());
    if let Some(out) = raw.field("Output").or(raw.field("OUTPUT")) {
        s.output_columns = list_items(out).iter().map(|c| c.rsplit('.').next().unwrap_or(c).to_string()).collect();
    }
    match family {
        Family::Scan => scan(&mut s, &header, raw),
        Family::Filter => {
            let cond = raw.field("Condition").map(str::to_string).unwrap_or_else(|| raw.text.get(name_len..).unwrap_or("").trim().to_string());
            predicate(&mut s, &cond);
        }
        Family::Project => {
            let list = raw.field("Output").map(str::to_string).unwrap_or_else(|| raw.text.get(name_len..).unwrap_or("").to_string());
            s.aliases = expr::aliases(&list);
            s.functions = expr::functions(&list);
            if list.contains("CASE WHEN") {
                s.functions.push("casewhen".into());
            }
            s.columns = attributes(&list);
            s.literals = literals(&strip_ids(&list));
        }
        Family::Join => join(&mut s, &header, raw, name_len),
        Family::Aggregate => aggregate(&mut s, raw, name_len),
        Family::Exchange => exchange(&mut s, op, arguments(raw, name_len)),
        Family::Sort => {
            let args = arguments(raw, name_len);
            let parts = split_top(args);
            s.sort_keys = parts.first().map(|k| expr::sort_keys(k)).unwrap_or_default();
            if parts.get(1).map(|g| g.trim() == "true").unwrap_or(false) {
                s.flags.push("global".into());
            }
            s.columns = attributes(parts.first().map(|p| p.as_str()).unwrap_or(""));
        }
        Family::Window if op == "WindowGroupLimit" => window_group_limit(&mut s, arguments(raw, name_len)),
        Family::Window => window(&mut s, arguments(raw, name_len)),
        Family::Limit => limit(&mut s, op, raw, name_len),
        Family::Generate | Family::Expand => {
            let args = arguments(raw, name_len);
            s.functions = expr::functions(args);
            s.columns = attributes(args);
        }
        Family::PythonUdf => {
            let args = arguments(raw, name_len);
            let all: Vec<String> = expr::functions(args).into_iter().filter(|f| !f.starts_with("pythonudf")).collect();
            // `BatchEvalPython [tidy(concat(...))#2], [pythonUDF0#11]`: the UDFs are the
            // outer calls. What they are applied to (an inlined `concat`) is neither a UDF
            // nor this node's work: it was written where that column was made.
            let outer: Vec<String> = if matches!(op, "BatchEvalPython" | "ArrowEvalPython") {
                split_top(args).first().map(|k| list_items(k)).unwrap_or_default().iter().filter_map(|i| i.split_once('(').map(|(f, _)| f.trim().to_ascii_lowercase())).filter(|f| !f.is_empty()).collect()
            } else {
                Vec::new()
            };
            s.udfs = if outer.is_empty() { all } else { outer };
            s.columns = attributes(args);
            s.aliases = expr::aliases(args);
            if op == "FlatMapGroupsInPandas" || op == "AggregateInPandas" {
                s.grouping_keys = split_top(args).first().map(|k| list_items(k)).unwrap_or_default();
            }
        }
        Family::Write => write(&mut s, op, raw, name_len),
        Family::Subquery | Family::Union | Family::Infrastructure | Family::Other => {
            s.columns = attributes(&raw.text);
        }
    }
    if s.columns.is_empty() && !matches!(family, Family::Infrastructure | Family::Union | Family::Scan) {
        s.columns = attributes(&all);
    }
    s
}

fn predicate(s: &mut Semantics, cond: &str) {
    if !cond.is_empty() && cond != "None" {
        s.predicates.push(strip_ids(cond));
    }
    s.columns = dedup(s.columns.drain(..).chain(attributes(cond)));
    s.literals = dedup(s.literals.drain(..).chain(literals(&strip_ids(cond))));
    s.functions = dedup(s.functions.drain(..).chain(expr::functions(cond)).chain(cond.contains("CASE WHEN").then(|| "casewhen".to_string())).chain(cond.contains(" IN (").then(|| "in".to_string())));
}

fn scan(s: &mut Semantics, header: &str, raw: &RawNode) {
    let inline = inline_fields(&raw.text);
    let words: Vec<&str> = header.split_whitespace().collect();
    // `Scan parquet db.table`, `FileScan csv db.t[a#1,...]`, `Scan ExistingRDD Delta Table State ...`
    if words.len() >= 2 {
        s.format = Some(words[1].split('[').next().unwrap_or(words[1]).to_ascii_lowercase());
    }
    if let Some(t) = words.get(2) {
        let t = t.split('[').next().unwrap_or(t).trim_matches('`');
        if t.contains('.') || (!t.is_empty() && t.chars().all(|c| c.is_alphanumeric() || c == '_')) && !matches!(t, "Batched:" | "Table") {
            s.tables.push(t.replace('`', ""));
        }
    }
    if let Some(t) = raw.field("SCAN_IDENTIFIER") {
        s.tables.push(t.to_string());
    }
    if let Some(f) = get(raw, &inline, "Format") {
        s.format = Some(f.to_ascii_lowercase());
    }
    if let Some(loc) = get(raw, &inline, "Location") {
        s.paths = paths_of(loc);
    }
    if let Some(rs) = get(raw, &inline, "ReadSchema") {
        s.columns = expr::schema_columns(rs);
    }
    if s.columns.is_empty() {
        s.columns = s.output_columns.clone();
    }
    if s.columns.is_empty() {
        s.columns = attributes(&raw.text);
    }
    for key in ["PushedFilters", "PartitionFilters", "DataFilters", "FILTERS"] {
        if let Some(f) = get(raw, &inline, key) {
            for p in list_items(f) {
                if !p.is_empty() && !s.predicates.contains(&p) && !p.starts_with("dynamicpruning") {
                    s.literals = dedup(s.literals.drain(..).chain(literals(&p)));
                    s.predicates.push(p);
                }
            }
        }
    }
    if raw.text.starts_with("Range") || header.starts_with("Range") {
        s.functions.push("range".into());
        s.literals = literals(&raw.text);
    }
    if header.starts_with("InMemoryTableScan") {
        s.flags.push("cached".into());
    }
}

fn join(s: &mut Semantics, header: &str, raw: &RawNode, name_len: usize) {
    const TYPES: &[&str] = &["Inner", "LeftOuter", "RightOuter", "FullOuter", "LeftSemi", "LeftAnti", "Cross", "ExistenceJoin", "LeftSingle"];
    if raw.field("Left keys").is_some() || raw.field("Join condition").is_some() || raw.field("Join type").is_some() {
        s.left_keys = raw.field("Left keys").map(list_items).unwrap_or_default();
        s.right_keys = raw.field("Right keys").map(list_items).unwrap_or_default();
        s.join_type = raw.field("Join type").map(str::to_string).or_else(|| {
            header.split_whitespace().chain(raw.text.split_whitespace()).find(|w| TYPES.iter().any(|t| w.starts_with(t))).map(str::to_string)
        });
        if let Some(c) = raw.field("Join condition")
            && c != "None" {
                predicate(s, c);
            }
        s.build_side = header.split_whitespace().chain(raw.text.split_whitespace()).find(|w| w.starts_with("Build")).map(str::to_string);
    } else if let (Some(l), Some(r)) = (raw.field("LEFT_KEYS"), raw.field("RIGHT_KEYS")) {
        s.left_keys = list_items(l).iter().map(|c| c.rsplit('.').next().unwrap_or(c).to_string()).collect();
        s.right_keys = list_items(r).iter().map(|c| c.rsplit('.').next().unwrap_or(c).to_string()).collect();
        s.join_type = raw.field("JOIN_TYPE").map(|t| t.replace(' ', ""));
        s.build_side = raw.field("JOIN_BUILD_SIDE").map(|b| format!("Build{b}"));
    } else {
        // `SortMergeJoin [a#1], [b#2], Inner[, cond]` / `BroadcastNestedLoopJoin BuildRight, Inner, cond`
        let args = raw.text.get(name_len..).unwrap_or("").trim();
        let parts = split_top(args);
        let mut rest = parts.as_slice();
        if parts.len() >= 2 && parts[0].starts_with('[') && parts[1].starts_with('[') {
            s.left_keys = list_items(&parts[0]);
            s.right_keys = list_items(&parts[1]);
            rest = &parts[2..];
        }
        for p in rest {
            let w = p.trim();
            if TYPES.iter().any(|t| w.starts_with(t)) {
                s.join_type = Some(w.split_whitespace().next().unwrap_or(w).to_string());
            } else if w.starts_with("Build") {
                s.build_side = Some(w.to_string());
            } else if w != "false" && w != "true" && !w.is_empty() {
                predicate(s, w);
            }
        }
        if s.join_type.is_none() {
            s.join_type = header.split_whitespace().find(|w| TYPES.iter().any(|t| w.starts_with(t))).map(str::to_string);
        }
        if s.build_side.is_none() {
            s.build_side = header.split_whitespace().find(|w| w.starts_with("Build")).map(str::to_string);
        }
    }
    s.columns = dedup(s.left_keys.iter().chain(&s.right_keys).cloned().chain(s.columns.drain(..)));
}

fn aggregate(s: &mut Semantics, raw: &RawNode, name_len: usize) {
    let (keys, funcs) = if raw.field("Keys").is_some() || raw.field("Functions").is_some() {
        (raw.field("Keys").unwrap_or("[]").to_string(), raw.field("Functions").unwrap_or("[]").to_string())
    } else if let (Some(k), f) = (raw.field("GROUPING_EXPRESSIONS"), raw.field("AGGREGATE_EXPRESSIONS")) {
        (k.to_string(), f.unwrap_or("[]").to_string())
    } else {
        // `HashAggregate(keys=[a#1], functions=[sum(b#2)])`
        let args = raw.text.get(name_len..).unwrap_or("").trim().trim_start_matches('(').trim_end_matches(')');
        let mut keys = String::new();
        let mut funcs = String::new();
        for part in split_top(args) {
            if let Some(k) = part.strip_prefix("keys=") {
                keys = k.to_string();
            } else if let Some(f) = part.strip_prefix("functions=") {
                funcs = f.to_string();
            }
        }
        (keys, funcs)
    };
    s.grouping_keys = list_items(&keys).iter().map(|k| k.rsplit('.').next().unwrap_or(k).to_string()).collect();
    s.aggregate_functions = expr::aggregate_functions(&funcs);
    if funcs.contains("partial_") || funcs.contains("merge_") {
        s.flags.push(if funcs.contains("partial_") { "partial".into() } else { "merge".into() });
    }
    s.columns = dedup(attributes(&keys).into_iter().chain(attributes(&funcs)));
    s.literals = literals(&strip_ids(&funcs));
    if let Some(r) = raw.field("Results") {
        s.aliases = expr::aliases(r);
    }
}

fn exchange(s: &mut Semantics, op: &str, args: &str) {
    if op == "BroadcastExchange" {
        s.flags.push("broadcast".into());
        s.columns = attributes(args);
        return;
    }
    if let Some(a) = call_args(args, "hashpartitioning") {
        let parts = split_top(a);
        s.grouping_keys = parts[..parts.len().saturating_sub(1)].iter().map(|p| strip_ids(p)).collect();
    } else if let Some(a) = call_args(args, "rangepartitioning") {
        let parts = split_top(a);
        s.sort_keys = expr::sort_keys(&parts[..parts.len().saturating_sub(1)].join(", "));
    } else if args.contains("SinglePartition") {
        s.flags.push("single-partition".into());
    } else if let Some(a) = call_args(args, "RoundRobinPartitioning") {
        s.literals.push(a.trim().to_string());
        s.flags.push("round-robin".into());
    }
    for origin in ["REPARTITION_BY_COL", "REPARTITION_BY_NUM", "REBALANCE_PARTITIONS_BY_COL", "REBALANCE_PARTITIONS_BY_NONE", "ENSURE_REQUIREMENTS"] {
        if args.contains(origin) {
            s.flags.push(origin.to_ascii_lowercase().replace('_', "-"));
        }
    }
    s.columns = attributes(args);
}

fn window(s: &mut Semantics, args: &str) {
    let parts = split_top(args);
    if let Some(exprs) = parts.first() {
        for e in split_top(unbracket(exprs)) {
            let head = e.split(" windowspecdefinition").next().unwrap_or(&e);
            s.window_functions.extend(expr::aggregate_functions(head).into_iter().take(1));
        }
        s.window_functions = dedup(s.window_functions.drain(..));
        s.aliases = expr::aliases(exprs);
        s.columns = attributes(exprs);
    }
    // `[exprs], [partition], [order]`; Spark omits an empty partition list in some
    // versions, so tell the two apart by the sort directions.
    for p in parts.iter().skip(1) {
        if p.contains(" ASC") || p.contains(" DESC") {
            s.sort_keys = expr::sort_keys(p);
        } else {
            s.window_partition = list_items(p);
        }
    }
}

/// `WindowGroupLimit [partition], [order], rank(x), 5, Partial|Final`.
fn window_group_limit(s: &mut Semantics, args: &str) {
    for p in split_top(args) {
        let p = p.trim();
        if p.starts_with('[') {
            if p.contains(" ASC") || p.contains(" DESC") {
                s.sort_keys = expr::sort_keys(p);
            } else {
                s.window_partition = list_items(p);
            }
        } else if p.contains('(') {
            s.window_functions = expr::aggregate_functions(p);
        } else if let Ok(n) = p.parse() {
            s.limit = Some(n);
        } else if p == "Partial" {
            s.flags.push("partial".into());
        }
    }
    s.columns = attributes(args);
}

fn limit(s: &mut Semantics, op: &str, raw: &RawNode, name_len: usize) {
    let args = arguments(raw, name_len);
    let args = args.trim_start_matches('(').trim_end_matches(')');
    let parts = split_top(args);
    let first = parts.first().map(|p| p.trim_start_matches("limit=").to_string()).unwrap_or_default();
    s.limit = first.trim().parse().ok().or_else(|| raw.field("LIMIT").and_then(|l| l.parse().ok()));
    if op == "TakeOrderedAndProject" {
        if let Some(order) = parts.get(1) {
            s.sort_keys = expr::sort_keys(order.trim_start_matches("orderBy="));
        }
        if let Some(out) = parts.get(2) {
            s.aliases = expr::aliases(out);
            s.columns = attributes(out);
        }
    }
}

fn write(s: &mut Semantics, op: &str, raw: &RawNode, name_len: usize) {
    let text = raw.field("Arguments").map(str::to_string).unwrap_or_else(|| {
        let t = raw.text.get(name_len..).unwrap_or("").trim();
        t.strip_prefix(op).unwrap_or(t).trim().to_string()
    });
    let parts = split_top(&text);
    let first = parts.first().cloned().unwrap_or_default();
    // `InsertIntoHadoopFsRelationCommand path, false, [year#67, month#66], Parquet, …`:
    // the partition columns, when the write partitions.
    if op.contains("InsertIntoHadoopFsRelationCommand") && parts.get(2).is_some_and(|p| p.trim().starts_with('[') && p.trim() != "[]") {
        s.functions.push(planmap_plugin_sdk::PARTITIONED.into());
    }
    if !first.is_empty() {
        let target = first.replace('`', "");
        if target.contains('/') || target.contains(':') {
            s.paths.push(target.clone());
        } else {
            s.tables.push(target.clone());
        }
        s.write_target = Some(target);
    }
    for f in ["Parquet", "Delta", "CSV", "JSON", "ORC", "Text", "Avro"] {
        if text.contains(&format!(", {f},")) || text.contains(&format!(", {f}]")) {
            s.format = Some(f.to_ascii_lowercase());
        }
    }
    for mode in ["Append", "Overwrite", "ErrorIfExists", "Ignore"] {
        if text.contains(&format!(", {mode}")) {
            s.flags.push(mode.to_ascii_lowercase());
            break;
        }
    }
    s.columns = attributes(&text);
}
