//! Packing a call for the sandbox and unpacking what comes back. Every string of a
//! batch and its inputs is appended to one text and crosses as a place in it; the
//! lists of all inputs (semantic terms, neighbours, plan files, site terms) cross as one
//! list each that inputs index by rows; candidates cross as columns of numbers. A
//! string or list of its own costs a guest allocation and a host-to-guest call each, and
//! a record one host store per field; a plan node has dozens of strings and a batch
//! thousands of candidates. Results come back in columns too and are split per input
//! here, a row or place outside them failing that input alone.

use crate::invoke::StepOutput;
use crate::model::{self, CodeSite, PlanNode};
use crate::wit::{self, ErrorCode, Field, PluginError, Rows, SiteField};
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

/// A call's text and batch-wide lists being built, and the places of what is in them.
#[derive(Default)]
pub struct Packer {
    text: String,
    terms: Vec<wit::Term>,
    neighbours: Vec<wit::Neighbour>,
    plan_files: Vec<wit::PlanFile>,
    site_terms: Vec<wit::SiteTerm>,
}

/// The rows from `start` to the end of a list of `end` rows.
fn rows_since(start: usize, end: usize) -> Rows {
    Rows { start: start as u32, len: (end - start) as u32 }
}

impl Packer {
    /// Append a string; its place in the text.
    pub fn text(&mut self, s: &str) -> wit::Text {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        wit::Text { start, len: s.len() as u32 }
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
            self.terms.push(wit::Term { field, value });
        }
    }

    fn semantics(&mut self, s: &model::Semantics) -> wit::Semantics {
        let start = self.terms.len();
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
            self.terms.push(wit::Term { field: if k.ascending { Field::SortAscending } else { Field::SortDescending }, value });
        }
        self.terms(Field::WindowPartition, &s.window_partition);
        self.terms(Field::WindowFunction, &s.window_functions);
        self.terms(Field::Udf, &s.udfs);
        self.terms(Field::Alias, &s.aliases);
        self.terms(Field::Function, &s.functions);
        self.terms(Field::WriteTarget, &s.write_target);
        wit::Semantics { terms: rows_since(start, self.terms.len()), limit: s.limit, truncated: s.truncated }
    }

    /// A plan node, whole or in brief.
    pub fn node(&mut self, n: &PlanNode, detail: NodeDetail) -> wit::PlanNode {
        let id = self.text(&n.id);
        let operator = self.text(&n.operator);
        let induced = n.induced.as_ref().map(|i| wit::InducedBy { node_id: self.text(&i.node_id), reason: self.text(&i.reason) });
        if detail == NodeDetail::Brief {
            let none = Rows { start: 0, len: 0 };
            let semantics = wit::Semantics { terms: none, limit: None, truncated: false };
            return wit::PlanNode { id, operator, family: n.family, induced, semantics, neighbours: none, plan_files: none, fragment: wit::Text { start: 0, len: 0 } };
        }
        let semantics = self.semantics(&n.semantics);
        let start = self.neighbours.len();
        for x in &n.neighbours {
            let neighbour = wit::Neighbour {
                id: self.text(&x.id),
                operator: self.text(&x.operator),
                family: x.family,
                relation: x.relation,
                mapped: x.mapped.as_ref().map(|l| self.location(l)),
                mapped_site: x.mapped_site,
            };
            self.neighbours.push(neighbour);
        }
        let neighbours = rows_since(start, self.neighbours.len());
        let start = self.plan_files.len();
        for f in &n.plan_files {
            let file = self.text(&f.file);
            self.plan_files.push(wit::PlanFile { file, share: f.share });
        }
        let plan_files = rows_since(start, self.plan_files.len());
        let fragment = self.text(&n.fragment);
        wit::PlanNode { id, operator, family: n.family, induced, semantics, neighbours, plan_files, fragment }
    }

    /// A code site, its terms appended to the site terms.
    pub fn site(&mut self, s: &CodeSite) -> wit::CodeSite {
        let start = self.site_terms.len();
        for (field, values) in [(SiteField::Column, &s.columns), (SiteField::Table, &s.tables), (SiteField::Literal, &s.literals), (SiteField::Function, &s.functions)] {
            for v in values {
                let value = self.text(v);
                self.site_terms.push(wit::SiteTerm { field, value });
            }
        }
        let terms = rows_since(start, self.site_terms.len());
        wit::CodeSite { id: s.id, location: self.location(&s.location), statement_start: s.statement_start, statement_end: s.statement_end, kind: self.text(&s.kind), terms }
    }
}

