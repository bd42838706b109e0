//! One answer for the whole plan: each code-owned node's shown candidates are chosen
//! together, so that a node's input maps upstream of it in the code's data flow (the
//! aggregate is the `groupBy` of the DataFrame the join produced, the `show()` the one
//! after that join). The plan's owned nodes form a tree (each linked to its nearest
//! owned parent); the best joint choice is found exactly by dynamic programming over
//! it, scoring each candidate by its confidence and each link by how well the two
//! sites fit the plan's order. Each node's explanation then says how its final
//! neighbours fit, so no explanation cites a place the answer moved away from.

use crate::capabilities::CodeIndex;
use crate::pipeline::NodeOutcome;
use crate::plan::{Ownership, Plan};
use planmap_runtime::model::{CodeSite, Evidence};
use planmap_runtime::Candidate;
use std::collections::{HashMap, HashSet};

/// Data-flow hops searched between a node's site and its input's.
const DEPTH: u32 = 8;
/// How much the plan's order weighs against the candidates' own confidences.
const LINK_WEIGHT: f64 = 0.5;
/// Confidences and link fits are floored here before taking logs.
const FLOOR: f64 = 0.02;
/// How much less likely a candidate is when the event log's call site says it ran after
/// the action (module-level code below a module-level action), or when it is a twin
/// (the same operation on the same names) of one nearer above the action: a script
/// that runs a query twice produced this plan from the copy just before the action.
const AFTER_ACTION: f64 = 0.5;
const FARTHER_TWIN: f64 = 0.5;

/// How much less likely an action is (a `show()`, a `take()`) when the plan computes a
/// column that a `withColumn` upstream of another candidate action adds and none
/// upstream of this one does: `df.show()` is not the `df2.show()` of `df2 =
/// df.withColumn("age2", …)` whose plan shows `age2`.
const MISSES_DERIVED: f64 = 0.35;

/// The columns the plan's Projects compute (`… AS x`), lowercase.
fn computed_columns(plan: &Plan) -> HashSet<String> {
    plan.nodes.iter().filter(|n| n.family == crate::plan::Family::Project).flat_map(|n| n.semantics.aliases.iter().map(|a| planmap_plugin_sdk::base_name(a))).collect()
}

/// Each choice's factor for a limit node: its action's upstream adds a column the plan
/// computes, when another choice's does. `upstream` holds the sets the joint choice
/// already walked; others are walked here.
fn derived_factors(own: &[(CodeSite, f64)], computed: &HashSet<String>, index: &dyn CodeIndex, upstream: &Upstream) -> Vec<f64> {
    let adds_computed = |u: u32| index.site(u).is_some_and(|u| u.kind == "with-column" && u.columns.first().is_some_and(|c| computed.contains(&planmap_plugin_sdk::base_name(c))));
    let adds = |s: &CodeSite| {
        s.kind == "action"
            && match upstream.get(&s.id) {
                Some((up, _)) => up.iter().any(|&u| adds_computed(u)),
                None => index.upstream(s.id, DEPTH).into_iter().any(adds_computed),
            }
    };
    let v: Vec<bool> = own.iter().map(|(s, _)| adds(s)).collect();
    if !v.iter().any(|&x| x) {
        return vec![1.0; own.len()];
    }
    v.iter().zip(own).map(|(&x, (s, _))| if x || s.kind != "action" { 1.0 } else { MISSES_DERIVED }).collect()
}

/// Where the plan's action ran, from the execution's call site (`collect at
/// /x/jobs/q3.py:45`), resolved to an indexed file; or, when the call site names no
/// line, a line it ran before (the next execution's call site).
struct Action {
    file: String,
    line: u32,
    /// The action is module-level code (not inside a function), so module-level code
    /// below it ran after it.
    module_level: bool,
    /// `line` is the next execution's call site, not this one's.
    next: bool,
}

/// The action's place, when the plan names a call site that is a file of the index
/// (the longest indexed path the call site ends with), else the next execution's.
fn action_of(plan: &Plan, index: &dyn CodeIndex) -> Option<Action> {
    let e = plan.execution.as_ref()?;
    action_at(&e.call_site, index).or_else(|| action_at(e.ran_before.as_deref()?, index).map(|a| Action { next: true, ..a }))
}

