//! Helpers shared by planmap strategy plugins: config parsing, term normalisation,
//! set overlap and the table of which code-site kinds can produce which operator family.
//!
//! The SDK is plain Rust with no bindings: each plugin generates its own bindings
//! with `wit_bindgen::generate!` for its world and calls these helpers on strings.

use serde::de::DeserializeOwned;

/// Parse a graph node's `config` (a JSON object) into the plugin's config type.
/// An empty string means "no config" and yields the type's defaults.
pub fn parse_config<T: DeserializeOwned + Default>(config: &str) -> Result<T, String> {
    if config.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(config).map_err(|e| format!("invalid config: {e}"))
}

/// Normalise an identifier or expression for comparison: lower case, `#exprId`
/// suffixes and qualifiers (`t.col`, `spark_catalog.db.t`) removed, quotes dropped.
pub fn normalize(term: &str) -> String {
    let mut s = term.trim().trim_matches(|c| c == '`' || c == '"' || c == '\'').to_string();
    if let Some(pos) = s.find('#') {
        // `customer_id#12L` -> `customer_id`
        if s[pos + 1..].chars().all(|c| c.is_ascii_alphanumeric()) {
            s.truncate(pos);
        }
    }
    s.to_ascii_lowercase()
}

/// The last dotted component of a name (`spark_catalog.sales.orders` -> `orders`).
pub fn base_name(term: &str) -> String {
    let n = normalize(term);
    n.rsplit('.').next().unwrap_or(&n).to_string()
}

/// Split free text into identifier-like tokens of at least two characters.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            cur.push(c.to_ascii_lowercase());
        } else if !cur.is_empty() {
            if cur.len() >= 2 {
                out.push(std::mem::take(&mut cur));
            } else {
                cur.clear();
            }
        }
    }
    if cur.len() >= 2 {
        out.push(cur);
    }
    out
}

/// Fraction of `wanted` (normalised) found in `have` (normalised); `None` when
/// `wanted` is empty, so callers can tell "no signal" from "no match".
pub fn coverage<W: AsRef<str>, H: AsRef<str>>(wanted: &[W], have: &[H]) -> Option<f64> {
    let wanted: Vec<String> = dedup(wanted.iter().map(|w| base_name(w.as_ref())));
    if wanted.is_empty() {
        return None;
    }
    let have: Vec<String> = have.iter().map(|h| base_name(h.as_ref())).collect();
    let hits = wanted.iter().filter(|w| have.iter().any(|h| h == *w)).count();
    Some(hits as f64 / wanted.len() as f64)
}

/// The members of `wanted` found in `have`, compared after normalisation.
pub fn shared<W: AsRef<str>, H: AsRef<str>>(wanted: &[W], have: &[H]) -> Vec<String> {
    let have: Vec<String> = have.iter().map(|h| base_name(h.as_ref())).collect();
    dedup(wanted.iter().map(|w| base_name(w.as_ref())).filter(|w| have.contains(w)))
}

