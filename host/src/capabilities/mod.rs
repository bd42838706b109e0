//! Host capabilities behind the plugin imports, each with an embedded default:
//! code search (in-process index), cache (in-process), vectors and LLM (off until
//! configured). `JobCapabilities` bundles one job's backends for the sandbox.

pub mod backends;
pub mod breaker;
pub mod cache;
pub mod code_index;
pub mod embeddings;
pub mod llm;
pub mod openai;
pub mod redis_cache;
pub mod vectors;

use planmap_runtime::capabilities::cap_error;
use planmap_runtime::model::CodeSite;
use planmap_runtime::wit::{code_search, llm as wit_llm, vectors as wit_vectors, SiteSource};
use planmap_runtime::{CallScope, Capabilities, CapabilityError};
use planmap_runtime::wit::CapabilityErrorKind;
use std::sync::Arc;

pub use backends::{BackendConfig, Backends};
pub use embeddings::EmbeddingsConfig;
pub use cache::{Cache, MemoryCache};
pub use code_index::{CodeIndex, IndexEntry, MemoryIndex};
pub use vectors::{MemoryVectors, VectorIndex};

/// Hits a single search may return, whatever the plugin asks: bounds the bytes copied
/// into the sandbox per call (each hit carries a snippet).
pub const MAX_SEARCH_HITS: u32 = 200;

/// Nearest sites fetched per text ahead of a retriever step: covers a retriever's
/// `top_k` with widening (a plugin asking for more is answered by its own query).
pub const PREFETCH_K: u32 = 64;
/// Texts whose prefetched hits a job keeps; the oldest batch's go first beyond it.
const MAX_PREFETCHED: usize = 4096;

/// Most tokens a plugin may ask the model to generate in one call.
pub const MAX_LLM_TOKENS: u32 = 4096;

/// The backends one job's plugins see.
#[derive(Clone)]
pub struct JobCapabilities {
    pub index: Arc<dyn CodeIndex>,
    pub cache: Arc<dyn Cache>,
    /// Vector search over this repository's sites, when embeddings are configured.
    pub vectors: Option<RepoVectors>,
    /// The chat model with this job's budget, when one is configured.
    pub llm: Option<Arc<llm::JobLlm>>,
    /// The sites search may return, by id (the program that ran); all when `None`.
    pub scope: Option<Arc<Vec<bool>>>,
    /// Nearest hits fetched ahead of a step, by text (`prefetch_nearest`).
    prefetched: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<vectors::Hits>>>>,
}

/// One repository's collection in a vector index, and the embedder that fills it.
#[derive(Clone)]
pub struct RepoVectors {
    pub index: Arc<dyn VectorIndex>,
    pub embedder: Arc<embeddings::Embedder>,
    pub collection: String,
}

impl JobCapabilities {
    pub fn new(index: Arc<dyn CodeIndex>, cache: Arc<dyn Cache>) -> Self {
        JobCapabilities { index, cache, vectors: None, llm: None, scope: None, prefetched: Default::default() }
    }

    /// The same backends, searching only the sites `scope` marks (a program's files).
    pub fn with_scope(mut self, scope: Option<Arc<Vec<bool>>>) -> Self {
        self.scope = scope;
        self
    }

    fn in_scope(&self, id: u32) -> bool {
        self.scope.as_ref().is_none_or(|s| s.get(id as usize).copied().unwrap_or(false))
    }

    pub fn with_llm(mut self, l: Option<Arc<llm::JobLlm>>) -> Self {
        self.llm = l;
        self
    }

    pub fn with_vectors(mut self, v: Option<RepoVectors>) -> Self {
        self.vectors = v;
        self
    }
}

#[async_trait::async_trait]
impl Capabilities for JobCapabilities {
    async fn search(&self, _scope: &CallScope, q: code_search::Query) -> Result<Vec<code_search::Hit>, CapabilityError> {
        let limit = q.limit.clamp(1, MAX_SEARCH_HITS) as usize;
        Ok(self.index.search(&q.terms, &q.kinds, limit, self.scope.as_deref().map(Vec::as_slice)))
    }

    async fn sites(&self, _scope: &CallScope, ids: Vec<u32>) -> Result<Vec<CodeSite>, CapabilityError> {
        Ok(ids.iter().take(MAX_SEARCH_HITS as usize).filter_map(|id| self.index.site(*id).cloned()).collect())
    }

    async fn source(&self, _scope: &CallScope, ids: Vec<u32>) -> Result<Vec<SiteSource>, CapabilityError> {
        Ok(ids.iter().take(MAX_SEARCH_HITS as usize).filter_map(|id| self.index.source(*id)).collect())
    }

    async fn upstream(&self, _scope: &CallScope, site: u32, depth: u32) -> Result<Vec<u32>, CapabilityError> {
        Ok(self.index.upstream(site, depth.min(16)))
    }

    async fn cache_get(&self, _scope: &CallScope, key: String) -> Result<Option<Vec<u8>>, CapabilityError> {
        self.cache.get(&key).await.map_err(|e| cap_error(CapabilityErrorKind::Unavailable, format!("cache: {e}")))
    }