/// A call site's place in the index.
fn action_at(site: &str, index: &dyn CodeIndex) -> Option<Action> {
    let site = site.replace('\\', "/");
    let line = crate::plan::call_site_line(&site)?;
    let (mut file, mut module_level) = (None::<String>, true);
    for id in 0..index.len() as u32 {
        let Some(s) = index.site(id) else { continue };
        let f = &s.location.file;
        if file.as_ref().is_some_and(|g| g.len() > f.len()) || !crate::program::call_site_names(&site, f) {
            continue;
        }
        if file.as_deref() != Some(f.as_str()) {
            file = Some(f.clone());
            module_level = true;
        }
        if s.location.line_start <= line && line <= s.location.line_end.max(s.statement_end) && s.location.symbol != "<module>" {
            module_level = false;
        }
    }
    Some(Action { file: file?, line, module_level, next: false })
}

/// Each choice's factor from the action's place, with a word when it counts.
fn action_factors(action: Option<&Action>, own: &[(CodeSite, f64)]) -> Vec<(f64, Option<String>)> {
    let Some(a) = action else { return vec![(1.0, None); own.len()] };
    let twin = |x: &CodeSite, y: &CodeSite| x.kind == y.kind && x.columns == y.columns && x.tables == y.tables && x.literals == y.literals && x.functions == y.functions;
    let before = |s: &CodeSite| s.location.file == a.file && s.location.line_start <= a.line;
    own.iter()
        .map(|(s, _)| {
            if s.location.file != a.file {
                return (1.0, None);
            }
            if a.module_level && s.location.symbol == "<module>" && s.location.line_start > a.line {
                return (AFTER_ACTION, None);
            }
            // A later execution's line only bounds this one: several may have run
            // between, so the nearest copy above it is not thereby the one.
            if a.next {
                let later = own.iter().any(|(o, _)| o.id != s.id && !before(o) && o.location.file == a.file && twin(o, s));
                let word = later.then(|| format!("the next execution's call site is {}:{}; the identical operations below it ran later", a.file, a.line));
                return (1.0, word);
            }
            let nearer = own.iter().any(|(o, _)| o.id != s.id && before(o) && o.location.line_start > s.location.line_start && twin(o, s));
            if nearer {
                return (FARTHER_TWIN, None);
            }
            let farther = own.iter().any(|(o, _)| o.id != s.id && twin(o, s) && (!before(o) || o.location.line_start < s.location.line_start));
            let word = farther.then(|| format!("the execution's call site is {}:{}; of the identical operations in the file this is the last before it", a.file, a.line));
            (1.0, word)
        })
        .collect()
}

/// How well `child` (the site of a node's input) fits `parent` (the node's site),
/// with a word for explanations.
fn fit(index: &dyn CodeIndex, parent: &CodeSite, child: &CodeSite, upstream: &HashSet<u32>, direct: &HashSet<u32>) -> (f64, &'static str) {
    let (p, c) = (&parent.location, &child.location);
    if parent.id == child.id {
        return (1.0, "is the same operation");
    }
    if direct.contains(&child.id) {
        return (1.0, "feeds it directly");
    }
    if upstream.contains(&child.id) {
        return (0.8, "feeds it");
    }
    // A UDF's definition sits wherever the function was written, outside the data flow
    // that applies it: its place says nothing of the plan's order.
    if parent.kind == "udf" || child.kind == "udf" {
        return (0.8, "is a UDF definition, applied where the data flow calls it");
    }
    // Clauses of one SQL text (no data-flow edges between them).
    if p.file == c.file && parent.kind.starts_with("sql-") && child.kind.starts_with("sql-") && same_query(index, parent, child) {
        return (0.8, "is in the same query");
    }
    // A clause of the SQL text the parent's statement runs (`spark.sql("…").persist()`):
    // no data-flow edge joins a string to the call that runs it.
    if p.file == c.file && child.kind.starts_with("sql-") && !parent.kind.starts_with("sql-") && parent.statement_start <= c.line_start && c.line_end <= parent.statement_end {
        return (0.8, "is in the query it runs");
    }
    if !upstream.is_empty() {
        return (0.15, "is not among what feeds it");
    }
    if p.file == c.file {
        return if c.line_start <= p.line_end { (0.5, "comes before it in the file") } else { (0.25, "comes after it in the file") };
    }
    (0.3, "is in another file")
}