/// Keep the first occurrence of each non-empty string.
pub fn dedup(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !i.is_empty() && !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// How much of a code path a plan's path confirms: the number of the code's literal
/// path segments (not wholly a `{placeholder}`) that line up with the plan's, aligned
/// at the end with the plan allowed up to three segments deeper (partition folders and
/// part files under a folder the code names). `Some(0)` when the code names literal
/// segments and no alignment matches them (another source), `None` when the code names
/// no literal segment. `*` and `{placeholder}`s inside a segment match any run of
/// characters (`q{n}.csv`, `*.json`, `{root}orders`).
pub fn path_match(plan: &str, code: &str) -> Option<usize> {
    fn segments(s: &str) -> Vec<&str> {
        let s = s.trim();
        let s = match s.find("://") {
            Some(i) if s[..i].chars().all(|c| c.is_ascii_alphanumeric()) => &s[i + 3..],
            _ => s.strip_prefix("file:").or_else(|| s.strip_prefix("dbfs:")).unwrap_or(s),
        };
        s.split('/').map(str::trim).filter(|x| !x.is_empty() && *x != ".").collect()
    }
    let (p, c) = (segments(plan), segments(code));
    let literal = |seg: &str| seg.chars().any(|ch| ch != '*') && !(seg.starts_with('{') && seg.ends_with('}') && seg.matches('{').count() == 1);
    let literals = c.iter().filter(|s| literal(s)).count();
    if literals == 0 {
        return None;
    }
    let mut best = 0;
    for extra in 0..=3usize {
        if p.len() < extra + 1 {
            break;
        }
        let end = p.len() - extra;
        let mut matched = 0;
        let mut ok = true;
        for (k, seg) in c.iter().rev().enumerate() {
            let Some(ps) = end.checked_sub(k + 1).map(|i| p[i]) else {
                // The code's prefix is longer than the plan's path: only placeholders may be left.
                ok = !literal(seg);
                if !ok {
                    break;
                }
                continue;
            };
            if !literal(seg) {
                continue;
            }
            if glob(seg, ps) {
                matched += 1;
            } else {
                ok = false;
                break;
            }
        }
        if ok {
            best = best.max(matched);
        }
    }
    Some(best)
}

/// How well a code's table or path names a plan's (`path_match` when both are
/// paths, else the source names compared): `Some(n)` with `n` segments confirmed,
/// `Some(0)` for another source, `None` when the code does not say (a placeholder).
pub fn source_match(plan: &str, code: &str) -> Option<usize> {
    let is_path = |s: &str| s.contains('/') || s.contains("://");
    if is_path(plan) && is_path(code) {
        return path_match(plan, code);
    }
    let c = source_name(code)?;
    Some(usize::from(source_name(plan).is_some_and(|p| p == c)))
}

/// Whether `s` matches `pattern`, where `*` and `{…}` match any run of characters.
fn glob(pattern: &str, s: &str) -> bool {
    let mut parts: Vec<String> = vec![String::new()];
    let mut depth = 0;
    for ch in pattern.chars() {
        match ch {
            '{' => {
                if depth == 0 {
                    parts.push(String::new());
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            '*' if depth == 0 => parts.push(String::new()),
            c if depth == 0 => parts.last_mut().expect("starts with one").push(c.to_ascii_lowercase()),
            _ => {}
        }
    }
    let s = s.to_ascii_lowercase();
    if parts.len() == 1 {
        return parts[0] == s;
    }
    let (first, last) = (&parts[0], &parts[parts.len() - 1]);
    if s.len() < first.len() + last.len() || !s.starts_with(first.as_str()) || !s.ends_with(last.as_str()) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid.as_str()) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The name a data source goes by, for comparing a plan's table or path with the
/// code's: the last meaningful segment of a path (partition `k=v` folders, globs, file
/// extensions and empty segments skipped) or the last part of a dotted table name,
/// lowercased. `None` when that segment is a `{placeholder}` (an f-string variable),
/// because then the code does not say which source it reads.
pub fn source_name(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('/');
    let path_like = s.contains('/') || s.contains(':');
    let segments: Vec<&str> = if path_like { s.split('/').collect() } else { vec![s.rsplit('.').next().unwrap_or(s)] };
    for seg in segments.iter().rev() {
        let seg = seg.trim();
        if seg.is_empty() || seg.contains('=') || seg.contains('*') {
            continue;
        }
        if seg.contains('{') {
            return None;
        }
        let seg = if path_like { seg.split('.').next().unwrap_or(seg) } else { seg };
        let n = normalize(seg);
        return if n.is_empty() { None } else { Some(n) };
    }
    None
}

/// A join type as plan or code writes it (`LeftAnti`, `left_anti`, `"leftanti"`,
/// `LEFT ANTI JOIN`'s `left anti`), as one of: inner, left, right, full, semi, anti,
/// cross. `None` for anything else (an existence join, a column that is not a type).
pub fn join_kind(s: &str) -> Option<&'static str> {
    let k: String = s.chars().filter(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_lowercase();
    Some(match k.as_str() {
        "inner" => "inner",
        "left" | "leftouter" => "left",
        "right" | "rightouter" => "right",
        "outer" | "full" | "fullouter" => "full",
        "semi" | "leftsemi" => "semi",
        "anti" | "leftanti" => "anti",
        "cross" => "cross",
        _ => return None,
    })
}

/// Whether an action (`count()`, `show()`, `collect()`, …) can be what produced a node:
/// `count()` is a global count (an aggregate with no grouping keys that only counts),
/// `show()`/`take()`/`first()`/`head()` a limit; other actions add no operator.
pub fn action_can_produce(family: &str, grouping_keys: usize, aggregates: &[&str], site_functions: &[&str]) -> bool {
    let has = |f: &str| site_functions.contains(&f);
    match family {
        "aggregate" => has("count") && grouping_keys == 0 && aggregates.iter().all(|a| *a == "count"),
        "limit" => ["show", "take", "first", "head", "tail", "display", "limit"].iter().any(|f| has(f)),
        _ => true,
    }
}

/// Whether an aggregate site can be what produced an aggregate node with
/// `grouping_keys` keys: a site that groups (the indexer marks it `group:by`) never
/// makes a global aggregate (`df.count()`, `agg(...)` with no keys).
pub fn grouping_fits(grouping_keys: usize, site_functions: &[&str]) -> bool {
    grouping_keys > 0 || !site_functions.contains(&GROUPED)
}

/// The mark an indexer puts among an aggregate site's functions when it groups
/// (`groupBy`, `rollup`, `cube`, `pivot` in its call or chain). The `:` keeps it out
/// of name comparisons.
pub const GROUPED: &str = "group:by";

/// The mark an indexer puts among an aggregate site's functions when it pivots
/// (`pivot(col)` in its call or chain).
pub const PIVOTS: &str = "group:pivot";

/// Whether a site with these functions can produce a node of `family` beside its kind's
/// own: `pivot(col)` without values first runs a query of its own for the distinct
/// values of `col`, sorted and limited (`distinct().sort(col).limit(10001)`).
pub fn pivot_produces(family: &str, functions: &[&str]) -> bool {
    matches!(family, "sort" | "limit") && functions.contains(&PIVOTS)
}

/// The prefix of the mark an indexer puts among a `withColumn` site's functions, and a
/// window site's inside one, for the column it defines (`withColumn("rank",
/// row_number().over(w))` gives `defines:rank`).
pub const DEFINES: &str = "defines:";

/// Every column a site's `DEFINES` marks name (a `withColumn` in a helper defines each
/// name its callers pass).
pub fn defined_columns<'a, 'b>(functions: &'b [&'a str]) -> impl Iterator<Item = &'a str> + 'b {
    functions.iter().filter_map(|f| f.strip_prefix(DEFINES))
}

/// The function a write that partitions its output names, among a write site's
/// functions (`partitionBy` in its chain or arguments) and a plan write's (partition
/// columns in `InsertIntoHadoopFsRelationCommand`).
pub const PARTITIONED: &str = "partitionBy";

/// The mark an indexer puts among a read's or write's functions when its chain is a
/// stream (`readStream`, `writeStream`).
pub const STREAMING: &str = "mode:stream";

/// Whether a write operator is a stream's micro-batch write (`WriteToDataSourceV2`,
/// `MicroBatchWrite`) rather than a batch one (`InsertIntoHadoopFsRelationCommand`,
/// `WriteFiles`, a table command).
pub fn streaming_write(operator: &str) -> bool {
    ["MicroBatch", "WriteToDataSourceV2", "Streaming"].iter().any(|m| operator.contains(m))
}

/// Whether a write site with these functions can produce this write operator: a
/// `writeStream…start()` never runs a batch write, nor `write…save()` a stream's.
pub fn write_mode_fits(operator: &str, functions: &[&str]) -> bool {
    functions.contains(&STREAMING) == streaming_write(operator)
}

/// Whether `name` is a SQL aggregate function (any case).
pub fn is_aggregate_function(name: &str) -> bool {
    AGGREGATE_FUNCTIONS.contains(&name.to_ascii_lowercase().as_str())
}

/// SQL aggregate functions: a SELECT-list item computing one is what an aggregate
/// node's functions come from.
pub const AGGREGATE_FUNCTIONS: &[&str] = &[
    "sum", "count", "avg", "mean", "min", "max", "first", "last", "first_value", "last_value", "collect_list", "collect_set", "array_agg", "stddev",
    "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "approx_count_distinct", "count_distinct", "percentile", "percentile_approx",
    "approx_percentile", "median", "mode", "any_value", "bool_and", "bool_or", "every", "some", "count_if", "max_by", "min_by", "string_agg",
    "listagg", "corr", "covar_pop", "covar_samp", "skewness", "kurtosis", "grouping", "grouping_id", "countdistinct", "sumdistinct",
];

/// Whether a SQL SELECT-list item can be what produced an aggregate node: only one
/// that computes an aggregate. A plain column or expression of the list is the GROUP
/// BY's or the DISTINCT's, and of a query with neither it is no aggregate at all.
pub fn select_can_aggregate(site_functions: &[&str]) -> bool {
    site_functions.iter().any(|f| is_aggregate_function(f))
}

/// A function name as the plan and the code both can say it: the DataFrame API's
/// `F.when(...).otherwise(...)` is the plan's `CASE WHEN`, `col.isNull()` its
/// `isnull(col)`, `col.isin(...)` its `IN`, `countDistinct` its `count(distinct …)`.
pub fn canonical_function(name: &str) -> String {
    let l = name.to_ascii_lowercase();
    match l.as_str() {
        "when" | "otherwise" | "case" => "casewhen".into(),
        "isin" => "in".into(),
        "countdistinct" | "count_distinct" => "count".into(),
        "sumdistinct" | "sum_distinct" => "sum".into(),
        "astype" => "cast".into(),
        "substr" => "substring".into(),
        "mean" => "avg".into(),
        _ => l,
    }
}

/// The row counts a limit or action site makes the plan's limit: its numbers, and what
/// the call implies. `show(n)` fetches one row more than it prints, to tell there are
/// more (`CollectLimit n + 1`; 21 for `show()`); `first()` and `head()` take one;
/// `limit(n)`, `take(n)`, `head(n)`, `LIMIT n` take `n`.
pub fn site_limits(literals: &[&str], functions: &[&str]) -> Vec<u64> {
    let shows = functions.contains(&"show");
    let numbers: Vec<u64> = literals.iter().filter_map(|l| l.trim().parse::<u64>().ok()).map(|n| if shows { n + 1 } else { n }).collect();
    if !numbers.is_empty() {
        return numbers;
    }
    if shows {
        vec![SHOW_ROWS + 1]
    } else if functions.iter().any(|f| matches!(*f, "first" | "head")) {
        vec![1]
    } else {
        vec![]
    }
}

/// Rows `show()` prints when not told how many.
const SHOW_ROWS: u64 = 20;

/// The join strategy a physical join operator is (`BroadcastHashJoin` → broadcast,
/// `SortMergeJoin` → merge, `ShuffledHashJoin` → hash, `CartesianProduct` or a nested
/// loop → nl), Photon and Gluten names included.
pub fn join_strategy(operator: &str) -> Option<&'static str> {
    Some(if operator.contains("Broadcast") {
        "broadcast"
    } else if operator.contains("SortMerge") {
        "merge"
    } else if operator.contains("ShuffledHash") || operator.contains("ShuffleHash") {
        "hash"
    } else if operator.contains("Cartesian") || operator.contains("NestedLoop") {
        "nl"
    } else {
        return None;
    })
}

/// The join strategies a site's hints ask for (`hint:broadcast` from `/*+ BROADCAST(t) */`
/// or `.hint("merge")`, `broadcast` from `F.broadcast(df)`).
pub fn hinted_strategies(functions: &[&str]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for f in functions {
        let h = f.strip_prefix("hint:").unwrap_or(if *f == "broadcast" { "broadcast" } else { "" }).to_ascii_lowercase();
        let s = match h.as_str() {
            "broadcast" | "broadcastjoin" | "mapjoin" => "broadcast",
            "merge" | "shuffle_merge" | "mergejoin" => "merge",
            "shuffle_hash" => "hash",
            "shuffle_replicate_nl" => "nl",
            _ => continue,
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The format a read or write site names (`format:<name>` among its functions, which
/// the index records from `.parquet(...)`, `.format("csv")` or `format="json"`).
pub fn site_format<'a>(functions: &[&'a str]) -> Option<&'a str> {
    functions.iter().find_map(|f| f.strip_prefix("format:"))
}

/// Whether a plan's scan or write format and a code's format name the same thing: a
/// CSV or JSON reader infers its header and schema by scanning the file as `text`
/// first, and `textFile` reads `text`.
pub fn same_format(plan: &str, code: &str) -> bool {
    let p = plan.to_ascii_lowercase();
    let c = code.to_ascii_lowercase();
    p == c || (p.contains(&c) && c.len() >= 3) || (p == "text" && matches!(c.as_str(), "csv" | "json" | "textfile"))
}

/// Code-site kinds that can produce an operator of the given family (family names as
/// in the WIT `family` enum, kebab-case). The first kinds are the most typical.
///
/// Plugins only see the nodes the code owns: shuffles, sorts and broadcasts that a join
/// or an aggregate required reach them already attributed to their cause. So an
/// exchange a plugin sees is a user's `repartition`/`coalesce`, and a sort is an
/// `orderBy`.
pub fn kinds_for_family(family: &str) -> &'static [&'static str] {
    match family {
        "scan" => &["read", "table", "sql-from", "sql-join", "cache"],
        "filter" => &["filter", "sql-where", "join", "sql-join", "read", "table"],
        // A Project that only prunes columns has no line of its own: it trims the
        // output of the operation below it, often a join or a filter.
        "project" => &["select", "with-column", "sql-select", "udf", "aggregate", "read", "join", "filter", "sql-join", "sql-where", "window", "describe"],
        // `IN (SELECT …)` and `EXISTS` become semi and anti joins.
        "join" => &["join", "sql-join", "sql-where"],
        // In SQL the GROUP BY is where the query's Aggregate is, as the groupBy/agg
        // call is in the DataFrame API: next after it, before a distinct or a select.
        "aggregate" => &["aggregate", "sql-group-by", "distinct", "sql-select", "sql-distinct", "action", "describe"],
        "exchange" => &["repartition", "join", "aggregate", "sort", "window", "distinct", "sql-join", "sql-group-by", "sql-order-by", "sql-window"],
        "sort" => &["sort", "join", "window", "sql-order-by", "sql-join", "sql-window"],
        "window" => &["window", "sql-window"],
        "limit" => &["limit", "sql-limit", "action"],
        "union" => &["union", "sql-union"],
        "expand" => &["aggregate", "sql-group-by"],
        // `df.describe()` / `summary()`: one aggregate of every statistic, stacked into rows.
        "generate" => &["select", "with-column", "sql-select", "describe"],
        "python-udf" => &["udf", "select", "with-column", "filter"],
        "write" => &["write", "sql-insert"],
        "subquery" => &["sql-where", "sql-select", "filter"],
        _ => &[],
    }
}

/// The code-site kinds that can produce this operator: its family's, except for reads
/// of a cached DataFrame (`InMemoryTableScan`), which are the `cache()`/`persist()` or
/// `CACHE TABLE` first.
pub fn kinds_for_operator(family: &str, operator: &str) -> &'static [&'static str] {
    if operator.starts_with("InMemoryTableScan") || operator.starts_with("InMemoryRelation") {
        &["cache", "sql-cache", "read", "table", "sql-from", "sql-join"]
    } else {
        kinds_for_family(family)
    }
}

