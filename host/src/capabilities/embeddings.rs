//! Embeddings from an OpenAI-compatible endpoint (`POST {base}/embeddings`, through
//! async-openai with the retry policy of `openai`), used to put code sites and plan
//! nodes in one vector space. Off when not configured.

use std::time::Duration;

/// Texts per request: providers cap batch sizes (OpenAI at 2048); 64 keeps requests small.
pub const BATCH: usize = 64;
/// Longest text embedded; longer snippets are cut (models cap input tokens).
pub const MAX_TEXT_CHARS: usize = 2000;
/// One attempt's time limit.
pub const TIMEOUT: Duration = Duration::from_secs(30);
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
}

impl Embedder {
    pub fn new(cfg: EmbeddingsConfig) -> anyhow::Result<Embedder> {
        let api = super::openai::client(&cfg.base_url, cfg.api_key.as_deref(), TIMEOUT, MAX_RETRIES)?;
        Ok(Embedder { cfg, api })
    }

    pub fn model(&self) -> &str {
        &self.cfg.model
    }

    /// Embed texts, in batches, keeping their order.
    pub async fn embed(&self, texts: &[String]) -> anyhow::Result<Vec<Vec<f32>>> {
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
