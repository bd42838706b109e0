//! Built-in matcher: compares each candidate's code site with the plan node and records
//! one evidence item per signal — operation kind, source identity (the table or path a
//! scan reads or a write targets), keys, columns, literals, functions, lexical rank —
//! and, when the node's plan neighbours are already mapped, plan-structure consistency:
//! a node's inputs should map upstream of it in the code's data flow and its consumer
//! downstream, so neighbours' mappings reinforce or veto a candidate.

wit_bindgen::generate!({ world: "matcher", path: "../../../wit" });

#[global_allocator]
static ALLOC: planmap_plugin_sdk::BumpAlloc = planmap_plugin_sdk::BumpAlloc;

use exports::planmap::strategy::matching::Guest;
use planmap::strategy::types::{Assessments, Batch, Evidence, Explained, Explanation, PluginError};
use planmap::strategy::{code_search, log};
use std::collections::HashMap;
use planmap_plugin_sdk as sdk;

/// Data-flow hops searched when checking that a neighbour's site feeds a candidate;
/// a chain of helper calls rarely needs more.
const LINEAGE_DEPTH: u32 = 8;

/// Support from a neighbour mapped to another file with no data-flow path found: weak
/// evidence against, not a veto, because helpers imported across files are common and
/// the index cannot follow every call.
const OTHER_FILE: f64 = 0.25;
/// Support from a neighbour whose site feeds this candidate through other operations:
/// consistent, but a chain of similar operations (three `.join`s on one key) fits every
/// link, so only a direct input counts fully.
const TRANSITIVE: f64 = 0.75;
/// Support when the index traced what feeds the candidate (or what the parent's site
/// consumes) and the neighbour is not on that path: in one script file, unrelated
/// pipelines sit side by side, so being nearby means little once the flow is known.
const FLOW_CONFLICT: f64 = 0.15;

struct Matcher;

/// A code site of the batch's table, its strings read from the batch's text.
struct Site<'a> {
    id: u32,
    file: &'a str,
    line_start: u32,
    line_end: u32,
    kind: &'a str,
    terms: sdk::SiteTerms<'a>,
}

impl<'a> Site<'a> {
    /// Row `k` of the batch's sites.
    fn read(batch: &'a Batch, k: usize) -> Self {
        let (t, text) = (&batch.sites, sdk::Text(&batch.text));
        Site {
            id: t.ids[k],
            file: text.get(t.files[k]),
            line_start: t.line_starts[k],
            line_end: t.line_ends[k],
            kind: text.get(t.kinds[k]),
            terms: sdk::SiteTerms::from_terms(sdk::terms(&batch.site_terms.fields, &batch.site_terms.values, t.terms[k], text)),
        }
    }
}

/// A plan neighbour as the lineage check reads it.
struct Near<'a> {
    /// `parent`, `child` or `reuses` (the contract's `relation`).
    relation: &'static str,
    operator: &'a str,
    /// Where it mapped: (file, first line, last line) and the site.
    mapped: Option<(&'a str, u32, u32)>,
    mapped_site: Option<u32>,
}

/// The parts of the plan node the matcher reads, its strings from the batch's text.
struct Node<'a> {
    /// The operator family's case index.
    family: u8,
    operator: &'a str,
    s: sdk::Semantics<'a>,
    /// The limit count of a limit or top-k.
    limit: Option<u64>,
    neighbours: Vec<Near<'a>>,
    plan_files: Vec<(&'a str, f64)>,
}

impl<'a> Node<'a> {
    /// Input `i` of the batch.
    fn read(batch: &'a Batch, i: usize) -> Self {
        let (n, text) = (&batch.inputs, sdk::Text(&batch.text));
        let nb = &batch.neighbours;
        // The mapped neighbours are in row order, so each is met in turn.
        let mut mapped = sdk::named_rows(&nb.mapped, |m| m.neighbour, n.neighbours[i]).iter().peekable();
        let neighbours = sdk::range(n.neighbours[i])
            .map(|k| {
                let here = mapped.next_if(|m| m.neighbour as usize == k);
                Near {
                    relation: nb.relations.get(k).and_then(|&r| sdk::RELATIONS.get(r as usize)).copied().unwrap_or(""),
                    operator: text.get(nb.operators[k]),
                    mapped: here.map(|m| (text.get(m.location.file), m.location.line_start, m.location.line_end)),
                    mapped_site: here.and_then(|m| m.site),
                }
            })
            .collect();
        let files = &batch.plan_files;
        Node {
            family: n.families[i],
            operator: text.get(n.operators[i]),
            s: sdk::Semantics::from_terms(sdk::terms(&batch.terms.fields, &batch.terms.values, n.terms[i], text)),
            limit: sdk::named_rows(&n.limits, |l| l.input, sdk::pack(i, 1)).first().map(|l| l.count),
            neighbours,
            plan_files: sdk::rows(&files.files, n.plan_files[i]).iter().zip(sdk::rows(&files.shares, n.plan_files[i])).map(|(&f, &share)| (text.get(f), share)).collect(),
        }
    }
}

