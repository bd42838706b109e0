//! The host's own form of what crosses into a plugin: plan nodes, code sites and step
//! inputs with owned strings. `pack` turns them into the contract's form (one text per
//! call that every string points into) when an invocation starts.

use crate::wit::{self, Family};

/// One sort key: the expression and its direction.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SortKey {
    pub expr: String,
    pub ascending: bool,
}

/// What a plan node does (lists hold names and expressions with `#exprId` stripped;
/// empty means "not known"). Plan ingestion fills it; it crosses into plugins as terms.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Semantics {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_columns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub right_keys: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_side: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grouping_keys: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aggregate_functions: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub predicates: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub literals: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sort_keys: Vec<SortKey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub window_partition: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub window_functions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub udfs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_target: Option<String>,
    /// Partial (map-side) aggregate, global sort, repartition origin, ... as tags (the
    /// host's own; they do not cross).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Why a planner-inserted node exists.
#[derive(Debug, Clone, PartialEq)]
pub struct InducedBy {
    pub node_id: String,
    pub reason: String,
}

/// A source location.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub file: String,
    pub symbol: String,
    pub line_start: u32,
    pub line_end: u32,
}

/// A plan node adjacent to the one being mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Neighbour {
    pub id: String,
    pub operator: String,
    pub family: Family,
    pub relation: wit::Relation,
    pub mapped: Option<Location>,
    pub mapped_site: Option<u32>,
}

/// A file the rest of the plan mapped to, and its share.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFile {
    pub file: String,
    pub share: f64,
}

/// The plan node being mapped, with its context.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanNode {
    pub id: String,
    pub operator: String,
    pub family: Family,
    pub induced: Option<InducedBy>,
    pub semantics: Semantics,
    pub neighbours: Vec<Neighbour>,
    pub plan_files: Vec<PlanFile>,
    pub fragment: String,
}

impl PlanNode {
    /// A node with only an id and an operator (its semantics unknown).
    pub fn named(id: &str, operator: &str, family: Family) -> Self {
        PlanNode { id: id.into(), operator: operator.into(), family, induced: None, semantics: Semantics::default(), neighbours: vec![], plan_files: vec![], fragment: String::new() }
    }
}

/// A place in the repository where Spark work is expressed.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeSite {
    pub id: u32,
    pub location: Location,
    pub statement_start: u32,
    pub statement_end: u32,
    pub kind: String,
    pub columns: Vec<String>,
    pub tables: Vec<String>,
    pub literals: Vec<String>,
    pub functions: Vec<String>,
}

/// What every input of a batch shares, and their candidates.
#[derive(Debug, Clone)]
pub struct Batch {
    pub config: String,
    pub analysis_id: String,
    pub graph_node: String,
    pub max_visits: u32,
    pub feature_names: Vec<String>,
    /// Matchers: every site the batch's candidates name, once.
    pub sites: Vec<CodeSite>,
    /// Every input's candidates in the contract's columns, input after input (features
    /// one column per `feature_names`). They move into a call and back, not copied.
    pub candidates: wit::Candidates,
}

impl Batch {
    /// A batch for a graph node, with no feature names, sites or candidates yet.
    pub fn new(config: String, analysis_id: String, graph_node: String, max_visits: u32) -> Self {
        Batch { config, analysis_id, graph_node, max_visits, feature_names: Vec::new(), sites: Vec::new(), candidates: no_candidates() }
    }

    /// Append one input's candidates to the batch's columns: site ids, scores and
    /// feature rows, a candidate's own feature k going to column `slots[k]` (`NaN`
    /// where it has no value or no slot). The rows they take.
    pub fn push_candidates(&mut self, candidates: &[crate::Candidate], slots: &[usize]) -> wit::Rows {
        let start = self.candidate_count();
        for c in candidates {
            let row = self.push_candidate(c.site.id, c.retrieval_score, c.confidence());
            for (&k, &v) in slots.iter().zip(c.features()) {
                if let Some(cell) = row.get_mut(k) {
                    *cell = v;
                }
            }
        }
        self.candidates_since(start)
    }

    /// Append a candidate to the batch's columns; its feature row, all `NaN` (no
    /// value), one column per feature name, to fill in.
    pub fn push_candidate(&mut self, site_id: u32, retrieval_score: f64, confidence: f64) -> &mut [f64] {
        let c = &mut self.candidates;
        c.site_ids.push(site_id);
        c.retrieval_scores.push(retrieval_score);
        c.confidences.push(confidence);
        let start = c.features.len();
        c.features.resize(start + self.feature_names.len(), f64::NAN);
        &mut c.features[start..]
    }

    /// How many candidates the batch holds.
    fn candidate_count(&self) -> usize {
        self.candidates.site_ids.len()
    }

    /// The candidate rows appended since the batch held `start` of them.
    pub fn candidates_since(&self, start: usize) -> wit::Rows {
        crate::pack::rows(start, self.candidate_count() - start)
    }
}

/// No candidates (what a batch starts with).
pub fn no_candidates() -> wit::Candidates {
    wit::Candidates { site_ids: Vec::new(), retrieval_scores: Vec::new(), confidences: Vec::new(), features: Vec::new() }
}

/// What one plan node brings to a step.
#[derive(Debug, Clone)]
pub struct StepInput {
    pub node: PlanNode,
    /// Its candidates: rows of `Batch::candidates`.
    pub candidates: wit::Rows,
    pub visit: u32,
}

/// A retriever's proposal: a code site by id and its retrieval score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    pub site_id: u32,
    pub retrieval_score: f64,
}

/// A scorer's verdict on one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    pub site_id: u32,
    /// Calibrated probability that the candidate is right.
    pub confidence: f64,
    /// Why; empty for the host to build from the evidence.
    pub explanation: String,
}

/// A matcher's findings for one plan node, in numbers: feature values and their
/// weights as evidence, one row per assessed candidate, one column per name.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessments {
    /// The columns: the batch's names, shared by its inputs' results.
    pub feature_names: std::sync::Arc<[String]>,
    pub site_ids: Vec<u32>,
    pub features: Vec<f64>,
    pub weights: Vec<f64>,
}

/// One piece of evidence for or against a candidate, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// What was compared (a feature name): shared, since a handful of names label
    /// every candidate's evidence.
    pub signal: std::sync::Arc<str>,
    /// Signed contribution: positive supports the candidate.
    pub weight: f64,
    /// A sentence a person reads.
    pub detail: String,
}

/// A matcher's evidence in words for one candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub site_id: u32,
    pub evidence: Vec<Evidence>,
}