/// `kind_affinity` for a node's operator (see `kinds_for_operator`).
pub fn operator_affinity(family: &str, operator: &str, kind: &str) -> f64 {
    affinity_in(kinds_for_operator(family, operator), kind)
}

/// Whether a site of `kind` can produce an operator of `family`, and how typical it is:
/// 1.0 for the primary kind, decreasing for secondary kinds, 0.0 when incompatible.
pub fn kind_affinity(family: &str, kind: &str) -> f64 {
    affinity_in(kinds_for_family(family), kind)
}

fn affinity_in(kinds: &[&str], kind: &str) -> f64 {
    match kinds.iter().position(|k| *k == kind) {
        Some(0) => 1.0,
        Some(i) => (0.85 - 0.1 * i as f64).max(0.4),
        None => 0.0,
    }
}

/// Run a plugin's own work between two calls of `mark` (the contract's `log.mark`), so
/// the host can tell it from the cost of crossing into and out of the sandbox.
pub fn marked<T>(mark: fn(), work: impl FnOnce() -> T) -> T {
    mark();
    let out = work();
    mark();
    out
}

/// Run `one` for each of a batch's `inputs` (by row) with the batch's config parsed
/// once; a config that does not parse fails every input with `invalid(message)`.
pub fn each_input<C: DeserializeOwned + Default, T, E>(config: &str, inputs: usize, invalid: impl Fn(String) -> E, mut one: impl FnMut(&C, usize) -> Result<T, E>) -> Vec<Result<T, E>> {
    match parse_config::<C>(config) {
        Ok(cfg) => (0..inputs).map(|i| one(&cfg, i)).collect(),
        Err(message) => (0..inputs).map(|_| Err(invalid(message.clone()))).collect(),
    }
}

