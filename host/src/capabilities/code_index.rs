//! The code-search capability's embedded default: an in-process BM25 index over code
//! sites, with kind filters and data-flow (upstream) links.

use planmap_runtime::model::CodeSite;
use planmap_runtime::wit::{code_search::Hit, SiteSource};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Search over a repository's code sites.
pub trait CodeIndex: Send + Sync {
    /// Sites matching `terms` (any kind when `kinds` is empty), best first; only those
    /// `within` marks when given (indexed by site id).
    fn search(&self, terms: &[String], kinds: &[String], limit: usize, within: Option<&[bool]>) -> Vec<Hit>;
    /// A site by its number (borrowed: callers that walk many sites copy none).
    fn site(&self, id: u32) -> Option<&CodeSite>;
    /// A site's source text by its number.
    fn source(&self, id: u32) -> Option<SiteSource>;
    /// The number of the site named `name` (the repository index's stable string id).
    fn id_of(&self, name: &str) -> Option<u32>;
    /// The stable string id of site `id`.
    fn name(&self, id: u32) -> Option<&str>;
    /// Sites whose output flows into `id`, nearest first, up to `depth` hops.
    fn upstream(&self, id: u32, depth: u32) -> Vec<u32>;
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
    sources: Vec<SiteSource>,
    /// Stable string id (`file:line:column:kind`) -> number in this index.
    by_name: HashMap<String, u32>,
    /// Number -> stable string id.
    names: Vec<String>,
    /// term -> (site index, term frequency)
    postings: HashMap<String, Vec<(u32, u16)>>,
    lengths: Vec<u32>,
    avg_len: f64,
    /// site index -> upstream site indices (direct)
    upstream: Vec<Vec<u32>>,
    /// Site kinds, interned: `kinds[site]` indexes `kind_names`.
    kinds: Vec<u8>,
    kind_names: Vec<String>,
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

/// What the index holds per site: its stable name, the site as plugins see it (its
/// `id` is set to its position when the index is built), its source text, and the
/// variables it assigns (searchable words that are not part of the contract).
pub struct IndexEntry {
    pub name: String,
    pub site: CodeSite,
    pub source: SiteSource,
    pub outputs: Vec<String>,
}

fn site_terms(e: &IndexEntry) -> Vec<String> {
    let s = &e.site;
    let mut t = Vec::new();
    for list in [&s.columns, &s.tables, &s.literals, &s.functions, &e.outputs] {
        for x in list {
            tokenize(x, &mut t);
        }
    }
    tokenize(&e.source.snippet, &mut t);
    tokenize(&s.location.symbol, &mut t);
    t
}

impl MemoryIndex {
    /// Index `sites`; `edges` are (from, to) site-id pairs meaning "`from`'s output
    /// flows into `to`".
    pub fn build(mut entries: Vec<IndexEntry>, edges: &[(String, String)]) -> MemoryIndex {
        let mut idx = MemoryIndex { by_name: entries.iter().enumerate().map(|(i, e)| (e.name.clone(), i as u32)).collect(), names: entries.iter().map(|e| e.name.clone()).collect(), ..Default::default() };
        for (i, e) in entries.iter_mut().enumerate() {
            e.site.id = i as u32;
            e.source.site_id = i as u32;
            let k = match idx.kind_names.iter().position(|k| *k == e.site.kind) {
                Some(k) => k,
                None => {
                    idx.kind_names.push(e.site.kind.clone());
                    idx.kind_names.len() - 1
                }
            };
            // Kinds are a small fixed vocabulary (about 30); u8 leaves ample room.
            idx.kinds.push(k as u8);
            let terms = site_terms(e);
            idx.lengths.push(terms.len() as u32);
            let mut tf: BTreeMap<String, u16> = BTreeMap::new();
            for t in terms {
                *tf.entry(t).or_default() += 1;
            }
            for (t, f) in tf {
                idx.postings.entry(t).or_default().push((i as u32, f));
            }
        }
        idx.avg_len = if entries.is_empty() { 1.0 } else { idx.lengths.iter().map(|l| *l as f64).sum::<f64>() / entries.len() as f64 };
        idx.upstream = vec![Vec::new(); entries.len()];
        for (from, to) in edges {
            if let (Some(&f), Some(&t)) = (idx.by_name.get(from), idx.by_name.get(to)) {
                idx.upstream[t as usize].push(f);
            }
        }
        (idx.sites, idx.sources) = entries.into_iter().map(|e| (e.site, e.source)).unzip();
        idx
    }
}

impl CodeIndex for MemoryIndex {
    fn search(&self, terms: &[String], kinds: &[String], limit: usize, within: Option<&[bool]>) -> Vec<Hit> {
        let n = self.sites.len() as f64;
        let inside = |i: u32| within.is_none_or(|w| w.get(i as usize).copied().unwrap_or(false));
        // Which site kinds qualify, as a table indexed by the interned kind.
        let allowed: Vec<bool> = self.kind_names.iter().map(|k| kinds.is_empty() || kinds.contains(k)).collect();
        let mut qterms = Vec::new();
        for t in terms {
            tokenize(t, &mut qterms);
        }
        qterms.sort();
        qterms.dedup();
        // Dense accumulator plus the list of sites touched: no hashing per posting.
        let mut scores = vec![0.0f64; self.sites.len()];
        let mut touched: Vec<u32> = Vec::new();
        for t in &qterms {
            let Some(posts) = self.postings.get(t) else { continue };
            let df = posts.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(i, f) in posts {
                if !allowed[self.kinds[i as usize] as usize] || !inside(i) {
                    continue;
                }
                let len = self.lengths[i as usize] as f64;
                let f = f as f64;
                let slot = &mut scores[i as usize];
                if *slot == 0.0 {
                    touched.push(i);
                }
                *slot += idf * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * len / self.avg_len));
            }
        }
        let mut ranked: Vec<(u32, f64)> = touched.iter().map(|&i| (i, scores[i as usize])).collect();
        if ranked.len() < limit && !kinds.is_empty() {
            // Sites of the right kind with no shared term still are candidates (a
            // `.distinct()` shares no column with its plan node): add them at score 0.
            // The query lists kinds most typical first; with no lexical signal, the more
            // typical kind is the better guess, so fill in that order (a hair below 0 per
            // rank keeps the order through the sort).
            let mut missing = limit - ranked.len();
            for (rank, kind) in kinds.iter().enumerate() {
                let Some(k) = self.kind_names.iter().position(|n| n == kind) else { continue };
                let extra: Vec<u32> = (0..self.sites.len() as u32).filter(|&i| self.kinds[i as usize] as usize == k && scores[i as usize] == 0.0 && inside(i)).take(missing).collect();
                missing -= extra.len();
                ranked.extend(extra.into_iter().map(|i| (i, -(rank as f64) * 1e-9)));
                if missing == 0 {
                    break;
                }
            }
        }
        let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit, order);
            ranked.truncate(limit);
        }
        ranked.sort_by(order);
        ranked.into_iter().map(|(i, score)| Hit { site_id: self.sites[i as usize].id, score }).collect()
    }

    fn site(&self, id: u32) -> Option<&CodeSite> {
        self.sites.get(id as usize)
    }

    fn source(&self, id: u32) -> Option<SiteSource> {
        self.sources.get(id as usize).cloned()
    }

    fn id_of(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    fn upstream(&self, id: u32, depth: u32) -> Vec<u32> {
        let start = id as usize;
        if start >= self.sites.len() {
            return vec![];
        }
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
                    out.push(u);
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
