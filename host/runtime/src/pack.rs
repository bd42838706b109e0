//! Packing a call for the sandbox and unpacking what comes back. A batch crosses in
//! columns: its inputs (one row per plan node), their semantic terms, neighbours,
//! plan files and candidates, and a matcher's sites, each a record of lists of
//! numbers, one list per field. Every string is appended to one text and crosses as a
//! place in it (`start << 32 | len`); an input names its part of a batch-wide column as
//! rows packed the same way. A list of numbers crosses as one copy, where a list of
//! records costs the host a store per field and every string or list of its own a
//! guest allocation and a host-to-guest call. Results come back in columns too and are
//! split per input here, a row or place outside them failing that input alone.

use crate::invoke::StepOutput;
use crate::model::{self, CodeSite, PlanNode};
use crate::wit::{self, ErrorCode, Field, PluginError, SiteField};
use std::ops::Range;
use std::sync::Arc;

/// The largest text a call may carry: places in it are 32-bit.
const MAX_TEXT: usize = u32::MAX as usize;

/// How much of each plan node a graph node gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeDetail {
    /// Everything: semantics, neighbours, plan files and fragment.
    #[default]
    Full,
    /// Id, operator, family and induced link only (routers by default).
    Brief,
}

/// Rows `start .. start + len` as the contract packs them (also a place's layout).
pub fn rows(start: usize, len: usize) -> wit::Rows {
    ((start as u64) << 32) | len as u64
}

/// (start, len) of packed rows or a place.
pub fn unpack(r: u64) -> (usize, usize) {
    ((r >> 32) as usize, (r & 0xffff_ffff) as usize)
}

/// The rows from `start` to the end of a column of `end` rows.
fn rows_since(start: usize, end: usize) -> wit::Rows {
    rows(start, end - start)
}

/// A terms column being built.
fn no_terms() -> wit::Terms {
    wit::Terms { fields: Vec::new(), values: Vec::new() }
}

/// No sites (every kind but matchers).
fn no_sites() -> wit::Sites {
    wit::Sites { ids: vec![], files: vec![], symbols: vec![], line_starts: vec![], line_ends: vec![], statement_starts: vec![], statement_ends: vec![], kinds: vec![], terms: vec![] }
}

/// A call's text and columns being built.
pub struct Packer {
    text: String,
    inputs: wit::Inputs,
    terms: wit::Terms,
    neighbours: wit::Neighbours,
    plan_files: wit::PlanFiles,
    sites: wit::Sites,
    site_terms: wit::Terms,
}

impl Default for Packer {
    fn default() -> Self {
        Packer {
            text: String::new(),
            inputs: wit::Inputs { ids: vec![], operators: vec![], families: vec![], terms: vec![], truncated: vec![], neighbours: vec![], plan_files: vec![], fragments: vec![], candidates: vec![], visits: vec![], induced: vec![], limits: vec![] },
            terms: no_terms(),
            neighbours: wit::Neighbours { ids: vec![], operators: vec![], families: vec![], relations: vec![], mapped: vec![] },
            plan_files: wit::PlanFiles { files: vec![], shares: vec![] },
            sites: no_sites(),
            site_terms: no_terms(),
        }
    }
}

thread_local! {
    /// The columns of this thread's last finished call, emptied, for its next call to
    /// fill: a call's text and columns reach hundreds of KiB, and fresh ones cost the
    /// host's allocator new pages (zeroed by the kernel) on every invocation.
    static SPARE: std::cell::RefCell<Option<Packer>> = const { std::cell::RefCell::new(None) };
}

/// Empty each of the given vectors (or strings), keeping their capacity.
macro_rules! clear {
    ($($v:expr),* $(,)?) => { $($v.clear();)* };
}

impl Packer {
    /// A packer with the spare columns of an earlier call, if this thread has them.
    fn reused() -> Packer {
        SPARE.with(|s| s.borrow_mut().take()).unwrap_or_default()
    }