/// Row `i` of a row-major matrix with `width` columns (`candidates.features`): empty when
/// the matrix has no such row.
pub fn row(matrix: &[f64], width: usize, i: usize) -> &[f64] {
    matrix.get(i * width..(i + 1) * width).unwrap_or(&[])
}

/// Rows `start .. start + len` (or a place: bytes of a text) packed as the contract
/// packs them, `start << 32 | len`.
pub fn pack(start: usize, len: usize) -> u64 {
    ((start as u64) << 32) | len as u64
}

/// The range of rows (or bytes) a packed `rows` (or `place`) names.
pub fn range(r: u64) -> std::ops::Range<usize> {
    let (start, len) = ((r >> 32) as usize, (r & 0xffff_ffff) as usize);
    start..start + len
}

/// The rows of `list` a run names: an input's part of a batch-wide column (its terms,
/// neighbours, candidates' site ids, ...). Empty when the run is not in the list (the
/// host never sends one, so this only keeps a bad input from trapping).
pub fn rows<T>(list: &[T], r: u64) -> &[T] {
    list.get(range(r)).unwrap_or(&[])
}

/// The items of a short list that name a row in a run of rows, for a list sorted by
/// that row (`neighbours.mapped` by neighbour, `inputs.induced` and `inputs.limits` by
/// input): found by binary search rather than a scan of the batch's list per input.
pub fn named_rows<T>(list: &[T], row: impl Fn(&T) -> u32, r: u64) -> &[T] {
    let rows = range(r);
    let start = list.partition_point(|x| (row(x) as usize) < rows.start);
    let end = start + list[start..].partition_point(|x| (row(x) as usize) < rows.end);
    &list[start..end]
}

