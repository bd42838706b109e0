//! The host's candidate: the code site itself with everything the steps found (feature
//! values, evidence, confidence, explanation). It stays on the host side; plugins see
//! a row of the batch's candidate columns (the site's id and numbers).

use crate::model::{CodeSite, Evidence};

/// A code site proposed for a plan node, enriched as it moves through the graph.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub site: CodeSite,
    /// Retrieval score from the retriever (higher is better; not calibrated).
    pub retrieval_score: f64,
    /// What matchers and scorers found; `None` until a matcher assessed it.
    pub assessed: Option<Assessed>,
}

/// A candidate's evidence and verdict so far.
#[derive(Debug, Clone)]
pub struct Assessed {
    /// Feature values aligned with the walk's feature names (`NaN`: no value).
    pub features: Vec<f64>,
    pub evidence: Vec<Evidence>,
    /// Calibrated probability that the candidate is right (0 before any scorer ran).
    pub confidence: f64,
    pub explanation: String,
}

impl Assessed {
    /// Add evidence, replacing what the candidate had for the same signal.
    pub fn put(&mut self, e: Evidence) {
        self.evidence.retain(|x| x.signal != e.signal);
        self.evidence.push(e);
    }
}

impl Candidate {
    /// A new candidate, not yet assessed.
    pub fn proposed(site: CodeSite, retrieval_score: f64) -> Self {
        Candidate { site, retrieval_score, assessed: None }
    }
    /// The scorer's confidence (0 before any scorer ran).
    pub fn confidence(&self) -> f64 {
        self.assessed.as_ref().map_or(0.0, |a| a.confidence)
    }
    /// The scorer's explanation (empty before).
    pub fn explanation(&self) -> &str {
        self.assessed.as_ref().map_or("", |a| a.explanation.as_str())
    }
    /// The matchers' feature values, aligned with the walk's feature names.
    pub fn features(&self) -> &[f64] {
        self.assessed.as_ref().map_or(&[], |a| a.features.as_slice())
    }
    /// The features this candidate has a value for, by name.
    pub fn named_features<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        names.iter().zip(self.features()).filter(|(_, v)| !v.is_nan()).map(|(n, v)| (n.as_str(), *v))
    }
    /// The matchers' evidence.
    pub fn evidence(&self) -> &[Evidence] {
        self.assessed.as_ref().map_or(&[], |a| a.evidence.as_slice())
    }
    /// The assessment, created empty on first use.
    pub fn assessed_mut(&mut self) -> &mut Assessed {
        self.assessed.get_or_insert_with(|| Assessed { features: Vec::new(), evidence: Vec::new(), confidence: 0.0, explanation: String::new() })
    }
}

/// Row `i` of a contract matrix with `width` columns (empty when there is no such row).
pub fn matrix_row(matrix: &[f64], width: usize, i: usize) -> &[f64] {
    matrix.get(i * width..(i + 1) * width).unwrap_or(&[])
}
