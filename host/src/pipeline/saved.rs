//! A plan node's walk through the graph between two steps, in a form a checkpoint can
//! hold (JSON): where it is, how often each graph node ran, its candidates with what
//! the steps so far found, and the step records. A job interrupted mid-graph resumes
//! each node from its last step instead of from the graph's entry.

use super::{ShadowAnswer, StepRecord};
use planmap_runtime::model::{CodeSite, Evidence};
use planmap_runtime::{Assessed, Candidate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A walk's state after a step (the next step is `current`'s).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedWalk {
    /// The graph version the walk ran on: a state is only resumed on the same one.
    pub graph_version: String,
    pub current: String,
    pub visits: BTreeMap<String, u32>,
    pub steps: usize,
    pub feature_names: Vec<String>,
    pub candidates: Vec<SavedCandidate>,
    pub records: Vec<StepRecord>,
    pub shadows: Vec<ShadowAnswer>,
}

/// A candidate by its site's id (sites are stable for one commit and indexer, so the
/// index gives them back on resume).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedCandidate {
    pub site: u32,
    pub retrieval_score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessed: Option<SavedAssessed>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedAssessed {
    /// `None` where the candidate has no value (NaN in the contract; JSON has no NaN).
    pub features: Vec<Option<f64>>,
    /// (signal, weight, detail).
    pub evidence: Vec<(String, f64, String)>,
    pub confidence: f64,
    pub explanation: String,
}

/// A walk restored from a `SavedWalk`, ready to continue.
#[derive(Debug, Clone)]
pub struct Resumed {
    pub current: String,
    pub visits: BTreeMap<String, u32>,
    pub steps: usize,
    pub feature_names: Vec<String>,
    pub candidates: Vec<Candidate>,
    pub records: Vec<StepRecord>,
    pub shadows: Vec<ShadowAnswer>,
}

impl SavedCandidate {
    pub fn of(c: &Candidate) -> SavedCandidate {
        SavedCandidate {
            site: c.site.id,
            retrieval_score: c.retrieval_score,
            assessed: c.assessed.as_ref().map(|a| SavedAssessed {
                features: a.features.iter().map(|v| (!v.is_nan()).then_some(*v)).collect(),
                evidence: a.evidence.iter().map(|e| (e.signal.to_string(), e.weight, e.detail.clone())).collect(),
                confidence: a.confidence,
                explanation: a.explanation.clone(),
            }),
        }
    }

    fn restore(&self, site: CodeSite) -> Candidate {
        Candidate {
            site,
            retrieval_score: self.retrieval_score,
            assessed: self.assessed.as_ref().map(|a| Assessed {
                features: a.features.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
                evidence: a.evidence.iter().map(|(signal, weight, detail)| Evidence { signal: signal.as_str().into(), weight: *weight, detail: detail.clone() }).collect(),
                confidence: a.confidence,
                explanation: a.explanation.clone(),
            }),
        }
    }
}

impl SavedWalk {
    /// The walk on `graph_version` with `site_of` giving sites back by id; `Err` says why
    /// it cannot continue (the node is then mapped from the start).
    pub fn restore(&self, graph_version: &str, site_of: &dyn Fn(u32) -> Option<CodeSite>) -> Result<Resumed, String> {
        if self.graph_version != graph_version {
            return Err(format!("saved on graph version {}, now {graph_version}", self.graph_version));
        }
        let candidates = self
            .candidates
            .iter()
            .map(|c| site_of(c.site).map(|s| c.restore(s)).ok_or_else(|| format!("site {} is not in the index", c.site)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Resumed { current: self.current.clone(), visits: self.visits.clone(), steps: self.steps, feature_names: self.feature_names.clone(), candidates, records: self.records.clone(), shadows: self.shadows.clone() })
    }
}