/// A batch and its inputs in the contract's form. The batch's candidate columns (the
/// bulk of a step's numbers) move into the packed batch rather than being copied;
/// `restore` gives them back after the call.
pub fn batch(batch: &mut model::Batch, inputs: &[model::StepInput], detail: NodeDetail) -> Result<(wit::Batch, Vec<wit::StepInput>), String> {
    let mut p = Packer::default();
    let sites = batch.sites.iter().map(|s| p.site(s)).collect();
    let packed: Vec<wit::StepInput> = inputs.iter().map(|i| wit::StepInput { node: p.node(&i.node, detail), candidates: i.candidates, visit: i.visit }).collect();
    let Packer { text, terms, neighbours, plan_files, site_terms } = p;
    let text = Packer::finish_text(text)?;
    let candidates = std::mem::replace(&mut batch.candidates, model::no_candidates());
    let shared = wit::Batch {
        config: batch.config.clone(),
        analysis_id: batch.analysis_id.clone(),
        graph_node: batch.graph_node.clone(),
        max_visits: batch.max_visits,
        text,
        feature_names: batch.feature_names.clone(),
        sites,
        site_terms,
        terms,
        neighbours,
        plan_files,
        candidates,
    };
    Ok((shared, packed))
}

/// Give the batch back the candidate columns `batch` moved out of it.
pub fn restore(batch: &mut model::Batch, packed: wit::Batch) {
    batch.candidates = packed.candidates;
}

/// Sites with their own text and terms (what `code-search.sites` returns).
pub fn site_table(sites: &[CodeSite]) -> Result<wit::SiteTable, String> {
    let mut p = Packer::default();
    let sites = sites.iter().map(|s| p.site(s)).collect();
    Ok(wit::SiteTable { text: Packer::finish_text(p.text)?, sites, terms: p.site_terms })
}

/// A plugin's answer about one input was not what the contract allows.
fn invalid(message: String) -> PluginError {
    PluginError { code: ErrorCode::InvalidInput, message }
}

/// The rows of a result's columns an input's result names, when the columns (of
/// `len` rows) hold them.
fn rows_in(r: &Rows, len: usize, what: &str) -> Result<Range<usize>, PluginError> {
    let (start, end) = (r.start as usize, r.start as usize + r.len as usize);
    if end > len {
        return Err(invalid(format!("the result names rows {start}..{end} of {what}, which has {len}")));
    }
    Ok(start..end)
}

/// The string at a place of a result's text.
fn text_at(text: &str, t: &wit::Text, what: &str) -> Result<String, PluginError> {
    let (start, len) = (t.start as usize, t.len as usize);
    text.get(start..start.saturating_add(len))
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("{what} names bytes {start}..{} of a {}-byte text (or splits a character)", start.saturating_add(len), text.len())))
}

/// Each input's result from its rows, `one` making the output of a run of rows.
fn per_input(results: Vec<Result<Rows, PluginError>>, len: usize, what: &str, mut one: impl FnMut(Range<usize>) -> Result<StepOutput, PluginError>) -> Vec<Result<StepOutput, PluginError>> {
    results.into_iter().map(|r| r.and_then(|rows| one(rows_in(&rows, len, what)?))).collect()
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
                Some(t) => text_at(&text, t, "a ranking's explanation")?,
                None => String::new(),
            };
            Ok(model::Ranking { site_id: k.site_ids[i], confidence: k.confidences[i], explanation })
        })
        .collect::<Result<_, _>>()
        .map(StepOutput::Rankings)
    })
}

