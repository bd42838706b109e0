//! Packing a call for the sandbox: every string of a batch and its inputs is appended
//! to one text and crosses as a place in it, and a node's semantics become one list of
//! terms. A string or list of its own costs a guest allocation and a host-to-guest call
//! each; a plan node has dozens.

use crate::model::{self, CodeSite, PlanNode};
use crate::wit::{self, Field, SiteField};

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

/// A text being built and the places of the strings in it.
#[derive(Default)]
pub struct Packer {
    text: String,
}

impl Packer {
    /// Append a string; its place in the text.
    pub fn text(&mut self, s: &str) -> wit::Text {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        wit::Text { start, len: s.len() as u32 }
    }

    /// The text, or an error when its places would not fit 32 bits.
    pub fn finish(self) -> Result<String, String> {
        if self.text.len() > MAX_TEXT {
            return Err(format!("the call's strings total {} bytes, over the contract's {} byte limit", self.text.len(), MAX_TEXT));
        }
        Ok(self.text)
    }

    fn location(&mut self, l: &model::Location) -> wit::Location {
        wit::Location { file: self.text(&l.file), symbol: self.text(&l.symbol), line_start: l.line_start, line_end: l.line_end }
    }

    fn terms<'a>(&mut self, out: &mut Vec<wit::Term>, field: Field, values: impl IntoIterator<Item = &'a String>) {
        for v in values {
            let value = self.text(v);
            out.push(wit::Term { field, value });
        }
    }

    fn semantics(&mut self, s: &model::Semantics) -> wit::Semantics {
        let mut t = Vec::new();
        self.terms(&mut t, Field::Table, &s.tables);
        self.terms(&mut t, Field::Path, &s.paths);
        self.terms(&mut t, Field::Format, &s.format);
        self.terms(&mut t, Field::Column, &s.columns);
        self.terms(&mut t, Field::OutputColumn, &s.output_columns);
        self.terms(&mut t, Field::LeftKey, &s.left_keys);
        self.terms(&mut t, Field::RightKey, &s.right_keys);
        self.terms(&mut t, Field::JoinType, &s.join_type);
        self.terms(&mut t, Field::BuildSide, &s.build_side);
        self.terms(&mut t, Field::GroupingKey, &s.grouping_keys);
        self.terms(&mut t, Field::AggregateFunction, &s.aggregate_functions);
        self.terms(&mut t, Field::Predicate, &s.predicates);
        self.terms(&mut t, Field::Literal, &s.literals);
        for k in &s.sort_keys {
            let value = self.text(&k.expr);
            t.push(wit::Term { field: if k.ascending { Field::SortAscending } else { Field::SortDescending }, value });
        }
        self.terms(&mut t, Field::WindowPartition, &s.window_partition);
        self.terms(&mut t, Field::WindowFunction, &s.window_functions);
        self.terms(&mut t, Field::Udf, &s.udfs);
        self.terms(&mut t, Field::Alias, &s.aliases);
        self.terms(&mut t, Field::Function, &s.functions);
        self.terms(&mut t, Field::WriteTarget, &s.write_target);
        wit::Semantics { terms: t, limit: s.limit, truncated: s.truncated }
    }

    /// A plan node, whole or in brief.
    pub fn node(&mut self, n: &PlanNode, detail: NodeDetail) -> wit::PlanNode {
        let id = self.text(&n.id);
        let operator = self.text(&n.operator);
        let induced = n.induced.as_ref().map(|i| wit::InducedBy { node_id: self.text(&i.node_id), reason: self.text(&i.reason) });
        if detail == NodeDetail::Brief {
            let none = wit::Text { start: 0, len: 0 };
            return wit::PlanNode { id, operator, family: n.family, induced, semantics: wit::Semantics { terms: vec![], limit: None, truncated: false }, neighbours: vec![], plan_files: vec![], fragment: none };
        }
        let semantics = self.semantics(&n.semantics);
        let neighbours = n
            .neighbours
            .iter()
            .map(|x| wit::Neighbour {
                id: self.text(&x.id),
                operator: self.text(&x.operator),
                family: x.family,
                relation: x.relation,
                mapped: x.mapped.as_ref().map(|l| self.location(l)),
                mapped_site: x.mapped_site,
            })
            .collect();
        let plan_files = n.plan_files.iter().map(|f| wit::PlanFile { file: self.text(&f.file), share: f.share }).collect();
        let fragment = self.text(&n.fragment);
        wit::PlanNode { id, operator, family: n.family, induced, semantics, neighbours, plan_files, fragment }
    }

    /// A code site.
    pub fn site(&mut self, s: &CodeSite) -> wit::CodeSite {
        let mut terms = Vec::with_capacity(s.columns.len() + s.tables.len() + s.literals.len() + s.functions.len());
        for (field, values) in [(SiteField::Column, &s.columns), (SiteField::Table, &s.tables), (SiteField::Literal, &s.literals), (SiteField::Function, &s.functions)] {
            for v in values {
                let value = self.text(v);
                terms.push(wit::SiteTerm { field, value });
            }
        }
        wit::CodeSite { id: s.id, location: self.location(&s.location), statement_start: s.statement_start, statement_end: s.statement_end, kind: self.text(&s.kind), terms }
    }
}