/// The rows of a row-major matrix with `width` columns a run names (an input's part of
/// `candidates.features`): its candidates' rows, one after the other.
pub fn matrix_rows(matrix: &[f64], width: usize, r: u64) -> &[f64] {
    let rows = range(r);
    matrix.get(rows.start * width..rows.end * width).unwrap_or(&[])
}

/// The terms (field index, value) a run of a terms column names, read from the text:
/// feed them to `Semantics::from_terms` or `SiteTerms::from_terms`.
pub fn terms<'a>(fields: &'a [u8], values: &'a [u64], r: u64, text: Text<'a>) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    rows(fields, r).iter().zip(rows(values, r)).map(move |(&f, &v)| (f as usize, text.get(v)))
}

/// Per input of a result in columns: its packed rows, or its error.
pub type Runs<E> = Vec<Result<u64, E>>;

/// Each input's result rows gathered into one list, input after input, for a
/// contract result in columns: the rows and each input's run of them.
pub fn gather<T, E>(results: impl IntoIterator<Item = Result<Vec<T>, E>>) -> (Vec<T>, Runs<E>) {
    let mut rows = Vec::new();
    let runs = results
        .into_iter()
        .map(|r| {
            r.map(|mut v| {
                let run = pack(rows.len(), v.len());
                rows.append(&mut v);
                run
            })
        })
        .collect();
    (rows, runs)
}

/// The logistic function, for turning a weighted evidence sum into a probability.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The text of a call (`batch.text`, or a `site-table.text`), read by place.
#[derive(Clone, Copy)]
pub struct Text<'a>(pub &'a str);

impl<'a> Text<'a> {
    /// The string at a place; empty when the place is not in the text (the host never
    /// sends one, so this only keeps a bad input from trapping).
    pub fn get(&self, place: u64) -> &'a str {
        self.0.get(range(place)).unwrap_or("")
    }
}

/// A text being written for results (`explained.text`): each string appended once,
/// its place returned. Places are 32-bit; a plugin's results stay far below that.
#[derive(Default)]
pub struct TextOut(pub String);

impl TextOut {
    /// Append `s`; its place.
    pub fn put(&mut self, s: &str) -> u64 {
        let start = self.0.len();
        self.0.push_str(s);
        pack(start, s.len())
    }
}

/// Field names in the order of the WIT `field` enum: `FIELDS[terms.fields[k] as usize]`.
pub const FIELDS: [&str; 21] = [
    "table", "path", "format", "column", "output-column", "left-key", "right-key", "join-type", "build-side",
    "grouping-key", "aggregate-function", "predicate", "literal", "sort-ascending", "sort-descending",
    "window-partition", "window-function", "udf", "alias", "function", "write-target",
];

