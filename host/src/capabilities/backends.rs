//! Choosing each capability's backend from configuration: Redis or the in-process
//! cache, Chroma or the in-process vector index, an embeddings endpoint or none. A
//! configured backend that does not answer degrades to the embedded default with a
//! note saying so; it never fails the job.

use super::cache::{Cache, MemoryCache};
use super::embeddings::{Embedder, EmbeddingsConfig};
use super::redis_cache::RedisCache;
use super::vectors::{ChromaVectors, MemoryVectors, VectorIndex};
use std::sync::Arc;

/// What to connect to.
#[derive(Debug, Clone, Default)]
pub struct BackendConfig {
    pub redis_url: Option<String>,
    pub chroma_url: Option<String>,
    pub chroma_token: Option<String>,
    pub embeddings: Option<EmbeddingsConfig>,
    pub llm: Option<super::llm::LlmConfig>,
}

impl BackendConfig {
    /// `REDIS_URL`, `CHROMA_URL`, `CHROMA_TOKEN`, `OPENAI_BASE_URL` / `OPENAI_API_KEY` / `EMBEDDING_MODEL`.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // A bad LLM setting is reported when the backends connect (as a degradation note).
        let llm = super::llm::LlmConfig::from_lookup(&|k| std::env::var(k).ok()).unwrap_or_else(|e| {
            tracing::warn!("llm: {e}; the model is off");
            None
        });
        BackendConfig { redis_url: var("REDIS_URL"), chroma_url: var("CHROMA_URL"), chroma_token: var("CHROMA_TOKEN"), embeddings: EmbeddingsConfig::from_env(), llm }
    }
}

/// The connected backends.
#[derive(Clone)]
pub struct Backends {
    pub cache: Arc<dyn Cache>,
    pub vectors: Arc<dyn VectorIndex>,
    pub embedder: Option<Arc<Embedder>>,
    /// The chat model, when configured.
    pub llm: Option<Arc<super::llm::LlmClient>>,
    /// Degradations, for the user and the logs.
    pub notes: Vec<String>,
    /// Vector collections known complete in `vectors`, and since when (see
    /// `repo::context::ensure_vectors`).
    pub complete_collections: Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
}

impl Backends {
    /// The model for one job: its budget (`spent_usd` carried over from an interrupted
    /// run) and the secrets its prompts must never contain. `None` when no model is set up.
    pub fn job_llm(&self, limit_usd: f64, spent_usd: f64, secrets: Vec<String>) -> Option<Arc<super::llm::JobLlm>> {
        let client = self.llm.clone()?;
        Some(Arc::new(super::llm::JobLlm { client, budget: Arc::new(super::llm::Budget::new(limit_usd, spent_usd)), secrets, cache: self.cache.clone() }))
    }

    pub async fn connect(cfg: &BackendConfig) -> Backends {
        let mut notes = Vec::new();
        let cache: Arc<dyn Cache> = match &cfg.redis_url {
            Some(url) => match RedisCache::connect(url).await {
                Ok(r) => Arc::new(r),
                Err(e) => {
                    notes.push(format!("cache: {e}; using the in-process cache (repository contexts are re-parsed in each process)"));
                    Arc::new(MemoryCache::new())
                }
            },
            None => Arc::new(MemoryCache::new()),
        };
        let vectors: Arc<dyn VectorIndex> = match &cfg.chroma_url {
            Some(url) => match ChromaVectors::connect(url, cfg.chroma_token.as_deref()).await {
                Ok(c) => Arc::new(super::vectors::Guarded::new(c, "chroma")),
                Err(e) => {
                    notes.push(format!("vectors: {}; using the in-process vector index", scrub(&e.to_string(), cfg.chroma_token.as_deref())));
                    Arc::new(MemoryVectors::default())
                }
            },
            None => Arc::new(MemoryVectors::default()),
        };
        let embedder = match &cfg.embeddings {
            Some(e) => match Embedder::new(e.clone()) {
                Ok(x) => Some(Arc::new(x)),
                Err(err) => {
                    notes.push(format!("embeddings: {err}; vector retrieval is off, lexical retrieval serves"));
                    None
                }
            },
            None => None,
        };
        let llm = match &cfg.llm {
            Some(c) => match super::llm::LlmClient::new(c.clone()) {
                Ok(x) => Some(Arc::new(x)),
                Err(err) => {
                    notes.push(format!("llm: {err}; the model is off"));
                    None
                }
            },
            None => None,
        };
        for n in &notes {
            tracing::warn!("{n}");
        }
        Backends { cache, vectors, embedder, llm, notes, complete_collections: Default::default() }
    }
}

fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() => text.replace(s, "<redacted>"),
        _ => text.to_string(),
    }
}
