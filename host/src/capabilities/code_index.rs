//! The code-search capability's embedded default: an in-process BM25 index over code
//! sites, with kind filters and data-flow (upstream) links.

use planmap_runtime::wit::{code_search::Hit, CodeSite};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Search over a repository's code sites.
pub trait CodeIndex: Send + Sync {
    /// Sites matching `terms` (any kind when `kinds` is empty), best first.
    fn search(&self, terms: &[String], kinds: &[String], limit: usize) -> Vec<Hit>;
    /// A site by id.
    fn site(&self, id: &str) -> Option<CodeSite>;
    /// Sites whose output flows into `id`, nearest first, up to `depth` hops.
    fn upstream(&self, id: &str, depth: u32) -> Vec<String>;
    /// Number of sites.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// BM25 parameters (the usual defaults; sites are short documents).
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// An in-process index.
#[derive(Default)]
pub struct MemoryIndex {
    sites: Vec<CodeSite>,
    by_id: HashMap<String, usize>,
    /// term -> (site index, term frequency)
    postings: HashMap<String, Vec<(u32, u16)>>,
    lengths: Vec<u32>,
    avg_len: f64,
    /// site index -> upstream site indices (direct)
    upstream: Vec<Vec<u32>>,
}

/// Lower-case identifier tokens of a text, also splitting `snake_case` and dotted names.
pub fn tokenize(text: &str, out: &mut Vec<String>) {
    for raw in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        if raw.len() < 2 {
            continue;
        }
        let lower = raw.to_lowercase();
        if lower.contains('_') {
            for part in lower.split('_').filter(|p| p.len() >= 2) {
                out.push(part.to_string());
            }
        }
        out.push(lower);
    }
}

fn site_terms(s: &CodeSite) -> Vec<String> {
    let mut t = Vec::new();
    for list in [&s.columns, &s.tables, &s.literals, &s.functions, &s.outputs] {
        for x in list {
            tokenize(x, &mut t);
        }
    }
    tokenize(&s.snippet, &mut t);
    tokenize(&s.location.symbol, &mut t);
    t
}

impl MemoryIndex {
    /// Index `sites`; `edges` are (from, to) site-id pairs meaning "`from`'s output
    /// flows into `to`".
    pub fn build(sites: Vec<CodeSite>, edges: &[(String, String)]) -> MemoryIndex {
        let mut idx = MemoryIndex { by_id: sites.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect(), ..Default::default() };
        for (i, s) in sites.iter().enumerate() {
            let terms = site_terms(s);
            idx.lengths.push(terms.len() as u32);
            let mut tf: BTreeMap<String, u16> = BTreeMap::new();
            for t in terms {
                *tf.entry(t).or_default() += 1;
            }
            for (t, f) in tf {
                idx.postings.entry(t).or_default().push((i as u32, f));
            }
        }
        idx.avg_len = if sites.is_empty() { 1.0 } else { idx.lengths.iter().map(|l| *l as f64).sum::<f64>() / sites.len() as f64 };
        idx.upstream = vec![Vec::new(); sites.len()];
        for (from, to) in edges {
            if let (Some(&f), Some(&t)) = (idx.by_id.get(from), idx.by_id.get(to)) {
                idx.upstream[t].push(f as u32);
            }
        }
        idx.sites = sites;
        idx
    }
}

impl CodeIndex for MemoryIndex {
    fn search(&self, terms: &[String], kinds: &[String], limit: usize) -> Vec<Hit> {
        let n = self.sites.len() as f64;
        let mut scores: HashMap<u32, f64> = HashMap::new();
        let mut qterms = Vec::new();
        for t in terms {
            tokenize(t, &mut qterms);
        }
        qterms.sort();
        qterms.dedup();
        for t in &qterms {
            let Some(posts) = self.postings.get(t) else { continue };
            let df = posts.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(i, f) in posts {
                let len = self.lengths[i as usize] as f64;
                let f = f as f64;
                *scores.entry(i).or_default() += idf * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * len / self.avg_len));
            }
        }
        let kind_ok = |i: usize| kinds.is_empty() || kinds.iter().any(|k| *k == self.sites[i].kind);
        let mut ranked: Vec<(u32, f64)> = scores.into_iter().filter(|(i, _)| kind_ok(*i as usize)).collect();
        if ranked.len() < limit {
            // Sites of the right kind with no shared term still are candidates (a
            // `.distinct()` shares no column with its plan node): add them at score 0.
            let have: std::collections::HashSet<u32> = ranked.iter().map(|(i, _)| *i).collect();
            ranked.extend((0..self.sites.len()).filter(|i| !kinds.is_empty() && kind_ok(*i) && !have.contains(&(*i as u32))).map(|i| (i as u32, 0.0)));
        }
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked.into_iter().map(|(i, score)| Hit { site: self.sites[i as usize].clone(), score }).collect()
    }

    fn site(&self, id: &str) -> Option<CodeSite> {
        self.by_id.get(id).map(|&i| self.sites[i].clone())
    }

    fn upstream(&self, id: &str, depth: u32) -> Vec<String> {
        let Some(&start) = self.by_id.get(id) else { return vec![] };
        let mut seen = vec![false; self.sites.len()];
        seen[start] = true;
        let mut out = Vec::new();
        let mut q = VecDeque::from([(start, 0u32)]);
        while let Some((i, d)) = q.pop_front() {
            if d == depth {
                continue;
            }
            for &u in &self.upstream[i] {
                if !seen[u as usize] {
                    seen[u as usize] = true;
                    out.push(self.sites[u as usize].id.clone());
                    q.push_back((u as usize, d + 1));
                }
            }
        }
        out
    }

    fn len(&self) -> usize {
        self.sites.len()
    }
}