/// A candidate with its site, from the batch's site table.
struct Candidate<'a> {
    site: &'a Site<'a>,
    retrieval_score: f64,
}

/// One candidate's findings: (feature, value, weight as evidence), and when `detailed`
/// the evidence in words (only asked for the few candidates an answer shows, so the
/// sentences are neither built nor copied out for the rest).
struct Found {
    site_id: u32,
    detailed: bool,
    features: Vec<(&'static str, f64, f64)>,
    /// (signal, weight, detail) when `detailed`.
    evidence: Vec<(&'static str, f64, String)>,
}

fn push(c: &mut Found, name: &'static str, value: f64, weight: f64, detail: impl FnOnce() -> String) {
    c.features.push((name, value, weight));
    if c.detailed {
        c.evidence.push((name, weight, detail()));
    }
}

/// The batch's result: feature names once, each input's candidates rows of the
/// matrices (their values and weights), input after input.
fn aligned(results: Vec<Result<Vec<Found>, PluginError>>) -> Assessments {
    let mut names: Vec<&'static str> = Vec::new();
    for f in results.iter().flatten().flatten() {
        for (n, _, _) in &f.features {
            if !names.contains(n) {
                names.push(n);
            }
        }
    }
    let (found, runs) = sdk::gather(results);
    let width = names.len();
    let mut features = vec![f64::NAN; found.len() * width];
    let mut weights = vec![f64::NAN; found.len() * width];
    let mut site_ids = Vec::with_capacity(found.len());
    for (i, f) in found.into_iter().enumerate() {
        site_ids.push(f.site_id);
        for (n, v, w) in f.features {
            if let Some(k) = names.iter().position(|x| *x == n) {
                features[i * width + k] = v;
                weights[i * width + k] = w;
            }
        }
    }
    Assessments { feature_names: names.into_iter().map(str::to_string).collect(), site_ids, features, weights, results: runs }
}

/// Compare one named list of the node with one list of the site.
fn compare<W: AsRef<str>, H: AsRef<str>>(c: &mut Found, name: &'static str, wanted: &[W], have: &[H]) {
    if let Some(cov) = sdk::coverage(wanted, have) {
        push(c, name, cov, cov - 0.5, || {
            let hits = sdk::shared(wanted, have);
            if hits.is_empty() {
                format!("none of the plan's {name} ({}) appear in the code", wanted.iter().map(|w| w.as_ref()).collect::<Vec<_>>().join(", "))
            } else {
                format!("{name} {{{}}} appear in the code ({:.0}% of the plan's)", hits.join(", "), cov * 100.0)
            }
        });
    }
}

fn keys<'a>(s: &sdk::Semantics<'a>) -> Vec<&'a str> {
    s.left_keys.iter().chain(&s.right_keys).chain(&s.grouping_keys).chain(&s.window_partition).copied().collect()
}

fn functions<'a>(s: &sdk::Semantics<'a>) -> Vec<&'a str> {
    s.window_functions.iter().chain(&s.functions).copied().collect()
}

/// The source names (tables, path ends) a scan reads or a write targets.
fn node_sources(s: &sdk::Semantics) -> Vec<String> {
    sdk::dedup(s.tables.iter().chain(&s.paths).chain(s.write_target.iter()).filter_map(|x| sdk::source_name(x)))
}

/// How a read or write site's tables and paths fit the node's: the most path segments
/// any of them confirms (`Some(0)`: it names another source), or `None` when it names
/// its source only through a parameter (a helper such as `read(root, name)`).
fn site_fit(c: &Candidate, wanted: &[&str]) -> Option<usize> {
    let site = &c.site;
    // `DATA + "/orders"`: the path's literal part names the source too.
    let have = site.terms.tables.iter().chain(site.terms.literals.iter().filter(|l| l.starts_with('/') || l.contains("://")));
    have.flat_map(|h| wanted.iter().filter_map(move |w| sdk::source_match(w, h))).max()
}