/// A batch and its inputs in the contract's form. The inputs' candidates and feature
/// matrices move into the packed inputs rather than being copied (they are the bulk of
/// a step's numbers); `restore` gives them back after the call.
pub fn batch(batch: &model::Batch, inputs: &mut [model::StepInput], detail: NodeDetail) -> Result<(wit::Batch, Vec<wit::StepInput>), String> {
    let mut p = Packer::default();
    let sites = batch.sites.iter().map(|s| p.site(s)).collect();
    let packed: Vec<wit::StepInput> = inputs
        .iter_mut()
        .map(|i| wit::StepInput { node: p.node(&i.node, detail), candidates: std::mem::take(&mut i.candidates), features: std::mem::take(&mut i.features), visit: i.visit })
        .collect();
    let text = match p.finish() {
        Ok(text) => text,
        Err(e) => {
            restore(inputs, packed);
            return Err(e);
        }
    };
    let shared = wit::Batch { config: batch.config.clone(), analysis_id: batch.analysis_id.clone(), graph_node: batch.graph_node.clone(), max_visits: batch.max_visits, text, feature_names: batch.feature_names.clone(), sites };
    Ok((shared, packed))
}

/// Give inputs back the candidates and feature matrices `batch` moved out of them.
pub fn restore(inputs: &mut [model::StepInput], packed: Vec<wit::StepInput>) {
    for (input, p) in inputs.iter_mut().zip(packed) {
        input.candidates = p.candidates;
        input.features = p.features;
    }
}

/// Sites with their own text (what `code-search.sites` returns).
pub fn site_table(sites: &[CodeSite]) -> Result<wit::SiteTable, String> {
    let mut p = Packer::default();
    let sites = sites.iter().map(|s| p.site(s)).collect();
    Ok(wit::SiteTable { text: p.finish()?, sites })
}

/// A matcher's evidence in words back in the host's form: each input's result, with a
/// place outside the plugin's text failing that input alone.
pub fn explained(e: wit::Explained) -> Vec<Result<Vec<model::Explanation>, wit::PluginError>> {
    let text = e.text;
    let get = |t: &wit::Text| -> Result<String, wit::PluginError> {
        let (start, len) = (t.start as usize, t.len as usize);
        text.get(start..start.saturating_add(len)).map(str::to_string).ok_or_else(|| wit::PluginError {
            code: wit::ErrorCode::InvalidInput,
            message: format!("an explanation names bytes {start}..{} of a {}-byte text (or splits a character)", start.saturating_add(len), text.len()),
        })
    };
    e.results
        .into_iter()
        .map(|r| {
            r.and_then(|list| {
                list.into_iter()
                    .map(|x| {
                        let evidence = x.evidence.iter().map(|ev| Ok(model::Evidence { signal: get(&ev.signal)?, weight: ev.weight, detail: get(&ev.detail)? })).collect::<Result<_, _>>()?;
                        Ok(model::Explanation { site_id: x.site_id, evidence })
                    })
                    .collect()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(text: &'a str, t: &wit::Text) -> &'a str {
        &text[t.start as usize..(t.start + t.len) as usize]
    }

    #[test]
    fn every_string_is_a_place_in_one_text() {
        let mut n = PlanNode::named("7", "SortMergeJoin", wit::Family::Join);
        n.semantics.left_keys = vec!["customer_id".into()];
        n.semantics.sort_keys = vec![model::SortKey { expr: "amount".into(), ascending: false }];
        n.neighbours = vec![model::Neighbour { id: "3".into(), operator: "Exchange".into(), family: wit::Family::Exchange, relation: wit::Relation::Child, mapped: None, mapped_site: None }];
        let mut input = model::StepInput { node: n, candidates: vec![wit::Candidate { site_id: 4, retrieval_score: 1.0, confidence: 0.0 }], features: vec![0.5], visit: 1 };
        let b = model::Batch { config: String::new(), analysis_id: "a".into(), graph_node: "g".into(), max_visits: 2, feature_names: vec![], sites: vec![] };
        let (packed, inputs) = batch(&b, std::slice::from_mut(&mut input), NodeDetail::Full).unwrap();
        assert_eq!((inputs[0].candidates[0].site_id, inputs[0].features.as_slice()), (4, &[0.5][..]), "candidates and features move into the call");
        assert!(input.candidates.is_empty() && input.features.is_empty());
        let node = &inputs[0].node;
        assert_eq!(get(&packed.text, &node.id), "7");
        assert_eq!(get(&packed.text, &node.operator), "SortMergeJoin");
        let terms: Vec<(Field, &str)> = node.semantics.terms.iter().map(|t| (t.field, get(&packed.text, &t.value))).collect();
        assert_eq!(terms, vec![(Field::LeftKey, "customer_id"), (Field::SortDescending, "amount")]);
        assert_eq!(node.neighbours[0].relation, wit::Relation::Child);
        restore(std::slice::from_mut(&mut input), inputs.clone());
        assert_eq!((input.candidates.len(), input.features.len()), (1, 1), "and come back after it");
        let (_, brief) = batch(&b, &mut [input], NodeDetail::Brief).unwrap();
        assert!(brief[0].node.semantics.terms.is_empty() && brief[0].node.neighbours.is_empty());
    }

    #[test]
    fn explanations_come_back_as_places_and_a_bad_place_fails_its_input_only() {
        let at = |start, len| wit::Text { start, len };
        let one = |signal, detail| Ok(vec![wit::Explanation { site_id: 3, evidence: vec![wit::Evidence { signal, weight: 0.5, detail }] }]);
        let e = wit::Explained { text: "keysmatch".into(), results: vec![one(at(0, 4), at(4, 5)), one(at(0, 4), at(7, 9))] };
        let out = explained(e);
        let good = out[0].as_ref().unwrap();
        assert_eq!((good[0].evidence[0].signal.as_str(), good[0].evidence[0].detail.as_str()), ("keys", "match"));
        let bad = out[1].as_ref().unwrap_err();
        assert!(bad.message.contains("bytes 7..16 of a 9-byte text"), "{}", bad.message);
    }
}