/// A plan node's semantics with its terms sorted into named lists, borrowing the call's
/// text. Build it with `Semantics::from_terms(sdk::terms(&batch.terms.fields, &batch.terms.values, batch.inputs.terms[i], text))`.
#[derive(Debug, Default, Clone)]
pub struct Semantics<'a> {
    pub tables: Vec<&'a str>,
    pub paths: Vec<&'a str>,
    pub format: Option<&'a str>,
    pub columns: Vec<&'a str>,
    pub output_columns: Vec<&'a str>,
    pub left_keys: Vec<&'a str>,
    pub right_keys: Vec<&'a str>,
    pub join_type: Option<&'a str>,
    pub build_side: Option<&'a str>,
    pub grouping_keys: Vec<&'a str>,
    pub aggregate_functions: Vec<&'a str>,
    pub predicates: Vec<&'a str>,
    pub literals: Vec<&'a str>,
    /// (expression, ascending), in order.
    pub sort_keys: Vec<(&'a str, bool)>,
    pub window_partition: Vec<&'a str>,
    pub window_functions: Vec<&'a str>,
    pub udfs: Vec<&'a str>,
    pub aliases: Vec<&'a str>,
    pub functions: Vec<&'a str>,
    pub write_target: Option<&'a str>,
}

impl<'a> Semantics<'a> {
    /// Sort (field index, value) terms into their lists, keeping their order.
    pub fn from_terms(terms: impl IntoIterator<Item = (usize, &'a str)>) -> Self {
        let mut s = Semantics::default();
        for (field, v) in terms {
            match field {
                0 => s.tables.push(v),
                1 => s.paths.push(v),
                2 => s.format = Some(v),
                3 => s.columns.push(v),
                4 => s.output_columns.push(v),
                5 => s.left_keys.push(v),
                6 => s.right_keys.push(v),
                7 => s.join_type = Some(v),
                8 => s.build_side = Some(v),
                9 => s.grouping_keys.push(v),
                10 => s.aggregate_functions.push(v),
                11 => s.predicates.push(v),
                12 => s.literals.push(v),
                13 => s.sort_keys.push((v, true)),
                14 => s.sort_keys.push((v, false)),
                15 => s.window_partition.push(v),
                16 => s.window_functions.push(v),
                17 => s.udfs.push(v),
                18 => s.aliases.push(v),
                19 => s.functions.push(v),
                20 => s.write_target = Some(v),
                _ => {}
            }
        }
        s
    }
}

/// A code site's terms sorted into named lists (WIT `site-field` order: column, table,
/// literal, function), borrowing the text they came with.
#[derive(Debug, Default, Clone)]
pub struct SiteTerms<'a> {
    pub columns: Vec<&'a str>,
    pub tables: Vec<&'a str>,
    pub literals: Vec<&'a str>,
    pub functions: Vec<&'a str>,
}