/// A matcher's evidence in words, per input.
pub fn explained(e: wit::Explained) -> Vec<Result<StepOutput, PluginError>> {
    let (text, evidence, explanations) = (e.text, e.evidence, e.explanations);
    per_input(e.results, explanations.len(), "the explanations", |r| {
        explanations[r]
            .iter()
            .map(|x| {
                let evidence = evidence[rows_in(&x.evidence, evidence.len(), "the evidence")?]
                    .iter()
                    .map(|ev| Ok(model::Evidence { signal: text_at(&text, &ev.signal, "an explanation")?, weight: ev.weight, detail: text_at(&text, &ev.detail, "an explanation")? }))
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

    fn get<'a>(text: &'a str, t: &wit::Text) -> &'a str {
        &text[t.start as usize..(t.start + t.len) as usize]
    }

    fn rows(start: u32, len: u32) -> Rows {
        Rows { start, len }
    }

    /// A run as a comparable pair (the generated record has no `PartialEq`).
    fn run(r: Rows) -> (u32, u32) {
        (r.start, r.len)
    }

    fn at(start: u32, len: u32) -> wit::Text {
        wit::Text { start, len }
    }

    #[test]
    fn strings_are_places_in_one_text_and_lists_are_rows_of_batch_wide_lists() {
        let mut n = PlanNode::named("7", "SortMergeJoin", wit::Family::Join);
        n.semantics.left_keys = vec!["customer_id".into()];
        n.semantics.sort_keys = vec![model::SortKey { expr: "amount".into(), ascending: false }];
        n.neighbours = vec![model::Neighbour { id: "3".into(), operator: "Exchange".into(), family: wit::Family::Exchange, relation: wit::Relation::Child, mapped: None, mapped_site: None }];
        let mut m = PlanNode::named("8", "Filter", wit::Family::Filter);
        m.semantics.columns = vec!["amount".into(), "day".into()];
        let mut b = model::Batch { config: String::new(), analysis_id: "a".into(), graph_node: "g".into(), max_visits: 2, feature_names: vec!["kind".into()], sites: vec![], candidates: model::no_candidates() };
        b.push_candidate(4, 1.0, 0.0)[0] = 0.5;
        let first = b.candidates_since(0);
        b.push_candidate(5, 2.0, 0.1);
        b.push_candidate(6, 3.0, 0.2)[0] = 0.7;
        let second = b.candidates_since(1);
        assert_eq!((run(first), run(second)), ((0, 1), (1, 2)));
        assert_eq!(b.candidates.features.len(), 3, "a row has one value per feature name, NaN where none was given");
        assert!(b.candidates.features[1].is_nan() && b.candidates.features[2] == 0.7);
        let inputs = [model::StepInput { node: n, candidates: first, visit: 1 }, model::StepInput { node: m, candidates: second, visit: 2 }];
        let (packed, nodes) = batch(&mut b, &inputs, NodeDetail::Full).unwrap();
        assert_eq!(packed.candidates.site_ids, vec![4, 5, 6], "the candidate columns move into the call");
        assert!(b.candidates.site_ids.is_empty());
        let node = &nodes[0].node;
        assert_eq!(get(&packed.text, &node.id), "7");
        assert_eq!(get(&packed.text, &node.operator), "SortMergeJoin");
        let terms = |r: Rows| -> Vec<(Field, &str)> { packed.terms[r.start as usize..(r.start + r.len) as usize].iter().map(|t| (t.field, get(&packed.text, &t.value))).collect() };
        assert_eq!(terms(node.semantics.terms), vec![(Field::LeftKey, "customer_id"), (Field::SortDescending, "amount")]);
        assert_eq!(terms(nodes[1].node.semantics.terms), vec![(Field::Column, "amount"), (Field::Column, "day")]);
        assert_eq!((run(node.neighbours), run(nodes[1].node.neighbours)), ((0, 1), (1, 0)));
        assert_eq!(packed.neighbours[0].relation, wit::Relation::Child);
        assert_eq!((run(nodes[0].candidates), run(nodes[1].candidates), nodes[1].visit), ((0, 1), (1, 2), 2));
        restore(&mut b, packed);
        assert_eq!(b.candidates.site_ids, vec![4, 5, 6], "and come back after it");
        let (brief, nodes) = batch(&mut b, &inputs, NodeDetail::Brief).unwrap();
        assert!(brief.terms.is_empty() && brief.neighbours.is_empty() && nodes[0].node.semantics.terms.len == 0);
    }

    #[test]
    fn site_terms_are_rows_of_the_tables_terms() {
        let site = |id, columns: &[&str]| CodeSite {
            id,
            location: model::Location { file: "a.py".into(), symbol: "f".into(), line_start: 1, line_end: 2 },
            statement_start: 1,
            statement_end: 2,
            kind: "join".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            tables: vec!["orders".into()],
            literals: vec![],
            functions: vec![],
        };
        let t = site_table(&[site(1, &["a"]), site(2, &["b", "c"])]).unwrap();
        assert_eq!((run(t.sites[0].terms), run(t.sites[1].terms)), ((0, 2), (2, 3)));
        let second: Vec<(SiteField, &str)> = t.terms[2..5].iter().map(|x| (x.field, get(&t.text, &x.value))).collect();
        assert_eq!(second, vec![(SiteField::Column, "b"), (SiteField::Column, "c"), (SiteField::Table, "orders")]);
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
            Ok(StepOutput::Explanations(good)) => assert_eq!((good[0].evidence[0].signal.as_str(), good[0].evidence[0].detail.as_str()), ("keys", "match")),
            other => panic!("{other:?}"),
        }
        assert!(out[1].as_ref().unwrap_err().message.contains("bytes 7..16 of a 9-byte text"), "{:?}", out[1]);
        assert!(out[2].as_ref().unwrap_err().message.contains("rows 1..6 of the evidence"), "{:?}", out[2]);
    }
}