fn is_source_kind(kind: &str) -> bool {
    matches!(kind, "read" | "table" | "write" | "sql-from" | "sql-join" | "sql-insert")
}

/// Each candidate's fit to the node's sources (`None` for sites that do not read or
/// write, or a node without sources; `Some(None)` for a parameterised source).
fn candidate_sources(cands: &[Candidate], wanted: &[&str]) -> Vec<Option<Option<usize>>> {
    cands.iter().map(|c| (!wanted.is_empty() && is_source_kind(c.site.kind)).then(|| site_fit(c, wanted))).collect()
}

/// `source`: whether the site reads or writes the plan's source; `path`: how much of
/// the plan's path it names, against the best candidate (the copy that names the
/// bucket and folder beats the one that only shares the last name).
fn source(c: &mut Found, fit: Option<&Option<usize>>, wanted: &[String], named_elsewhere: bool, best_path: usize) {
    let Some(fit) = fit else { return };
    match *fit {
        Some(n) if n > 0 => {
            push(c, "source", 1.0, 1.0, || format!("reads or writes `{}`, as the plan does", wanted.join("`, `")));
            if best_path > 1 {
                let v = n as f64 / best_path as f64;
                push(c, "path", v, v - 0.5, || format!("names {n} of the path's segments (the best candidate {best_path})"));
            }
        }
        Some(_) => push(c, "source", 0.0, -1.0, || format!("names another source than `{}`", wanted.join("`, `"))),
        None if !named_elsewhere => {
            // No code names the source, so a helper taking it as a parameter is the
            // likeliest place it is read or written.
            push(c, "source", 0.75, 0.5, || format!("a helper whose source is a parameter; no code names `{}` directly", wanted.join("`, `")));
        }
        None => push(c, "source", 0.25, -0.5, || "a helper whose source is a parameter, while other code names the plan's source".into()),
    }
}

/// Plan-structure consistency with the neighbours mapped so far: for each mapped child,
/// does its site feed this candidate (data flow, or earlier in the same file)? For a
/// mapped parent, is this candidate upstream of its site?
fn lineage(c: &mut Found, cand: &Candidate, node: &Node, parent_upstream: &Option<(u32, Vec<u32>)>) {
    let mapped: Vec<&Near> = node.neighbours.iter().filter(|n| n.mapped_site.is_some() && n.relation != "reuses").collect();
    if mapped.is_empty() {
        return;
    }
    let has_child = mapped.iter().any(|n| n.relation == "child");
    let upstream = if has_child { code_search::upstream(cand.site.id, LINEAGE_DEPTH).unwrap_or_default() } else { Vec::new() };
    // Direct inputs are the first hop of `upstream`; asked for only when a child is
    // upstream at all, and at most once per candidate.
    let mut direct: Option<Vec<u32>> = None;
    let site_at = cand.site;
    let mut total = 0.0;
    let mut notes = Vec::new();
    for n in &mapped {
        let Some(site) = n.mapped_site else { continue };
        let Some((file, line_start, line_end)) = n.mapped else { continue };
        let same_file = file == site_at.file;
        let support = if n.relation == "child" {
            if site == cand.site.id {
                1.0
            } else if upstream.contains(&site) {
                let direct = direct.get_or_insert_with(|| code_search::upstream(cand.site.id, 1).unwrap_or_default());
                if direct.contains(&site) { 1.0 } else { TRANSITIVE }
            } else if !upstream.is_empty() {
                // The index knows what feeds this candidate, and it is not the child.
                FLOW_CONFLICT
            } else if same_file && line_start <= site_at.line_end {
                0.6
            } else if same_file {
                0.3
            } else {
                OTHER_FILE
            }
        } else {
            let known = parent_upstream.as_ref().filter(|(p, up)| *p == site && !up.is_empty());
            if known.is_some_and(|(_, up)| up.contains(&cand.site.id)) || site == cand.site.id {
                1.0
            } else if known.is_some() {
                FLOW_CONFLICT
            } else if same_file && line_end >= site_at.line_start {
                0.6
            } else if same_file {
                0.3
            } else {
                OTHER_FILE
            }
        };
        total += support;
        if c.detailed {
            let relation = if n.relation == "child" { "child" } else { "parent" };
            notes.push(format!("{relation} {} ({file}:{line_start}) {}", n.operator, if support >= TRANSITIVE { "fits" } else if support > OTHER_FILE { "is out of order" } else { "is elsewhere" }));
        }
    }
    let value = total / mapped.len() as f64;
    push(c, "lineage", value, value - 0.5, || format!("plan neighbours: {}", notes.join("; ")));
}