    /// Keep a finished call's columns, emptied, for the next call on this thread.
    fn keep(b: wit::Batch) {
        let wit::Batch { mut text, mut inputs, mut terms, mut neighbours, mut plan_files, mut sites, mut site_terms, .. } = b;
        let i = &mut inputs;
        clear!(text, i.ids, i.operators, i.families, i.terms, i.truncated, i.neighbours, i.plan_files, i.fragments, i.candidates, i.visits, i.induced, i.limits);
        clear!(terms.fields, terms.values, site_terms.fields, site_terms.values, plan_files.files, plan_files.shares);
        clear!(neighbours.ids, neighbours.operators, neighbours.families, neighbours.relations, neighbours.mapped);
        let t = &mut sites;
        clear!(t.ids, t.files, t.symbols, t.line_starts, t.line_ends, t.statement_starts, t.statement_ends, t.kinds, t.terms);
        let p = Packer { text, inputs, terms, neighbours, plan_files, sites, site_terms };
        SPARE.with(|s| *s.borrow_mut() = Some(p));
    }

    /// Append a string; its place in the text.
    pub fn text(&mut self, s: &str) -> wit::Place {
        let start = self.text.len();
        self.text.push_str(s);
        rows(start, s.len())
    }

    /// The text, or an error when its places would not fit 32 bits.
    fn finish_text(text: String) -> Result<String, String> {
        if text.len() > MAX_TEXT {
            return Err(format!("the call's strings total {} bytes, over the contract's {} byte limit", text.len(), MAX_TEXT));
        }
        Ok(text)
    }

    fn location(&mut self, l: &model::Location) -> wit::Location {
        wit::Location { file: self.text(&l.file), symbol: self.text(&l.symbol), line_start: l.line_start, line_end: l.line_end }
    }