/// Whether two SQL clause sites come from the same query text (their names share the
/// text's `q<line>` tag; see `repo::sql::text_sites`).
fn same_query(index: &dyn CodeIndex, a: &CodeSite, b: &CodeSite) -> bool {
    let tag = |s: &CodeSite| index.name(s.id).and_then(|n| n.split(':').find(|p| p.starts_with('q')).map(|q| q.split('.').next().unwrap_or("").to_string()));
    matches!((tag(a), tag(b)), (Some(x), Some(y)) if x == y)
}

/// Each candidate site's upstream (up to `DEPTH` hops) and direct inputs, by site id.
type Upstream = HashMap<u32, (HashSet<u32>, HashSet<u32>)>;

/// Reorder each owned node's candidates so the first is the joint choice, and rewrite
/// the chosen candidate's `lineage` evidence from its final neighbours. `fixed` holds
/// nodes already final (from an interrupted run): their answers are given.
pub fn decode(plan: &Plan, outcomes: &mut HashMap<String, NodeOutcome>, fixed: &HashMap<String, CodeSite>, index: &dyn CodeIndex) {
    let owned: Vec<&str> = plan.nodes.iter().filter(|n| n.ownership == Ownership::Owned).map(|n| n.id.as_str()).collect();
    // Each owned node's nearest owned parent (looking through induced nodes and adapters).
    let mut parent_of: HashMap<&str, &str> = HashMap::new();
    for &id in &owned {
        let (up, _) = super::convert::owned_around(plan, plan.node(id).expect("owned ids come from the plan"));
        if let Some(p) = up
            && let Some(&p) = owned.iter().find(|&&o| o == p) {
                parent_of.insert(id, p);
            }
    }
    let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
    for (&c, &p) in &parent_of {
        children.entry(p).or_default().push(c);
    }
    for v in children.values_mut() {
        v.sort();
    }
    // The choices per node: the candidates whose evidence was put in words (so any
    // choice can be explained), or its fixed answer.
    let choices: HashMap<&str, Vec<(CodeSite, f64)>> = owned
        .iter()
        .map(|&id| {
            let v = match (fixed.get(id), outcomes.get(id)) {
                (Some(site), _) => vec![(site.clone(), 1.0)],
                (None, Some(o)) if o.error.is_none() => o.candidates.iter().take(crate::pipeline::worded_len(&o.candidates)).map(|c| (c.site.clone(), c.confidence())).collect(),
                _ => vec![],
            };
            (id, v)
        })
        .collect();
    // Upstream sets of every candidate site of a node that has a child.
    let mut upstream: Upstream = HashMap::new();
    for (&p, _) in children.iter() {
        for (s, _) in &choices[p] {
            upstream.entry(s.id).or_insert_with(|| (index.upstream(s.id, DEPTH).into_iter().collect(), index.upstream(s.id, 1).into_iter().collect()));
        }
    }
    // The event log's call site places the action: what ran after it, or a farther copy
    // of the same operation, is less likely.
    let action = action_of(plan, index);
    let computed = computed_columns(plan);
    let factors: HashMap<&str, Vec<(f64, Option<String>)>> = owned
        .iter()
        .map(|&id| {
            let mut f = action_factors(action.as_ref(), &choices[id]);
            if plan.node(id).is_some_and(|n| n.family == crate::plan::Family::Limit) && !computed.is_empty() {
                for (x, d) in f.iter_mut().zip(derived_factors(&choices[id], &computed, index, &upstream)) {
                    x.0 *= d;
                }
            }
            (id, f)
        })
        .collect();
    // Bottom-up: best[node][k] = the best log-score of node's subtree with candidate k.
    let mut best: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut pick: HashMap<(&str, usize, &str), usize> = HashMap::new();
    // The log-fit of a parent's site with its input's, weighed against confidences.
    let link = |ps: &CodeSite, cs: &CodeSite| {
        let (up, direct) = &upstream[&ps.id];
        LINK_WEIGHT * fit(index, ps, cs, up, direct).0.max(FLOOR).ln()
    };
    let order = post_order(&owned, &parent_of, &children);
    for &n in &order {
        let own = &choices[n];
        let mut scores: Vec<f64> = own.iter().zip(&factors[n]).map(|((_, p), (f, _))| (p * f).max(FLOOR).ln()).collect();
        for &c in children.get(n).map(Vec::as_slice).unwrap_or(&[]) {
            let kids = &choices[c];
            if kids.is_empty() || own.is_empty() {
                continue;
            }
            let Some(child_best) = best.get(c) else { continue };
            for (k, (ps, _)) in own.iter().enumerate() {
                let (arg, val) = kids
                    .iter()
                    .enumerate()
                    .map(|(j, (cs, _))| (j, child_best[j] + link(ps, cs)))
                    .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
                scores[k] += val;
                pick.insert((n, k, c), arg);
            }
        }
        best.insert(n, scores);
    }
    // Top-down: the roots' best, then each child's pick given its parent's.
    let mut chosen: HashMap<&str, usize> = HashMap::new();
    for &n in order.iter().rev() {
        let k = match parent_of.get(n) {
            Some(&p) if !choices[p].is_empty() && chosen.contains_key(p) => pick.get(&(p, chosen[p], n)).copied().unwrap_or(0),
            _ => best[n].iter().enumerate().fold((0, f64::NEG_INFINITY), |a, (i, &v)| if v > a.1 { (i, v) } else { a }).0,
        };
        chosen.insert(n, k);
    }
    // How well each choice fits with the rest of the answer: its subtree's best with
    // its link to its parent's choice. Alternatives are ranked by it, so the ones shown
    // are those the plan's data flow supports next (the other copy of a repeated query,
    // with its own inputs), rather than more look-alikes of the answer.
    let fits_answer = |n: &str, k: usize| {
        let parent = parent_of.get(n).and_then(|&p| choices[p].get(*chosen.get(p)?));
        let up = parent.zip(choices[n].get(k)).map_or(0.0, |((ps, _), (cs, _))| link(ps, cs));
        best[n].get(k).map_or(f64::NEG_INFINITY, |b| b + up)
    };
    // Apply: the chosen candidate first, its neighbours' fit in words.
    let site_of = |id: &str| chosen.get(id).and_then(|&k| choices[id].get(k)).map(|(s, _)| s.clone());
    // A Project that only drops columns, answered by no `select` of exactly those
    // columns, is the optimizer's pruning of its input: it takes its input's answer.
    let mut trims: HashMap<&str, Candidate> = HashMap::new();
    for &n in &owned {
        let (Some(node), Some(&[child])) = (plan.node(n), children.get(n).map(Vec::as_slice)) else { continue };
        let Some(mine) = site_of(n) else { continue };
        if !only_prunes(node) || selects_exactly(&mine, node) {
            continue;
        }
        let Some(theirs) = site_of(child) else { continue };
        if let Some(c) = outcomes.get(child).and_then(|o| o.candidates.iter().find(|c| c.site.id == theirs.id)) {
            let mut c = c.clone();
            let op = plan.node(child).map(|x| x.operator.as_str()).unwrap_or("");
            let l = &theirs.location;
            let word = format!("a Project that only drops columns has no line of its own: it trims the output of the {op} at {}:{}", l.file, super::lines(l.line_start, l.line_end));
            let a = c.assessed_mut();
            a.explanation = word.clone();
            a.evidence.retain(|e| &*e.signal != "lineage");
            a.put(Evidence { signal: "prunes".into(), weight: 0.5, detail: word });
            trims.insert(n, c);
        }
    }
    for &n in &owned {
        let Some(o) = outcomes.get_mut(n) else { continue };
        let Some(&k) = chosen.get(n) else { continue };
        if let Some(c) = trims.remove(n) {
            o.candidates.retain(|x| x.site.id != c.site.id);
            o.candidates.insert(0, c);
            continue;
        }
        if k < o.candidates.len() {
            // The choice, then the other considered candidates by how they fit the
            // answer, then the rest as they were.
            let considered = choices[n].len().min(o.candidates.len());
            let mut head: Vec<(f64, Candidate)> = o.candidates.drain(..considered).enumerate().map(|(i, c)| (if i == k { f64::INFINITY } else { fits_answer(n, i) }, c)).collect();
            head.sort_by(|a, b| b.0.total_cmp(&a.0));
            o.candidates.splice(0..0, head.into_iter().map(|(_, c)| c));
        }
        let Some(me) = o.candidates.first().map(|c| c.site.clone()) else { continue };
        let mut notes = Vec::new();
        let mut fits = Vec::new();
        let neighbours = children.get(n).into_iter().flatten().map(|&c| (c, true)).chain(parent_of.get(n).map(|&p| (p, false)));
        for (other, is_child) in neighbours {
            let Some(os) = site_of(other) else { continue };
            let (up, direct): (HashSet<u32>, HashSet<u32>) = if is_child { upstream.get(&me.id).cloned().unwrap_or_default() } else { (index.upstream(os.id, DEPTH).into_iter().collect(), index.upstream(os.id, 1).into_iter().collect()) };
            let (v, word) = if is_child { fit(index, &me, &os, &up, &direct) } else { fit(index, &os, &me, &up, &direct) };
            let op = plan.node(other).map(|x| x.operator.as_str()).unwrap_or("");
            let l = &os.location;
            let lines = super::lines(l.line_start, l.line_end);
            notes.push(if is_child {
                format!("its input {op} ({}:{lines}) {word}", l.file)
            } else {
                format!("it {} the {op} that consumes it ({}:{lines})", if v >= 0.8 { "feeds" } else { "is placed apart from" }, l.file)
            });
            fits.push(v);
        }
        let first = &mut o.candidates[0];
        let rebuilt = first.explanation().contains("plan neighbours");
        let placed = factors[n].get(k).and_then(|(_, w)| w.clone());
        if let Some(a) = first.assessed.as_mut() {
            if let Some(word) = &placed {
                a.put(Evidence { signal: "call-site".into(), weight: 0.2, detail: word.clone() });
            }
            if fits.is_empty() {
                a.evidence.retain(|e| &*e.signal != "lineage");
            } else {
                let v = fits.iter().sum::<f64>() / fits.len() as f64;
                a.put(Evidence { signal: "lineage".into(), weight: v - 0.5, detail: format!("plan neighbours as finally mapped: {}", notes.join("; ")) });
            }
        }
        // An explanation the host built from the evidence is built again from it.
        if rebuilt {
            let text = crate::pipeline::merge::explain(first);
            first.assessed_mut().explanation = text;
        }
        // The call site decided between copies: always said.
        if let Some(word) = placed
            && !first.explanation().contains(&word) {
                let text = format!("{}; {word}", first.explanation());
                first.assessed_mut().explanation = text;
            }
    }
}