impl Guest for Matcher {
    fn match_candidates(batch: Batch) -> Assessments {
        sdk::marked(log::mark, || {
            let sites = read_sites(&batch);
            let table = by_id(&sites);
            aligned((0..batch.inputs.ids.len()).map(|i| assess_node(&batch, i, &table, false)).collect())
        })
    }

    fn explain_candidates(batch: Batch) -> Explained {
        sdk::marked(log::mark, || {
            let sites = read_sites(&batch);
            let table = by_id(&sites);
            let mut out = sdk::TextOut::default();
            // A signal is a feature name: each crosses once, however many candidates cite it.
            let mut signals: Vec<(&'static str, u64)> = Vec::new();
            let mut evidence = Vec::new();
            let found = (0..batch.inputs.ids.len()).map(|i| assess_node(&batch, i, &table, true));
            let (found, results) = sdk::gather(found);
            let explanations = found
                .into_iter()
                .map(|f| {
                    let start = evidence.len();
                    for (signal, weight, detail) in &f.evidence {
                        let signal = match signals.iter().find(|(s, _)| s == signal) {
                            Some((_, place)) => *place,
                            None => {
                                let place = out.put(signal);
                                signals.push((signal, place));
                                place
                            }
                        };
                        evidence.push(Evidence { signal, weight: *weight, detail: out.put(detail) });
                    }
                    Explanation { site_id: f.site_id, evidence: sdk::pack(start, evidence.len() - start) }
                })
                .collect();
            Explained { text: out.0, evidence, explanations, results }
        })
    }
}

/// The batch's sites with their strings read.
fn read_sites(batch: &Batch) -> Vec<Site<'_>> {
    (0..batch.sites.ids.len()).map(|k| Site::read(batch, k)).collect()
}

/// The batch's site table by site id.
fn by_id<'a>(sites: &'a [Site<'a>]) -> HashMap<u32, &'a Site<'a>> {
    sites.iter().map(|s| (s.id, s)).collect()
}

/// One plan node's findings for each of its candidates (the host sends a batch of
/// nodes), with the evidence in words when `detailed`.
fn assess_node(batch: &Batch, i: usize, table: &HashMap<u32, &Site>, detailed: bool) -> Result<Vec<Found>, PluginError> {
    let node = Node::read(batch, i);
    let s = &node.s;
    let family = sdk::FAMILIES[node.family as usize];
    // The host sends every site its candidates name; one it did not is skipped.
    let rows = batch.inputs.candidates[i];
    let scores = sdk::rows(&batch.candidates.retrieval_scores, rows);
    let candidates: Vec<Candidate> = sdk::rows(&batch.candidates.site_ids, rows).iter().zip(scores).filter_map(|(id, &retrieval_score)| Some(Candidate { site: table.get(id)?, retrieval_score })).collect();
    let top = candidates.iter().map(|c| c.retrieval_score).fold(0.0_f64, f64::max).max(1e-9);
    let mut tables: Vec<&str> = s.tables.clone();
    tables.extend(s.paths.iter().copied());
    tables.extend(s.write_target.iter().copied());
    let sources = node_sources(s);
    let parent_upstream = node.neighbours.iter().find(|n| n.relation == "parent").and_then(|n| n.mapped_site).map(|p| {
        let up = code_search::upstream(p, LINEAGE_DEPTH).unwrap_or_default();
        (p, up)
    });
    let fits = candidate_sources(&candidates, &tables);
    let named_elsewhere = fits.iter().flatten().any(|f| f.is_some_and(|n| n > 0));
    let best_path = fits.iter().flatten().flatten().copied().max().unwrap_or(0);
    let ctx = Context { family, operator: node.operator, s, limit: node.limit, tables: &tables, sources: &sources, named_elsewhere, best_path, top, detailed };
    Ok(candidates.iter().zip(&fits).map(|(cand, fit)| {
        let mut a = assess(cand, fit.as_ref(), &ctx);
        // Fitting the neighbours says nothing for an operation that cannot produce
        // this node (the join a scan feeds is not where the scan is).
        if a.features.first().is_some_and(|(n, v, _)| *n == "kind" && *v > 0.0) {
            lineage(&mut a, cand, &node, &parent_upstream);
        }
        plan_file(&mut a, cand, &node.plan_files);
        a
    }).collect())
}