    fn terms<'a>(&mut self, field: Field, values: impl IntoIterator<Item = &'a String>) {
        for v in values {
            let value = self.text(v);
            self.terms.fields.push(field as u8);
            self.terms.values.push(value);
        }
    }

    /// A node's semantic terms; their rows.
    fn semantics(&mut self, s: &model::Semantics) -> wit::Rows {
        let start = self.terms.values.len();
        self.terms(Field::Table, &s.tables);
        self.terms(Field::Path, &s.paths);
        self.terms(Field::Format, &s.format);
        self.terms(Field::Column, &s.columns);
        self.terms(Field::OutputColumn, &s.output_columns);
        self.terms(Field::LeftKey, &s.left_keys);
        self.terms(Field::RightKey, &s.right_keys);
        self.terms(Field::JoinType, &s.join_type);
        self.terms(Field::BuildSide, &s.build_side);
        self.terms(Field::GroupingKey, &s.grouping_keys);
        self.terms(Field::AggregateFunction, &s.aggregate_functions);
        self.terms(Field::Predicate, &s.predicates);
        self.terms(Field::Literal, &s.literals);
        for k in &s.sort_keys {
            let value = self.text(&k.expr);
            self.terms.fields.push(if k.ascending { Field::SortAscending } else { Field::SortDescending } as u8);
            self.terms.values.push(value);
        }
        self.terms(Field::WindowPartition, &s.window_partition);
        self.terms(Field::WindowFunction, &s.window_functions);
        self.terms(Field::Udf, &s.udfs);
        self.terms(Field::Alias, &s.aliases);
        self.terms(Field::Function, &s.functions);
        self.terms(Field::WriteTarget, &s.write_target);
        rows_since(start, self.terms.values.len())
    }

    /// One input: its plan node, whole or in brief, its candidate rows and visit.
    pub fn input(&mut self, n: &PlanNode, detail: NodeDetail, candidates: wit::Rows, visit: u32) {
        let row = self.inputs.ids.len() as u32;
        let (id, operator) = (self.text(&n.id), self.text(&n.operator));
        let i = &mut self.inputs;
        i.ids.push(id);
        i.operators.push(operator);
        i.families.push(n.family as u8);
        i.candidates.push(candidates);
        i.visits.push(visit);
        if let Some(x) = &n.induced {
            let (node_id, reason) = (self.text(&x.node_id), self.text(&x.reason));
            self.inputs.induced.push(wit::InducedBy { input: row, node_id, reason });
        }
        if detail == NodeDetail::Brief {
            let i = &mut self.inputs;
            let none = rows(0, 0);
            i.terms.push(none);
            i.truncated.push(0);
            i.neighbours.push(none);
            i.plan_files.push(none);
            i.fragments.push(none);
            return;
        }
        let terms = self.semantics(&n.semantics);
        let start = self.neighbours.ids.len();
        for x in &n.neighbours {
            let (id, operator) = (self.text(&x.id), self.text(&x.operator));
            let nb = &mut self.neighbours;
            let at = nb.ids.len() as u32;
            nb.ids.push(id);
            nb.operators.push(operator);
            nb.families.push(x.family as u8);
            nb.relations.push(x.relation as u8);
            if let Some(l) = &x.mapped {
                let location = self.location(l);
                self.neighbours.mapped.push(wit::MappedNeighbour { neighbour: at, location, site: x.mapped_site });
            }
        }
        let neighbours = rows_since(start, self.neighbours.ids.len());
        let start = self.plan_files.files.len();
        for f in &n.plan_files {
            let file = self.text(&f.file);
            self.plan_files.files.push(file);
            self.plan_files.shares.push(f.share);
        }
        let plan_files = rows_since(start, self.plan_files.files.len());
        let fragment = self.text(&n.fragment);
        let i = &mut self.inputs;
        i.terms.push(terms);
        i.truncated.push(n.semantics.truncated as u8);
        i.neighbours.push(neighbours);
        i.plan_files.push(plan_files);
        i.fragments.push(fragment);
        if let Some(count) = n.semantics.limit {
            i.limits.push(wit::Limit { input: row, count });
        }
    }

    /// A code site, its terms appended to the site terms.
    pub fn site(&mut self, s: &CodeSite) {
        let start = self.site_terms.values.len();
        for (field, values) in [(SiteField::Column, &s.columns), (SiteField::Table, &s.tables), (SiteField::Literal, &s.literals), (SiteField::Function, &s.functions)] {
            for v in values {
                let value = self.text(v);
                self.site_terms.fields.push(field as u8);
                self.site_terms.values.push(value);
            }
        }
        let terms = rows_since(start, self.site_terms.values.len());
        let (file, symbol, kind) = (self.text(&s.location.file), self.text(&s.location.symbol), self.text(&s.kind));
        let t = &mut self.sites;
        t.ids.push(s.id);
        t.files.push(file);
        t.symbols.push(symbol);
        t.line_starts.push(s.location.line_start);
        t.line_ends.push(s.location.line_end);
        t.statement_starts.push(s.statement_start);
        t.statement_ends.push(s.statement_end);
        t.kinds.push(kind);
        t.terms.push(terms);
    }
}

/// A batch and its inputs in the contract's form. The batch's candidate columns (the
/// bulk of a step's numbers) move into the packed batch rather than being copied;
/// `restore` gives them back after the call.
pub fn batch(batch: &mut model::Batch, inputs: &[model::StepInput], detail: NodeDetail) -> Result<wit::Batch, String> {
    let mut p = Packer::reused();
    for s in &batch.sites {
        p.site(s);
    }
    for i in inputs {
        p.input(&i.node, detail, i.candidates, i.visit);
    }
    let Packer { text, inputs, terms, neighbours, plan_files, sites, site_terms } = p;
    let text = Packer::finish_text(text)?;
    let candidates = std::mem::replace(&mut batch.candidates, model::no_candidates());
    Ok(wit::Batch {
        config: batch.config.clone(),
        analysis_id: batch.analysis_id.clone(),
        graph_node: batch.graph_node.clone(),
        max_visits: batch.max_visits,
        text,
        inputs,
        terms,
        neighbours,
        plan_files,
        candidates,
        feature_names: batch.feature_names.clone(),
        sites,
        site_terms,
    })
}

