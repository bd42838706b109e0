//! Embeddings from an OpenAI-compatible endpoint (`POST {base}/embeddings`, through
//! async-openai with the retry policy of `openai`), used to put code sites and plan
//! nodes in one vector space. Off when not configured.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Texts per request: providers cap batch sizes (OpenAI at 2048); 64 keeps requests small.
pub const BATCH: usize = 64;
/// Longest text embedded; longer snippets are cut (models cap input tokens).
pub const MAX_TEXT_CHARS: usize = 2000;
/// One attempt's time limit.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Floats of query embeddings kept per process (4 bytes each): 16 M floats is 64 MiB,
/// about 10,000 vectors of 1536 dimensions. Plan nodes repeat their texts across jobs
/// (the same query run daily, one operator over many columns), so most queries after
/// the first job are answered here.
const QUERY_CACHE_FLOATS: usize = 16 << 20;
/// Attempts after the first when the endpoint rate-limits, fails or times out.
const MAX_RETRIES: u32 = 3;

/// Where embeddings come from.
#[derive(Clone)]
pub struct EmbeddingsConfig {
    /// e.g. `https://api.openai.com/v1` or `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
}

impl std::fmt::Debug for EmbeddingsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingsConfig").field("base_url", &self.base_url).field("model", &self.model).field("api_key", &self.api_key.as_ref().map(|_| "<redacted>")).finish()
    }
}

impl EmbeddingsConfig {
    /// From `OPENAI_BASE_URL`, `OPENAI_API_KEY` and `EMBEDDING_MODEL`; `None` when no
    /// base URL and no key are set (vector retrieval is then off).
    pub fn from_env() -> Option<EmbeddingsConfig> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// The same settings read through `var` (the service's merged file + environment).
    pub fn from_lookup(var: &dyn Fn(&str) -> Option<String>) -> Option<EmbeddingsConfig> {
        let get = |k: &str| var(k).filter(|s| !s.is_empty());
        let (base, key) = (get("OPENAI_BASE_URL"), get("OPENAI_API_KEY"));
        if base.is_none() && key.is_none() {
            return None;
        }
        Some(EmbeddingsConfig {
            base_url: base.unwrap_or_else(|| "https://api.openai.com/v1".into()).trim_end_matches('/').to_string(),
            api_key: key,
            model: get("EMBEDDING_MODEL").unwrap_or_else(|| "text-embedding-3-small".into()),
        })
    }
}

/// A client for the embeddings endpoint.
pub struct Embedder {
    cfg: EmbeddingsConfig,
    api: super::openai::Client,
    queries: Mutex<QueryCache>,
    /// An embeddings endpoint that stopped answering is skipped for a while (retrieval
    /// goes on lexically) instead of each node waiting out its retries.
    breaker: Arc<super::breaker::Breaker>,
}

/// Query embeddings by text, oldest out first when over `QUERY_CACHE_FLOATS`.
#[derive(Default)]
struct QueryCache {
    by_text: HashMap<String, Arc<Vec<f32>>>,
    order: VecDeque<String>,
    floats: usize,
}

impl QueryCache {
    fn insert(&mut self, text: String, v: Arc<Vec<f32>>) {
        if self.by_text.contains_key(&text) {
            return;
        }
        self.floats += v.len();
        self.order.push_back(text.clone());
        self.by_text.insert(text, v);
        while self.floats > QUERY_CACHE_FLOATS {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(v) = self.by_text.remove(&old) {
                self.floats -= v.len();
            }
        }
    }
}

impl Embedder {
    pub fn new(cfg: EmbeddingsConfig) -> anyhow::Result<Embedder> {
        let api = super::openai::client(&cfg.base_url, cfg.api_key.as_deref(), TIMEOUT, MAX_RETRIES)?;
        Ok(Embedder { cfg, api, queries: Mutex::default(), breaker: super::breaker::Breaker::new("embeddings") })
    }

    /// Embeddings of query texts (plan nodes), from the process's cache where it has
    /// them and in one request for the rest.
    pub async fn embed_queries(&self, texts: &[String]) -> anyhow::Result<Vec<Arc<Vec<f32>>>> {
        let cached: Vec<Option<Arc<Vec<f32>>>> = {
            let c = self.queries.lock().unwrap_or_else(|p| p.into_inner());
            texts.iter().map(|t| c.by_text.get(t).cloned()).collect()
        };
        let mut missing: Vec<String> = texts.iter().zip(&cached).filter(|(_, c)| c.is_none()).map(|(t, _)| t.clone()).collect();
        missing.sort();
        missing.dedup();
        let fresh: HashMap<String, Arc<Vec<f32>>> = if missing.is_empty() {
            HashMap::new()
        } else {
            let vs = self.embed(&missing).await?;
            let fresh: HashMap<String, Arc<Vec<f32>>> = missing.into_iter().zip(vs.into_iter().map(Arc::new)).collect();
            let mut c = self.queries.lock().unwrap_or_else(|p| p.into_inner());
            for (t, v) in &fresh {
                c.insert(t.clone(), v.clone());
            }
            fresh
        };
        Ok(texts.iter().zip(cached).map(|(t, c)| c.unwrap_or_else(|| fresh[t].clone())).collect())
    }

    pub fn model(&self) -> &str {
        &self.cfg.model
    }

    /// Embed texts, in batches, keeping their order.
    pub async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        self.breaker.call(self.embed_now(texts)).await
    }

    async fn embed_now(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let input: Vec<String> = chunk.iter().map(|t| t.chars().take(MAX_TEXT_CHARS).collect()).collect();
            let request = async_openai::types::embeddings::CreateEmbeddingRequest { model: self.cfg.model.clone(), input: async_openai::types::embeddings::EmbeddingInput::StringArray(input), ..Default::default() };
            let mut r = self.api.embeddings().create(request).await.map_err(|e| anyhow::anyhow!("embeddings at {}: {}", self.cfg.base_url, super::openai::describe(e)))?;
            if r.data.len() != chunk.len() {
                anyhow::bail!("embeddings at {}: asked for {} vectors, got {}", self.cfg.base_url, chunk.len(), r.data.len());
            }
            r.data.sort_by_key(|i| i.index);
            out.extend(r.data.into_iter().map(|i| i.embedding));
        }
        Ok(out)
    }
}