/// How typical a pivot is as the source of a Sort or Limit (its distinct-values query):
/// a secondary kind.
const PIVOT_VALUES: f64 = 0.5;

struct Context<'a> {
    family: &'a str,
    operator: &'a str,
    s: &'a sdk::Semantics<'a>,
    limit: Option<u64>,
    tables: &'a [&'a str],
    sources: &'a [String],
    named_elsewhere: bool,
    best_path: usize,
    top: f64,
    detailed: bool,
}

fn assess(cand: &Candidate, fit: Option<&Option<usize>>, x: &Context) -> Found {
    let mut a = Found { site_id: cand.site.id, detailed: x.detailed, features: Vec::new(), evidence: Vec::new() };
    let c = &mut a;
    let mut kind = sdk::operator_affinity(x.family, x.operator, cand.site.kind);
    let group_keys = x.s.grouping_keys.len();
    if cand.site.kind == "action" && !sdk::action_can_produce(x.family, group_keys, &x.s.aggregate_functions, &cand.site.terms.functions) {
        kind = 0.0;
    }
    if cand.site.kind == "sql-select" && x.family == "aggregate" && !sdk::select_can_aggregate(&cand.site.terms.functions) {
        kind = 0.0;
    }
    if cand.site.kind == "aggregate" && x.family == "aggregate" && !sdk::grouping_fits(group_keys, &cand.site.terms.functions) {
        kind = 0.0;
    }
    if cand.site.kind == "write" && x.family == "write" && !sdk::write_mode_fits(x.operator, &cand.site.terms.functions) {
        kind = 0.0;
    }
    if kind == 0.0 && cand.site.kind == "aggregate" && sdk::pivot_produces(x.family, &cand.site.terms.functions) {
        kind = PIVOT_VALUES;
    }
    // Spark plans a distinct as an Aggregate that computes nothing: for one, a
    // `distinct()` or `SELECT DISTINCT` is the typical site, not a secondary one.
    if x.family == "aggregate" && x.s.aggregate_functions.is_empty() && matches!(cand.site.kind, "distinct" | "sql-distinct") {
        kind = 1.0;
    }
    push(c, "kind", kind, if kind > 0.0 { kind } else { -1.0 }, || {
        if kind > 0.0 {
            format!("a `{}` operation can produce a {} node", cand.site.kind, x.operator)
        } else {
            format!("a `{}` operation does not produce a {} node", cand.site.kind, x.operator)
        }
    });
    source(c, fit, x.sources, x.named_elsewhere, x.best_path);
    format(c, cand, x);
    partitioning(c, cand, x);
    join_type(c, cand, x);
    let site_cols: &[&str] = &cand.site.terms.columns;
    let site_tables: Vec<String> = cand.site.terms.tables.iter().flat_map(|t| {
        let mut v = vec![t.to_string()];
        v.extend(sdk::tokens(t));
        v
    }).collect();
    if x.sources.is_empty() {
        compare(c, "tables", x.tables, &site_tables);
    }
    // A read or write is identified by its source; the columns a scan reads and the
    // words of its plan text are spread over the code downstream, so for scans and
    // writes only the source and the kind speak.
    if !x.sources.is_empty() && matches!(x.family, "scan" | "write") {
        return a;
    }
    defines(c, cand, x);
    let node_keys = keys(x.s);
    let st = &cand.site.terms;
    compare(c, "keys", &node_keys, site_cols);
    key_set(c, &node_keys, site_cols, cand.site.kind);
    limit(c, x.limit, &st.literals, &st.functions);
    compare(c, "columns", &x.s.columns, site_cols);
    compare(c, "literals", &x.s.literals, &st.literals);
    let node_funcs: Vec<String> = functions(x.s).iter().map(|f| sdk::canonical_function(f)).collect();
    let site_funcs: Vec<String> = st.functions.iter().filter(|f| !f.contains(':')).map(|f| sdk::canonical_function(f)).collect();
    compare(c, "functions", &node_funcs, &site_funcs);
    // Aggregate functions and UDF names are specific enough to be their own signals.
    let node_aggs: Vec<String> = x.s.aggregate_functions.iter().map(|f| sdk::canonical_function(f)).collect();
    compare(c, "aggregates", &node_aggs, &site_funcs);
    distinct_only(c, x, &node_aggs, &site_funcs);
    if !x.s.udfs.is_empty() {
        let names: Vec<&str> = st.functions.iter().chain(&st.columns).chain(&st.literals).copied().collect();
        compare(c, "udfs", &x.s.udfs, &names);
    }
    // Candidates filled in by kind alone have no lexical score (a hair below zero).
    let lexical = cand.retrieval_score.max(0.0) / x.top;
    push(c, "lexical", lexical, 0.0, || format!("lexical rank score {:.2} of the best", lexical));
    a
}