/// Give the batch back the candidate columns `batch` moved out of it (and keep the
/// rest of the call's columns for the next one).
pub fn restore(batch: &mut model::Batch, mut packed: wit::Batch) {
    batch.candidates = std::mem::replace(&mut packed.candidates, model::no_candidates());
    Packer::keep(packed);
}

/// Sites with their own text and terms (what `code-search.sites` returns).
pub fn site_table(sites: &[CodeSite]) -> Result<wit::SiteTable, String> {
    let mut p = Packer::default();
    for s in sites {
        p.site(s);
    }
    Ok(wit::SiteTable { text: Packer::finish_text(p.text)?, sites: p.sites, terms: p.site_terms })
}

/// A plugin's answer about one input was not what the contract allows.
fn invalid(message: String) -> PluginError {
    PluginError { code: ErrorCode::InvalidInput, message }
}

/// The rows of a result's columns an input's result names, when the columns (of
/// `len` rows) hold them.
fn rows_in(r: wit::Rows, len: usize, what: &str) -> Result<Range<usize>, PluginError> {
    let (start, n) = unpack(r);
    let end = start + n;
    if end > len {
        return Err(invalid(format!("the result names rows {start}..{end} of {what}, which has {len}")));
    }
    Ok(start..end)
}

/// The string at a place of a result's text.
fn text_at(text: &str, place: wit::Place, what: &str) -> Result<String, PluginError> {
    let (start, len) = unpack(place);
    text.get(start..start + len).map(str::to_string).ok_or_else(|| invalid(format!("{what} names bytes {start}..{} of a {}-byte text (or splits a character)", start + len, text.len())))
}

/// Each input's result from its rows, `one` making the output of a run of rows.
fn per_input(results: Vec<Result<wit::Rows, PluginError>>, len: usize, what: &str, mut one: impl FnMut(Range<usize>) -> Result<StepOutput, PluginError>) -> Vec<Result<StepOutput, PluginError>> {
    results.into_iter().map(|r| r.and_then(|rows| one(rows_in(rows, len, what)?))).collect()
}

/// A retriever's proposals, per input.
pub fn proposals(p: wit::Proposals) -> Vec<Result<StepOutput, PluginError>> {
    let len = p.site_ids.len().min(p.retrieval_scores.len());
    per_input(p.results, len, "the proposals (site ids and retrieval scores)", |r| {
        Ok(StepOutput::Proposals(r.map(|i| model::Proposal { site_id: p.site_ids[i], retrieval_score: p.retrieval_scores[i] }).collect()))
    })
}

/// A matcher's findings, per input, the batch's feature names shared.
pub fn assessments(a: wit::Assessments) -> Vec<Result<StepOutput, PluginError>> {
    let names: Arc<[String]> = a.feature_names.into();
    let width = names.len();
    // A row counts when both matrices hold it.
    let rows_of = |m: &[f64]| m.len().checked_div(width).unwrap_or(usize::MAX);
    let len = a.site_ids.len().min(rows_of(&a.features)).min(rows_of(&a.weights));
    per_input(a.results, len, "the assessments (site ids and both matrices)", |r| {
        let cells = r.start * width..r.end * width;
        Ok(StepOutput::Assessments(model::Assessments { feature_names: names.clone(), site_ids: a.site_ids[r].to_vec(), features: a.features[cells.clone()].to_vec(), weights: a.weights[cells].to_vec() }))
    })
}