/// A Project whose every output is an input column as it is (no expression, alias or
/// literal): what `select("a", "b")` makes, and what the optimizer's column pruning
/// inserts.
fn only_prunes(n: &crate::plan::PlanNode) -> bool {
    let s = &n.semantics;
    n.family == crate::plan::Family::Project && s.aliases.is_empty() && s.functions.is_empty() && s.literals.is_empty() && !s.output_columns.is_empty()
}

/// Whether a site is a `select`/`SELECT` naming every column the Project keeps.
fn selects_exactly(site: &CodeSite, n: &crate::plan::PlanNode) -> bool {
    let named: HashSet<String> = site.columns.iter().map(|c| planmap_plugin_sdk::base_name(c)).collect();
    matches!(site.kind.as_str(), "select" | "sql-select") && n.semantics.output_columns.iter().all(|c| named.contains(&planmap_plugin_sdk::base_name(c)))
}

/// Children before parents, over every owned node (roots last).
fn post_order<'a>(owned: &[&'a str], parent_of: &HashMap<&'a str, &'a str>, children: &HashMap<&'a str, Vec<&'a str>>) -> Vec<&'a str> {
    let mut out = Vec::with_capacity(owned.len());
    let mut seen: HashSet<&str> = HashSet::new();
    for &root in owned.iter().filter(|n| !parent_of.contains_key(*n)) {
        // Iterative post-order from each root.
        let mut stack = vec![(root, false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                out.push(n);
                continue;
            }
            if !seen.insert(n) {
                continue;
            }
            stack.push((n, true));
            for &c in children.get(n).map(Vec::as_slice).unwrap_or(&[]) {
                stack.push((c, false));
            }
        }
    }
    // A cycle in broken input leaves nodes unreached: they stand alone.
    for &n in owned {
        if seen.insert(n) {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use planmap_runtime::model::Location;

    fn site(id: u32, line: u32, symbol: &str, table: &str) -> (CodeSite, f64) {
        let location = Location { file: "jobs/bench.py".into(), symbol: symbol.into(), line_start: line, line_end: line };
        (CodeSite { id, location, statement_start: line, statement_end: line, kind: "sql-from".into(), columns: vec![], tables: vec![table.into()], literals: vec![], functions: vec![] }, 0.6)
    }

    #[test]
    fn a_show_whose_input_lacks_a_computed_column_is_less_likely() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("job.py"), "df = spark.createDataFrame([('a', 1)], ['name', 'age'])\ndf.show()\ndf2 = df.withColumn('age2', df.age + 2)\ndf2.show()\n").unwrap();
        let ctx = crate::repo::build(dir.path(), &[], "t").unwrap();
        let index = ctx.memory_index();
        let action = |line: u32| {
            let i = ctx.sites.iter().position(|s| s.line_start == line && s.kind == "action").unwrap();
            (index.site(i as u32).unwrap().clone(), 0.5)
        };
        let own = vec![action(2), action(4)];
        let computed: HashSet<String> = ["name", "age", "age2"].iter().map(|s| s.to_string()).collect();
        assert_eq!(derived_factors(&own, &computed, &index, &HashMap::new()), vec![MISSES_DERIVED, 1.0]);
        // A plan that computes nothing the code adds leaves both alone.
        let plain: HashSet<String> = ["name"].iter().map(|s| s.to_string()).collect();
        assert_eq!(derived_factors(&own, &plain, &index, &HashMap::new()), vec![1.0, 1.0]);
    }

    #[test]
    fn a_project_that_only_drops_columns_keeps_its_line_only_for_a_select_of_them() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/public/plans/spark-sql-plan-poc/colab-poc/69.txt");
        let plan = crate::plan::parse(crate::plan::PlanInput::Path(&path), &Default::default()).unwrap();
        let pruning = plan.node("8").unwrap();
        assert!(only_prunes(pruning), "{:?}", pruning.semantics);
        // show()'s formatting Project computes expressions: not a pruning.
        let formats = plan.nodes.iter().find(|n| n.family == crate::plan::Family::Project && !n.semantics.aliases.is_empty());
        assert!(formats.is_none_or(|n| !only_prunes(n)));
        let (mut select, _) = site(1, 2, "<module>", "t");
        select.kind = "sql-select".into();
        select.columns = vec!["d.quarter_name".into(), "date_id".into()];
        assert!(selects_exactly(&select, pruning), "a SELECT of exactly those columns is its own line");
        select.columns.pop();
        assert!(!selects_exactly(&select, pruning), "one that lacks a kept column is not");
        select.columns.push("date_id".into());
        select.kind = "sql-from".into();
        assert!(!selects_exactly(&select, pruning), "nor is a FROM");
    }

    #[test]
    fn the_call_site_prefers_the_last_copy_before_the_action() {
        let action = Action { file: "jobs/bench.py".into(), line: 80, module_level: true, next: false };
        // The same query run at 65 and at 79, another query at 70, the first copy's
        // rerun after the action at 95.
        let own = vec![site(1, 65, "<module>", "x"), site(2, 79, "<module>", "x"), site(3, 70, "<module>", "y"), site(4, 95, "<module>", "x")];
        let f = action_factors(Some(&action), &own);
        assert_eq!(f[0].0, FARTHER_TWIN, "an earlier copy of the same operation");
        assert_eq!(f[1].0, 1.0);
        assert!(f[1].1.as_deref().is_some_and(|w| w.contains("jobs/bench.py:80")), "{:?}", f[1].1);
        assert_eq!((f[2].0, f[2].1.is_some()), (1.0, false), "no copy: no word");
        assert_eq!(f[3].0, AFTER_ACTION, "module-level code below a module-level action ran after it");
        // Inside a function, code below the action's line may well have run first.
        let in_function = Action { module_level: false, ..action };
        assert_eq!(action_factors(Some(&in_function), &own)[3].0, 1.0);
        // The next execution's line only bounds this one: what is below it ran later,
        // but the copy nearest above it is not preferred.
        let bound = Action { next: true, ..in_function };
        let bound = Action { module_level: true, ..bound };
        let f = action_factors(Some(&bound), &own);
        assert_eq!((f[0].0, f[1].0, f[3].0), (1.0, 1.0, AFTER_ACTION));
        assert!(f[0].1.as_deref().is_some_and(|w| w.contains("next execution's call site is jobs/bench.py:80")), "{:?}", f[0].1);
        // Without a call site nothing changes.
        assert!(action_factors(None, &own).iter().all(|(x, w)| *x == 1.0 && w.is_none()));
    }
}