/// An aggregate that computes nothing (its results are its keys) is a `distinct()`,
/// `dropDuplicates()` or `SELECT DISTINCT`: code that computes aggregate functions
/// (`MIN(zip) … GROUP BY lat, lon`) did not make it. Not impossible (the optimizer drops
/// aggregates nothing reads), so it counts as missing aggregates, not as a wrong kind.
fn distinct_only(c: &mut Found, x: &Context, node_aggs: &[String], site_funcs: &[String]) {
    if x.family != "aggregate" || !node_aggs.is_empty() {
        return;
    }
    let computed: Vec<&str> = site_funcs.iter().map(String::as_str).filter(|f| sdk::is_aggregate_function(f)).collect();
    if computed.is_empty() {
        return;
    }
    push(c, "aggregates", 0.0, -0.5, || format!("the code computes aggregates ({}) where the plan's aggregate computes none (a distinct)", computed.join(", ")));
}

/// A scan's or write's format against the one the read or write names (`.parquet(...)`,
/// `.format("csv")`): a `Scan parquet` is not the `format("avro")` reader beside it.
fn format(c: &mut Found, cand: &Candidate, x: &Context) {
    let (Some(plan), true) = (x.s.format, matches!(x.family, "scan" | "write") && matches!(cand.site.kind, "read" | "write")) else { return };
    let Some(code) = sdk::site_format(&cand.site.terms.functions) else { return };
    let same = sdk::same_format(plan, code);
    push(c, "format", f64::from(u8::from(same)), if same { 0.5 } else { -1.0 }, || {
        if same { format!("reads or writes {code}, as the plan's {plan}") } else { format!("the code names {code}, the plan {plan}") }
    });
}

/// A write that partitions its files (`InsertIntoHadoopFsRelationCommand` with partition
/// columns) against a write site that partitions (`partitionBy`): the plain `save()`
/// beside a partitioned writer is not it.
fn partitioning(c: &mut Found, cand: &Candidate, x: &Context) {
    if x.family != "write" || cand.site.kind != "write" || !x.s.functions.contains(&sdk::PARTITIONED) {
        return;
    }
    let fits = cand.site.terms.functions.contains(&sdk::PARTITIONED);
    push(c, "partitioned", f64::from(u8::from(fits)), if fits { 0.5 } else { -1.0 }, || {
        if fits { "partitions its output, as the plan's write does".to_string() } else { "the plan's write partitions its files; this write names no partitionBy".to_string() }
    });
}

/// The column a `withColumn("x", …)` adds against the names the Project node defines
/// (`… AS x#41`): in a chain of a dozen `withColumn`s over the same inputs, the one
/// that names the node's new column is the one that made it.
fn defines(c: &mut Found, cand: &Candidate, x: &Context) {
    // A helper's `withColumn(new_column, …)` defines each name its callers pass.
    let marked: Vec<&str> = sdk::defined_columns(&cand.site.terms.functions).collect();
    let targets: Vec<&str> = match (x.family, cand.site.kind) {
        ("project", "with-column") if marked.is_empty() => cand.site.terms.columns.first().copied().into_iter().collect(),
        // `withColumn("rank", row_number().over(w))`: the Window defines `rank`.
        ("project", "with-column") | ("window", "window") => marked,
        _ => Vec::new(),
    };
    if x.s.aliases.is_empty() || targets.is_empty() {
        return;
    }
    let defined = |t: &str| x.s.aliases.iter().any(|a| sdk::base_name(a) == sdk::base_name(t));
    let target = sdk::base_name(targets.iter().copied().find(|t| defined(t)).unwrap_or(targets[0]));
    let same = defined(&target);
    push(c, "defines", f64::from(u8::from(same)), if same { 1.0 } else { -0.5 }, || {
        if same { format!("adds the column `{target}` the plan's {} defines", x.operator) } else { format!("adds `{target}`, a column this {} does not define", x.operator) }
    });
}