/// A scorer's rankings, per input, best first.
pub fn rankings(k: wit::Rankings) -> Vec<Result<StepOutput, PluginError>> {
    let len = k.site_ids.len().min(k.confidences.len());
    let (text, explanations) = (k.text, k.explanations);
    per_input(k.results, len, "the rankings (site ids and confidences)", |r| {
        r.map(|i| {
            let explanation = match explanations.get(i) {
                Some(&t) => text_at(&text, t, "a ranking's explanation")?,
                None => String::new(),
            };
            Ok(model::Ranking { site_id: k.site_ids[i], confidence: k.confidences[i], explanation })
        })
        .collect::<Result<_, _>>()
        .map(StepOutput::Rankings)
    })
}

/// A matcher's evidence in words, per input. A signal is one of a few feature names,
/// so each place of one becomes a shared string once.
pub fn explained(e: wit::Explained) -> Vec<Result<StepOutput, PluginError>> {
    let (text, evidence, explanations) = (e.text, e.evidence, e.explanations);
    let mut signals: Vec<(wit::Place, Arc<str>)> = Vec::new();
    let mut signal = |place: wit::Place| -> Result<Arc<str>, PluginError> {
        if let Some((_, s)) = signals.iter().find(|(p, _)| *p == place) {
            return Ok(s.clone());
        }
        let s: Arc<str> = text_at(&text, place, "an explanation")?.into();
        signals.push((place, s.clone()));
        Ok(s)
    };
    per_input(e.results, explanations.len(), "the explanations", |r| {
        explanations[r]
            .iter()
            .map(|x| {
                let evidence = evidence[rows_in(x.evidence, evidence.len(), "the evidence")?]
                    .iter()
                    .map(|ev| Ok(model::Evidence { signal: signal(ev.signal)?, weight: ev.weight, detail: text_at(&text, ev.detail, "an explanation")? }))
                    .collect::<Result<_, _>>()?;
                Ok(model::Explanation { site_id: x.site_id, evidence })
            })
            .collect::<Result<_, _>>()
            .map(StepOutput::Explanations)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(text: &str, place: u64) -> &str {
        let (start, len) = unpack(place);
        &text[start..start + len]
    }

    fn at(start: usize, len: usize) -> u64 {
        rows(start, len)
    }

    #[test]
    fn inputs_cross_in_columns_with_strings_as_places_and_lists_as_rows() {
        let mut n = PlanNode::named("7", "SortMergeJoin", wit::Family::Join);
        n.semantics.left_keys = vec!["customer_id".into()];
        n.semantics.sort_keys = vec![model::SortKey { expr: "amount".into(), ascending: false }];
        let mapped = model::Location { file: "etl/a.py".into(), symbol: "f".into(), line_start: 3, line_end: 4 };
        n.neighbours = vec![
            model::Neighbour { id: "3".into(), operator: "Exchange".into(), family: wit::Family::Exchange, relation: wit::Relation::Child, mapped: None, mapped_site: None },
            model::Neighbour { id: "9".into(), operator: "Project".into(), family: wit::Family::Project, relation: wit::Relation::Parent, mapped: Some(mapped), mapped_site: Some(12) },
        ];
        let mut m = PlanNode::named("8", "GlobalLimit", wit::Family::Limit);
        m.semantics.columns = vec!["amount".into(), "day".into()];
        m.semantics.limit = Some(10);
        m.induced = Some(model::InducedBy { node_id: "7".into(), reason: "because".into() });
        let mut b = model::Batch::new(String::new(), "a".into(), "g".into(), 2);
        b.feature_names = vec!["kind".into()];
        b.push_candidate(4, 1.0, 0.0)[0] = 0.5;
        let first = b.candidates_since(0);
        b.push_candidate(5, 2.0, 0.1);
        b.push_candidate(6, 3.0, 0.2)[0] = 0.7;
        let second = b.candidates_since(1);
        assert_eq!((unpack(first), unpack(second)), ((0, 1), (1, 2)));
        assert_eq!(b.candidates.features.len(), 3, "a row has one value per feature name, NaN where none was given");
        assert!(b.candidates.features[1].is_nan() && b.candidates.features[2] == 0.7);
        let inputs = [model::StepInput { node: n, candidates: first, visit: 1 }, model::StepInput { node: m, candidates: second, visit: 2 }];
        let packed = batch(&mut b, &inputs, NodeDetail::Full).unwrap();
        assert_eq!(packed.candidates.site_ids, vec![4, 5, 6], "the candidate columns move into the call");
        assert!(b.candidates.site_ids.is_empty());
        let (i, t) = (&packed.inputs, packed.text.as_str());
        let t_len = t.len();
        assert_eq!((get(t, i.ids[0]), get(t, i.operators[1]), i.families[1]), ("7", "GlobalLimit", wit::Family::Limit as u8));
        let terms = |r: u64| -> Vec<(u8, &str)> {
            let (start, len) = unpack(r);
            (start..start + len).map(|k| (packed.terms.fields[k], get(t, packed.terms.values[k]))).collect()
        };
        assert_eq!(terms(i.terms[0]), vec![(Field::LeftKey as u8, "customer_id"), (Field::SortDescending as u8, "amount")]);
        assert_eq!(terms(i.terms[1]), vec![(Field::Column as u8, "amount"), (Field::Column as u8, "day")]);
        assert_eq!((unpack(i.neighbours[0]), unpack(i.neighbours[1])), ((0, 2), (2, 0)));
        assert_eq!(packed.neighbours.relations, vec![wit::Relation::Child as u8, wit::Relation::Parent as u8]);
        let only = &packed.neighbours.mapped;
        assert_eq!((only.len(), only[0].neighbour, get(t, only[0].location.file), only[0].site), (1, 1, "etl/a.py", Some(12)), "only mapped neighbours have a location");
        assert_eq!((unpack(i.candidates[0]), unpack(i.candidates[1]), i.visits.as_slice()), ((0, 1), (1, 2), &[1, 2][..]));
        assert_eq!((i.limits.len(), i.limits[0].input, i.limits[0].count), (1, 1, 10));
        assert_eq!((i.induced.len(), i.induced[0].input, get(t, i.induced[0].reason)), (1, 1, "because"));
        restore(&mut b, packed);
        assert_eq!(b.candidates.site_ids, vec![4, 5, 6], "and come back after it");
        let again = batch(&mut b, &inputs, NodeDetail::Full).unwrap();
        assert_eq!((again.inputs.ids.len(), again.terms.values.len(), again.neighbours.ids.len(), again.text.len()), (2, 4, 2, t_len), "a call reusing the last one's columns starts empty");
        restore(&mut b, again);
        let brief = batch(&mut b, &inputs, NodeDetail::Brief).unwrap();
        assert!(brief.terms.values.is_empty() && brief.neighbours.ids.is_empty() && unpack(brief.inputs.terms[0]) == (0, 0));
        assert_eq!((brief.inputs.ids.len(), brief.inputs.induced.len()), (2, 1), "a brief node keeps its id, operator and cause");
    }

    #[test]
    fn sites_cross_in_columns_and_their_terms_are_rows_of_the_tables_terms() {
        let site = |id, columns: &[&str]| CodeSite {
            id,
            location: model::Location { file: "a.py".into(), symbol: "f".into(), line_start: id, line_end: id + 1 },
            statement_start: 1,
            statement_end: 2,
            kind: "join".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            tables: vec!["orders".into()],
            literals: vec![],
            functions: vec![],
        };
        let t = site_table(&[site(1, &["a"]), site(2, &["b", "c"])]).unwrap();
        assert_eq!((t.sites.ids.as_slice(), t.sites.line_starts.as_slice(), get(&t.text, t.sites.kinds[1])), (&[1, 2][..], &[1, 2][..], "join"));
        assert_eq!((unpack(t.sites.terms[0]), unpack(t.sites.terms[1])), ((0, 2), (2, 3)));
        let second: Vec<(u8, &str)> = (2..5).map(|k| (t.terms.fields[k], get(&t.text, t.terms.values[k]))).collect();
        assert_eq!(second, vec![(SiteField::Column as u8, "b"), (SiteField::Column as u8, "c"), (SiteField::Table as u8, "orders")]);
    }

    #[test]
    fn results_split_by_rows_and_a_bad_row_or_place_fails_its_input_only() {
        let p = wit::Proposals { site_ids: vec![1, 2, 3], retrieval_scores: vec![0.1, 0.2, 0.3], results: vec![Ok(rows(0, 2)), Ok(rows(2, 1)), Ok(rows(2, 2)), Err(invalid("own".into()))] };
        let out = proposals(p);
        match &out[1] {
            Ok(StepOutput::Proposals(v)) => assert_eq!(v, &vec![model::Proposal { site_id: 3, retrieval_score: 0.3 }]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[0], Ok(StepOutput::Proposals(v)) if v.len() == 2));
        assert!(out[2].as_ref().unwrap_err().message.contains("rows 2..4 of the proposals"), "{:?}", out[2]);
        assert_eq!(out[3].as_ref().unwrap_err().message, "own");

        let a = wit::Assessments { feature_names: vec!["kind".into(), "keys".into()], site_ids: vec![7, 8], features: vec![1.0, 0.5, 0.0, f64::NAN], weights: vec![0.5, 0.0, -0.5, f64::NAN], results: vec![Ok(rows(1, 1)), Ok(rows(0, 3))] };
        let out = assessments(a);
        match &out[0] {
            Ok(StepOutput::Assessments(x)) => {
                assert_eq!((x.feature_names.len(), x.site_ids.as_slice(), x.features[0], x.weights[0]), (2, &[8][..], 0.0, -0.5));
            }
            other => panic!("{other:?}"),
        }
        assert!(out[1].is_err());

        let k = wit::Rankings { site_ids: vec![4, 5], confidences: vec![0.9, 0.1], explanations: vec![at(0, 4), at(4, 9)], text: "goodbad".into(), results: vec![Ok(rows(0, 1)), Ok(rows(1, 1))] };
        let out = rankings(k);
        assert!(matches!(&out[0], Ok(StepOutput::Rankings(v)) if v[0].explanation == "good" && v[0].confidence == 0.9));
        assert!(out[1].as_ref().unwrap_err().message.contains("bytes 4..13 of a 7-byte text"), "{:?}", out[1]);
    }

    #[test]
    fn explanations_come_back_as_places_and_a_bad_place_fails_its_input_only() {
        let evidence = vec![wit::Evidence { signal: at(0, 4), weight: 0.5, detail: at(4, 5) }, wit::Evidence { signal: at(0, 4), weight: 0.5, detail: at(7, 9) }];
        let explanations = vec![wit::Explanation { site_id: 3, evidence: rows(0, 1) }, wit::Explanation { site_id: 3, evidence: rows(1, 1) }, wit::Explanation { site_id: 4, evidence: rows(1, 5) }];
        let e = wit::Explained { text: "keysmatch".into(), evidence, explanations, results: vec![Ok(rows(0, 1)), Ok(rows(1, 1)), Ok(rows(2, 1))] };
        let out = explained(e);
        match &out[0] {
            Ok(StepOutput::Explanations(good)) => assert_eq!((&*good[0].evidence[0].signal, good[0].evidence[0].detail.as_str()), ("keys", "match")),
            other => panic!("{other:?}"),
        }
        assert!(out[1].as_ref().unwrap_err().message.contains("bytes 7..16 of a 9-byte text"), "{:?}", out[1]);
        assert!(out[2].as_ref().unwrap_err().message.contains("rows 1..6 of the evidence"), "{:?}", out[2]);
    }
}
