//! How well one code site explains one plan node, for program resolution: a cheap,
//! whole-plan comparison (every owned node against every site of a compatible kind),
//! not the per-node mapping the strategy plugins do. It rewards what identifies a
//! program — the sources it reads with their format, join keys and join types,
//! grouping and window keys, aggregate and window functions, literals, limits — and
//! counts a contradiction (another source, format or join type) against the site.

use crate::plan::{Family, PlanNode};
use crate::repo::Site;
use planmap_plugin_sdk as sdk;

/// What a plan node says about the code that made it, normalised once per plan.
pub struct NodeFacts {
    pub family: &'static str,
    pub operator: String,
    /// How much this node counts in a program's score: scans and joins identify a
    /// query best, a column-pruning Project hardly at all.
    pub weight: f64,
    /// Tables and paths as the plan prints them.
    sources: Vec<Source>,
    format: Option<String>,
    join: Option<&'static str>,
    /// The join strategy Spark chose (broadcast, merge, hash, nl).
    strategy: Option<&'static str>,
    keys: Vec<String>,
    functions: Vec<String>,
    literals: Vec<String>,
    columns: Vec<String>,
    limit: Option<u64>,
    grouping_keys: usize,
    aggregates: Vec<String>,
}

/// What a site offers, normalised once per repository.
pub struct SiteFacts {
    pub kind: String,
    /// Tables and paths as the code names them (placeholders kept).
    sources: Vec<Source>,
    format: Option<String>,
    join: Option<&'static str>,
    columns: Vec<String>,
    functions: Vec<String>,
    literals: Vec<String>,
    /// Whether it may be what produced an aggregate node with no grouping keys, and one
    /// with keys (see `sdk::select_can_aggregate`, `sdk::grouping_fits`).
    global_aggregate: bool,
    keyed_aggregate: bool,
    /// A `readStream`/`writeStream` chain (`sdk::STREAMING`).
    streaming: bool,
    /// It computes aggregate functions, so it is not a distinct.
    aggregates: bool,
}

/// A table or path, with what `sdk::source_match` derives from it computed once (a
/// repository's sites are compared with every node of every plan).
#[derive(Debug)]
struct Source {
    raw: String,
    is_path: bool,
    name: Option<String>,
}

impl Source {
    fn of(raw: &str) -> Source {
        Source { raw: raw.to_string(), is_path: raw.contains('/') || raw.contains("://"), name: sdk::source_name(raw) }
    }

    /// `sdk::source_match(plan, code)` on the prepared forms.
    fn matches(plan: &Source, code: &Source) -> Option<usize> {
        if plan.is_path && code.is_path {
            return sdk::path_match(&plan.raw, &code.raw);
        }
        let c = code.name.as_ref()?;
        Some(usize::from(plan.name.as_ref() == Some(c)))
    }
}

fn norm(v: &[String]) -> Vec<String> {
    sdk::dedup(v.iter().map(|x| sdk::base_name(x)))
}

/// Literals that say something: not 0/1/true/false, not empty.
fn telling(v: &[String]) -> Vec<String> {
    sdk::dedup(v.iter().map(|x| x.trim().trim_matches('\'').to_ascii_lowercase()).filter(|x| !x.is_empty() && !matches!(x.as_str(), "0" | "1" | "true" | "false" | "null" | "0.0" | "1.0")))
}

impl NodeFacts {
    /// Everything compatibility depends on, as one string: nodes with equal keys are
    /// compared with the sites once (a plan repeats its shapes: one per input, per
    /// union branch, per AQE re-plan).
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{:?}",
            self.family, self.operator, self.sources, self.format, self.join, self.strategy, self.keys, self.functions, self.literals, self.columns, self.limit, self.grouping_keys, self.aggregates
        )
    }

    pub fn of(n: &PlanNode) -> NodeFacts {
        let s = &n.semantics;
        let family = n.family.name();
        let sources: Vec<Source> = sdk::dedup(s.tables.iter().chain(&s.paths).chain(s.write_target.iter()).cloned()).iter().map(|x| Source::of(x)).collect();
        let keys = norm(&[s.left_keys.clone(), s.right_keys.clone(), s.grouping_keys.clone(), s.window_partition.clone()].concat());
        let functions = norm(&[s.aggregate_functions.clone(), s.window_functions.clone(), s.udfs.clone()].concat());
        let weight = match n.family {
            Family::Scan | Family::Write => 2.0,
            Family::Join | Family::Window | Family::Aggregate | Family::PythonUdf => 1.5,
            Family::Filter | Family::Limit | Family::Generate | Family::Union | Family::Sort => 1.0,
            Family::Project => 0.5,
            _ => 0.5,
        };
        NodeFacts {
            family,
            operator: n.operator.clone(),
            weight,
            sources,
            format: s.format.clone().filter(|_| matches!(n.family, Family::Scan | Family::Write)),
            join: s.join_type.as_deref().and_then(sdk::join_kind),
            strategy: (n.family == Family::Join).then(|| sdk::join_strategy(&n.operator)).flatten(),
            keys,
            functions,
            literals: telling(&s.literals),
            columns: norm(&[s.columns.clone(), s.aliases.clone()].concat()),
            limit: s.limit,
            grouping_keys: s.grouping_keys.len(),
            aggregates: s.aggregate_functions.clone(),
        }
    }
}