/// A join's type against the one the code asks for (`how="left_anti"`, `LEFT ANTI JOIN`;
/// none given is inner): a `LeftAnti` join is not the `"inner"` line next to it.
fn join_type(c: &mut Found, cand: &Candidate, x: &Context) {
    if x.family != "join" || !matches!(cand.site.kind, "join" | "sql-join") {
        return;
    }
    let Some(plan) = x.s.join_type.and_then(sdk::join_kind) else { return };
    let t = &cand.site.terms;
    let code = t.literals.iter().find_map(|l| sdk::join_kind(l)).unwrap_or(if t.functions.contains(&"crossJoin") { "cross" } else { "inner" });
    // Spark plans a cross join as an inner one with no condition (`CartesianProduct
    // Inner`, `BroadcastNestedLoopJoin … Inner`): `crossJoin` is that inner join.
    let same = plan == code || matches!((plan, code), ("inner", "cross") | ("cross", "inner"));
    push(c, "join_type", f64::from(u8::from(same)), if same { 0.5 } else { -1.0 }, || {
        if same { format!("a {code} join, as in the plan") } else { format!("the code asks for a {code} join, the plan has {plan}") }
    });
    // A hint the code gives (`/*+ MERGE(t) */`, `F.broadcast(df)`) against the strategy
    // Spark chose.
    let hints = sdk::hinted_strategies(&t.functions);
    if let (false, Some(op)) = (hints.is_empty(), sdk::join_strategy(x.operator)) {
        let fits = hints.contains(&op);
        push(c, "strategy", f64::from(u8::from(fits)), if fits { 0.5 } else { -1.0 }, || {
            if fits { format!("the code's {op} hint is the strategy Spark chose") } else { format!("the code hints {}, Spark chose {op}", hints.join(", ")) }
        });
    }
}

/// For a grouping, join or window site: how much of what it names is the node's key
/// set (`groupBy(a, b)` is not the aggregate keyed by `a` alone).
fn key_set(c: &mut Found, keys: &[&str], site_cols: &[&str], kind: &str) {
    if keys.is_empty() || site_cols.is_empty() || !matches!(kind, "aggregate" | "join" | "window" | "distinct" | "sql-group-by" | "sql-join" | "sql-window") {
        return;
    }
    let have = sdk::dedup(site_cols.iter().map(|s| sdk::base_name(s)));
    let wanted = sdk::dedup(keys.iter().map(|s| sdk::base_name(s)));
    let inter = have.iter().filter(|h| wanted.contains(h)).count();
    let union = have.len() + wanted.len() - inter;
    let v = inter as f64 / union.max(1) as f64;
    push(c, "key_set", v, v - 0.5, || format!("the code's columns and the plan's keys overlap {:.0}% (same set = 100%)", v * 100.0));
}

/// A limit's count in the code (`limit(20)`; `show(50)` fetches 51 rows, `show()` 21).
fn limit(c: &mut Found, n: Option<u64>, literals: &[&str], functions: &[&str]) {
    let Some(n) = n else { return };
    let numbers = sdk::site_limits(literals, functions);
    if numbers.is_empty() {
        return;
    }
    if numbers.contains(&n) {
        push(c, "limit", 1.0, 1.0, || format!("the code asks for {n} rows, as the plan does"));
    } else {
        push(c, "limit", 0.0, -0.5, || format!("the code's numbers ({}) are not the plan's limit {n}", literals.join(", ")));
    }
}

/// The share of the rest of the plan that mapped to this candidate's file.
fn plan_file(c: &mut Found, cand: &Candidate, files: &[(&str, f64)]) {
    if files.is_empty() {
        return;
    }
    let share = files.iter().find(|(f, _)| *f == cand.site.file).map_or(0.0, |(_, s)| *s);
    push(c, "plan_file", share, share - 0.25, || format!("{:.0}% of the rest of the plan maps to {}", share * 100.0, cand.site.file));
}

export!(Matcher);
