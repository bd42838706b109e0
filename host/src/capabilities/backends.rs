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
}

impl BackendConfig {
    /// `REDIS_URL`, `CHROMA_URL`, `CHROMA_TOKEN`, `OPENAI_BASE_URL` / `OPENAI_API_KEY` / `EMBEDDING_MODEL`.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        BackendConfig { redis_url: var("REDIS_URL"), chroma_url: var("CHROMA_URL"), chroma_token: var("CHROMA_TOKEN"), embeddings: EmbeddingsConfig::from_env() }
    }
}

/// The connected backends.
#[derive(Clone)]
pub struct Backends {
    pub cache: Arc<dyn Cache>,
    pub vectors: Arc<dyn VectorIndex>,
    pub embedder: Option<Arc<Embedder>>,
    /// Degradations, for the user and the logs.
    pub notes: Vec<String>,
}

impl Backends {
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
                Ok(c) => Arc::new(c),
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
        for n in &notes {
            tracing::warn!("{n}");
        }
        Backends { cache, vectors, embedder, notes }
    }
}

fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if !s.is_empty() => text.replace(s, "<redacted>"),
        _ => text.to_string(),
    }
}