impl<'a> SiteTerms<'a> {
    /// Sort (site-field index, value) terms into their lists, keeping their order.
    pub fn from_terms(terms: impl IntoIterator<Item = (usize, &'a str)>) -> Self {
        let mut s = SiteTerms::default();
        for (field, v) in terms {
            match field {
                0 => s.columns.push(v),
                1 => s.tables.push(v),
                2 => s.literals.push(v),
                3 => s.functions.push(v),
                _ => {}
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_show_fetches_one_row_more_than_it_prints_and_a_limit_exactly_its_own() {
        assert_eq!(site_limits(&["10"], &["show"]), vec![11]);
        assert_eq!(site_limits(&[], &["show"]), vec![21]);
        assert_eq!(site_limits(&["10"], &[]), vec![10], "limit(10) is CollectLimit 10, not 11");
        assert_eq!(site_limits(&["3"], &["take"]), vec![3]);
        assert_eq!(site_limits(&[], &["first"]), vec![1]);
        assert!(site_limits(&[], &["collect"]).is_empty());
    }

    #[test]
    fn a_grouping_site_is_never_a_global_aggregate() {
        assert!(!grouping_fits(0, &["count", "group:by"]));
        assert!(grouping_fits(1, &["count", "group:by"]));
        assert!(grouping_fits(0, &["max"]));
    }

    #[test]
    fn only_a_select_item_computing_an_aggregate_produces_one() {
        assert!(select_can_aggregate(&["sum"]));
        assert!(select_can_aggregate(&["COUNT", "coalesce"]));
        assert!(!select_can_aggregate(&[]));
        assert!(!select_can_aggregate(&["upper", "row_number"]));
    }

    #[test]
    fn normalize_strips_expr_ids_and_quotes() {
        assert_eq!(normalize("customer_id#12L"), "customer_id");
        assert_eq!(normalize("`Amount`"), "amount");
        assert_eq!(base_name("spark_catalog.sales.orders"), "orders");
    }

    #[test]
    fn paths_match_by_their_literal_segments() {
        assert_eq!(path_match("s3a://udacity-dend/log-data/2018-11-01-events.json", "s3a://udacity-dend/log-data/*.json"), Some(3));
        assert_eq!(path_match("s3a://udacity-dend/log-data/2018-11-01-events.json", "{input_data}log-data/*.json"), Some(2));
        assert_eq!(path_match("file:/tmp/x/data/song-data/a.json", "{input_data}log-data/*.json"), Some(0), "another folder");
        assert_eq!(path_match("file:/tmp/x/out/time", "{output}time"), Some(1));
        assert_eq!(path_match("file:/tmp/x/data/orders/part-0000.parquet", "data/orders"), Some(2), "a folder the plan lists files of");
        assert_eq!(path_match("file:/tmp/x/data/orders", "{root}/{name}"), None);
        assert_eq!(path_match("file:/tmp/q3.csv", "q{n}.csv"), Some(1));
    }

    #[test]
    fn coverage_tells_no_signal_from_no_match() {
        assert_eq!(coverage::<&str, &str>(&[], &["a"]), None);
        assert_eq!(coverage(&["a", "b"], &["A"]), Some(0.5));
    }

    #[test]
    fn source_names_ignore_roots_partitions_and_placeholders() {
        assert_eq!(source_name("file:/tmp/data/orders").as_deref(), Some("orders"));
        assert_eq!(source_name("s3://b/events/date=2024-01-01/").as_deref(), Some("events"));
        assert_eq!(source_name("{DATA}/out/daily_revenue").as_deref(), Some("daily_revenue"));
        assert_eq!(source_name("/orders").as_deref(), Some("orders"));
        assert_eq!(source_name("spark_catalog.default.Orders").as_deref(), Some("orders"));
        assert_eq!(source_name("data/orders.parquet").as_deref(), Some("orders"));
        assert_eq!(source_name("{root}/{name}"), None);
        assert_eq!(source_name("report_{name}"), None);
    }

    #[test]
    fn text_places_and_terms_read_back() {
        let t = Text("customer_idLeftOuter");
        assert_eq!(t.get(pack(0, 11)), "customer_id");
        assert_eq!(t.get(pack(11, 9)), "LeftOuter");
        assert_eq!(t.get(pack(15, 99)), "", "a place outside the text reads as empty");
        let fields = [5u8, 7, 14, 13];
        let values = [pack(0, 11), pack(11, 9), pack(11, 4), pack(0, 8)];
        let s = Semantics::from_terms(terms(&fields, &values, pack(0, 4), t));
        assert_eq!(s.left_keys, vec!["customer_id"]);
        assert_eq!(s.join_type, Some("LeftOuter"));
        assert_eq!(s.sort_keys, vec![("Left", false), ("customer", true)]);
        assert_eq!(Semantics::from_terms(terms(&fields, &values, pack(1, 1), t)).left_keys.len(), 0, "a run reads its rows only");
        assert_eq!(FIELDS[20], "write-target");
    }

    #[test]
    fn runs_read_rows_and_results_gather_into_one_list() {
        let list = [10, 11, 12, 13];
        assert_eq!(rows(&list, pack(1, 2)), &[11, 12]);
        assert!(rows(&list, pack(3, 2)).is_empty(), "a run outside the list reads as empty");
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(matrix_rows(&m, 2, pack(1, 2)), &[3.0, 4.0, 5.0, 6.0]);
        let named = [(1u32, 'a'), (3, 'b'), (3, 'c'), (6, 'd')];
        assert_eq!(named_rows(&named, |x| x.0, pack(2, 3)), &[(3, 'b'), (3, 'c')]);
        assert!(named_rows(&named, |x| x.0, pack(4, 2)).is_empty());
        let (all, runs) = gather([Ok(vec!["a", "b"]), Err("bad"), Ok(vec![]), Ok(vec!["c"])]);
        assert_eq!(all, vec!["a", "b", "c"]);
        assert_eq!(runs, vec![Ok(pack(0, 2)), Err("bad"), Ok(pack(2, 0)), Ok(pack(2, 1))]);
        let failed: Vec<Result<usize, String>> = each_input::<std::collections::BTreeMap<String, u32>, _, _>("{oops", 2, |m| m, |_, i| Ok(i));
        assert!(failed.iter().all(|r| r.as_ref().is_err_and(|m| m.contains("invalid config"))), "a bad config fails every input");
    }

    #[test]
    fn kinds_rank_primary_first() {
        assert_eq!(kind_affinity("join", "join"), 1.0);
        assert!(kind_affinity("filter", "join") > 0.0);
        assert_eq!(kind_affinity("join", "write"), 0.0);
    }
}

/// Relation names in the order of the WIT `relation` enum: `RELATIONS[neighbours.relations[k] as usize]`.
pub const RELATIONS: [&str; 3] = ["parent", "child", "reuses"];

/// Family names in the order of the WIT `family` enum, so a plugin can name a family
/// case index (`inputs.families[i]`) with `FAMILIES[i as usize]`.
pub const FAMILIES: [&str; 17] = [
    "scan", "filter", "project", "join", "aggregate", "exchange", "sort", "window", "limit",
    "union", "expand", "generate", "python-udf", "write", "subquery", "infrastructure", "other",
];

/// A bump allocator for plugins with free lists for small blocks: allocation moves a
/// pointer or pops a freed block of the same size class, freeing a small block pushes it.
///
/// planmap gives every invocation a fresh instance and drops it afterwards, so large
/// blocks never need to be reused within a plugin's life; with this allocator an
/// allocation is a few instructions instead of a trip through dlmalloc, which halves the
/// cost of crossing the boundary. Small blocks are reused because every page an
/// invocation writes is reset by the host when the instance is torn down: a matcher's
/// short-lived strings would otherwise dirty fresh memory for each candidate.
/// Use it with `#[global_allocator] static A: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;`.
/// The store's memory cap still applies: a plugin that allocates too much fails cleanly.
pub struct BumpAlloc;

#[cfg(target_arch = "wasm32")]
mod bump {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    /// Grow memory by at least this many 64 KiB pages at a time (1 MiB).
    const MIN_GROW_PAGES: usize = 16;
    /// Grow by at most this many pages at a time (64 MiB) when doubling.
    const MAX_GROW_PAGES: usize = 1024;
    const PAGE: usize = 65536;

    /// Blocks up to this size come in size classes and are reused once freed.
    const SMALL: usize = 512;
    /// Size classes are multiples of this (and blocks of them aligned to it).
    const CLASS: usize = 16;
    const CLASSES: usize = SMALL / CLASS;

    struct State {
        next: usize,
        end: usize,
        /// Per size class, the most recently freed block (0: none); each free block
        /// holds the address of the next in its first word.
        free: [usize; CLASSES],
    }
    struct Cell(UnsafeCell<State>);
    // SAFETY: wasm32 plugins are single-threaded.
    unsafe impl Sync for Cell {}
    static STATE: Cell = Cell(UnsafeCell::new(State { next: 0, end: 0, free: [0; CLASSES] }));

    /// Bytes allocated from a zeroed static region before memory is grown: a batch of
    /// 64 plan nodes usually needs a few MiB. The region is part of the module's
    /// initial memory, which the host keeps accessible between instances in a pooled
    /// slot, so a call that fits takes no `memory.grow` and the next instantiation
    /// no protection change: each of those walks the page table of every resident
    /// page in the range and was about a fifth of the boundary time.
    const ARENA_BYTES: usize = 8 << 20;
    #[repr(C, align(16))]
    struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);
    // SAFETY: wasm32 plugins are single-threaded; the arena is only handed out by
    // the allocator, a byte range at a time.
    unsafe impl Sync for Arena {}
    static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));

    /// The size class of a block that may live on a free list.
    fn class(layout: &Layout) -> Option<usize> {
        (layout.size() <= SMALL && layout.align() <= CLASS).then(|| layout.size().max(1).div_ceil(CLASS) - 1)
    }

    /// Take `size` bytes aligned to `align` from the arena or new memory.
    fn bump(st: &mut State, size: usize, align: usize) -> *mut u8 {
        let mut start = (st.next + align - 1) & !(align - 1);
        if st.end == 0 {
            st.next = ARENA.0.get() as usize;
            st.end = st.next + ARENA_BYTES;
            start = (st.next + align - 1) & !(align - 1);
        }
        if start + size > st.end {
            let need = size + align;
            let needed = need.div_ceil(PAGE);
            // Each growth is a call into the host that changes page protections
            // (with a TLB flush on every core), so memory doubles, within bounds;
            // under a tight cap, only what is needed is asked for.
            let doubled = core::arch::wasm32::memory_size(0).clamp(MIN_GROW_PAGES, MAX_GROW_PAGES);
            let mut pages = needed.max(doubled);
            let mut prev = core::arch::wasm32::memory_grow(0, pages);
            if prev == usize::MAX && pages > needed {
                pages = needed;
                prev = core::arch::wasm32::memory_grow(0, pages);
            }
            if prev == usize::MAX {
                return core::ptr::null_mut();
            }
            let base = prev * PAGE;
            if base != st.end {
                st.next = base; // not contiguous with the old region: start afresh
            }
            st.end = base + pages * PAGE;
            start = (st.next + align - 1) & !(align - 1);
        }
        st.next = start + size;
        start as *mut u8
    }

    unsafe impl GlobalAlloc for super::BumpAlloc {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: single-threaded; no other reference to STATE is live.
            let st = unsafe { &mut *STATE.0.get() };
            match class(&layout) {
                Some(c) if st.free[c] != 0 => {
                    let block = st.free[c];
                    // SAFETY: a free block of this class holds the next one's address.
                    st.free[c] = unsafe { *(block as *const usize) };
                    block as *mut u8
                }
                Some(c) => bump(st, (c + 1) * CLASS, CLASS),
                None => bump(st, layout.size(), layout.align().max(1)),
            }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: single-threaded.
            let st = unsafe { &mut *STATE.0.get() };
            if let Some(c) = class(&layout) {
                // SAFETY: the block is at least CLASS bytes, aligned to CLASS, and no
                // longer in use.
                unsafe { *(ptr as *mut usize) = st.free[c] };
                st.free[c] = ptr as usize;
            } else if ptr as usize + layout.size() == st.next {
                // The most recent large block: give it back to the bump pointer.
                st.next = ptr as usize;
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the layout is valid for the new size (same alignment).
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            let (old, new) = (class(&layout), class(&new_layout));
            if old.is_some() && old == new {
                return ptr; // the block's class already has room
            }
            // SAFETY: single-threaded.
            let st = unsafe { &mut *STATE.0.get() };
            // Growing the most recent large block in place is the common case (Vec push).
            if old.is_none() && new.is_none() && ptr as usize + layout.size() == st.next && ptr as usize + new_size <= st.end {
                st.next = ptr as usize + new_size;
                return ptr;
            }
            // SAFETY: the new layout is valid.
            let moved = unsafe { self.alloc(new_layout) };
            if !moved.is_null() {
                // SAFETY: both regions are valid for the smaller size and do not overlap.
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            moved
        }
    }
}