impl SiteFacts {
    pub fn of(s: &Site) -> SiteFacts {
        // `DATA + "/orders"`: a path among the literals names the source too.
        let sources = sdk::dedup(s.tables.iter().chain(s.literals.iter().filter(|l| l.starts_with('/') || l.contains("://"))).cloned()).iter().map(|x| Source::of(x)).collect();
        let functions: Vec<&str> = s.functions.iter().map(String::as_str).collect();
        SiteFacts {
            kind: s.kind.clone(),
            sources,
            format: sdk::site_format(&functions).map(str::to_string),
            join: matches!(s.kind.as_str(), "join" | "sql-join").then(|| s.literals.iter().find_map(|l| sdk::join_kind(l)).unwrap_or(if s.functions.iter().any(|f| f == "crossJoin") { "cross" } else { "inner" })),
            columns: norm(&s.columns),
            functions: norm(&s.functions.iter().filter(|f| !f.starts_with("format:")).cloned().collect::<Vec<_>>()),
            literals: telling(&s.literals),
            global_aggregate: match s.kind.as_str() {
                "sql-select" => sdk::select_can_aggregate(&functions),
                "aggregate" => sdk::grouping_fits(0, &functions),
                _ => true,
            },
            keyed_aggregate: s.kind != "sql-select" || sdk::select_can_aggregate(&functions),
            streaming: functions.contains(&sdk::STREAMING),
            aggregates: functions.iter().any(|f| sdk::is_aggregate_function(f)),
        }
    }
}

fn coverage(wanted: &[String], have: &[String]) -> Option<f64> {
    if wanted.is_empty() {
        return None;
    }
    Some(wanted.iter().filter(|w| have.contains(w)).count() as f64 / wanted.len() as f64)
}

/// Share of a node's identity a site accounts for, in [0, 1]: the kind fits (a third),
/// and the rest by its facts (a contradiction weighs as a miss). 0 when the site's kind
/// cannot produce the node.
pub fn compat(n: &NodeFacts, s: &SiteFacts) -> f64 {
    compat_with(n, s, sdk::operator_affinity(n.family, &n.operator, &s.kind))
}

/// `compat` with the kind's affinity already known (it depends on the site's kind
/// only, so a caller walking the sites of one kind computes it once).
pub fn compat_with(n: &NodeFacts, s: &SiteFacts, kind: f64) -> f64 {
    if kind == 0.0 {
        return 0.0;
    }
    if s.kind == "action" {
        let funcs: Vec<&str> = s.functions.iter().map(String::as_str).collect();
        let aggs: Vec<&str> = n.aggregates.iter().map(String::as_str).collect();
        if !sdk::action_can_produce(n.family, n.grouping_keys, &aggs, &funcs) {
            return 0.0;
        }
    }
    if n.family == "aggregate" && !(if n.grouping_keys == 0 { s.global_aggregate } else { s.keyed_aggregate }) {
        return 0.0;
    }
    if n.family == "write" && s.kind == "write" && s.streaming != sdk::streaming_write(&n.operator) {
        return 0.0;
    }
    let mut got = 0.0;
    let mut total = 0.0;
    let mut weigh = |w: f64, v: Option<f64>| {
        if let Some(v) = v {
            got += w * v;
            total += w;
        }
    };
    let source_kind = matches!(s.kind.as_str(), "read" | "table" | "write" | "sql-from" | "sql-join" | "sql-insert");
    if !n.sources.is_empty() && source_kind {
        // A confirmed path counts more the more of it the code names (the copy that
        // names the bucket and folder beats one that only shares the last name).
        let fit = s.sources.iter().flat_map(|c| n.sources.iter().filter_map(move |p| Source::matches(p, c))).max();
        let v = match fit {
            Some(0) => 0.0,
            Some(k) => 0.7 + 0.3 * (k.min(4) as f64 / 4.0),
            None if s.sources.is_empty() => 0.3,
            None => 0.5,
        };
        weigh(3.0, Some(v));
    }
    if let (Some(p), Some(c)) = (&n.format, &s.format) {
        weigh(1.5, Some(if sdk::same_format(p, c) { 1.0 } else { 0.0 }));
    }
    if let (Some(p), Some(c)) = (n.join, s.join) {
        weigh(1.5, Some(if p == c { 1.0 } else { 0.0 }));
        let funcs: Vec<&str> = s.functions.iter().map(String::as_str).collect();
        let hints = sdk::hinted_strategies(&funcs);
        if let (false, Some(st)) = (hints.is_empty(), n.strategy) {
            weigh(1.0, Some(if hints.contains(&st) { 1.0 } else { 0.0 }));
        }
    }
    weigh(2.0, coverage(&n.keys, &s.columns));
    weigh(1.0, coverage(&n.functions, &s.functions));
    // An aggregate that computes nothing is a distinct: code computing aggregates is not it.
    if n.family == "aggregate" && n.aggregates.is_empty() && s.aggregates {
        weigh(1.0, Some(0.0));
    }
    weigh(1.0, coverage(&n.literals, &s.literals));
    // A site that names no columns at all (`createDataFrame(rdd)`, `read.csv(path)`)
    // says nothing about them: not a contradiction.
    weigh(0.5, if s.columns.is_empty() { None } else { coverage(&n.columns, &s.columns) });
    if let Some(l) = n.limit {
        let (lits, funcs): (Vec<&str>, Vec<&str>) = (s.literals.iter().map(String::as_str).collect(), s.functions.iter().map(String::as_str).collect());
        let has = sdk::site_limits(&lits, &funcs).contains(&l);
        weigh(1.5, Some(if has { 1.0 } else { 0.0 }));
    }
    let facts = if total == 0.0 { 0.5 } else { got / total };
    kind / 3.0 + (2.0 / 3.0) * facts
}