    async fn cache_set(&self, _scope: &CallScope, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), CapabilityError> {
        if value.len() > cache::MAX_VALUE_BYTES {
            return Err(cap_error(CapabilityErrorKind::Invalid, format!("cache: value of {} bytes is over the {} byte limit", value.len(), cache::MAX_VALUE_BYTES)));
        }
        let ttl = if ttl_seconds == 0 { None } else { Some(std::time::Duration::from_secs(ttl_seconds as u64)) };
        self.cache.set(&key, value, ttl).await.map_err(|e| cap_error(CapabilityErrorKind::Unavailable, format!("cache: {e}")))
    }

    async fn nearest(&self, _scope: &CallScope, text: String, limit: u32) -> Result<Vec<wit_vectors::VectorHit>, CapabilityError> {
        let Some(v) = &self.vectors else {
            return Err(cap_error(CapabilityErrorKind::Unavailable, "vectors: no embedding model is configured; lexical retrieval serves"));
        };
        let limit = limit.clamp(1, MAX_SEARCH_HITS);
        let ahead = (limit <= PREFETCH_K).then(|| self.prefetched.lock().unwrap_or_else(|p| p.into_inner()).get(&text).cloned()).flatten();
        let hits: Arc<vectors::Hits> = match ahead {
            Some(h) => h,
            None => {
                let emb = v.embedder.embed_queries(&[text]).await.map_err(|e| cap_error(CapabilityErrorKind::Unavailable, format!("vectors: {e}")))?;
                Arc::new(v.index.query(&v.collection, &emb[0], limit as usize).await.map_err(|e| cap_error(CapabilityErrorKind::Unavailable, format!("vectors: {e}")))?)
            }
        };
        // The vector store keeps the index's stable names; plugins get numbers.
        Ok(hits.iter().take(limit as usize).filter_map(|(name, similarity)| Some(wit_vectors::VectorHit { site_id: self.index.id_of(name)?, similarity: *similarity })).filter(|h| self.in_scope(h.site_id)).collect())
    }

    fn vectors_available(&self) -> bool {
        self.vectors.is_some()
    }

    /// One embedding request for the texts the process has not embedded yet, one query
    /// per `vectors::QUERY_BATCH` texts; texts already fetched for this job are skipped.
    async fn prefetch_nearest(&self, texts: Vec<String>) {
        let Some(v) = &self.vectors else { return };
        let mut texts: Vec<String> = {
            let have = self.prefetched.lock().unwrap_or_else(|p| p.into_inner());
            texts.into_iter().filter(|t| !have.contains_key(t)).collect()
        };
        texts.sort();
        texts.dedup();
        // A very large plan is fetched ahead in part; its other batches ask for theirs.
        texts.truncate(MAX_PREFETCHED);
        if texts.is_empty() {
            return;
        }
        // One embedding request (cached texts skipped) and one query for the batch; on
        // failure the plugin's own calls try again, one by one, and report it.
        let hits = match v.embedder.embed_queries(&texts).await {
            Ok(embs) => {
                let embs: Vec<&[f32]> = embs.iter().map(|e| e.as_slice()).collect();
                v.index.query_many(&v.collection, &embs, PREFETCH_K as usize).await
            }
            Err(e) => Err(e),
        };
        match hits {
            Ok(hits) => {
                let mut have = self.prefetched.lock().unwrap_or_else(|p| p.into_inner());
                if have.len() + texts.len() > MAX_PREFETCHED {
                    have.clear();
                }
                have.extend(texts.into_iter().zip(hits.into_iter().map(Arc::new)));
            }
            Err(e) => tracing::debug!("vectors: prefetch failed, the plugin's calls query one by one: {e}"),
        }
    }

    fn model_available(&self) -> bool {
        self.llm.as_ref().is_some_and(|m| m.budget.has_room())
    }

    async fn complete(&self, _scope: &CallScope, req: wit_llm::CompletionRequest) -> Result<wit_llm::Completion, CapabilityError> {
        let Some(model) = &self.llm else {
            return Err(cap_error(CapabilityErrorKind::Unavailable, "llm: no model is configured (set OPENAI_API_KEY / OPENAI_BASE_URL)"));
        };
        let r = llm::Request { system: req.system, prompt: req.prompt, max_tokens: req.max_tokens.min(MAX_LLM_TOKENS), temperature: req.temperature, json: req.json };
        match model.complete(r).await {
            llm::Outcome::Answer { answer, cached } => Ok(wit_llm::Completion {
                text: answer.text,
                // A cached answer cost nothing this time.
                prompt_tokens: if cached { 0 } else { answer.prompt_tokens },
                completion_tokens: if cached { 0 } else { answer.completion_tokens },
                cached,
            }),
            llm::Outcome::OverBudget { spent, estimate, limit } => Err(cap_error(
                CapabilityErrorKind::BudgetExhausted,
                format!("llm: the job's budget of ${limit:.2} would be exceeded (${spent:.4} spent, this call is estimated at ${estimate:.4}); the node continues without the model"),
            )),
            llm::Outcome::Failed(e) => Err(cap_error(CapabilityErrorKind::Failed, format!("llm: {e}"))),
        }
    }
}

