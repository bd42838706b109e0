//! Vector indexes behind the vectors capability: an in-process one (the embedded
//! default) and a Chroma server (`CHROMA_URL`, HTTP API v2). One collection per
//! repository + commit + indexer version; records are upserted in batches and the
//! collection is deleted when its clone is evicted.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

/// Records per upsert request (Chroma's default max batch is far larger; 256 keeps
/// request bodies around a megabyte with 1536-dimension vectors).
pub const UPSERT_BATCH: usize = 256;
/// Queries per Chroma query request (one batch of plan nodes is far fewer; this bounds
/// a request's body when a caller sends many).
pub const QUERY_BATCH: usize = 64;
/// One Chroma request's time limit.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// One record: a site id, its vector and the text it came from.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub embedding: Vec<f32>,
    pub document: String,
}

/// Nearest records: (id, similarity in [0, 1]).
pub type Hits = Vec<(String, f64)>;

#[async_trait::async_trait]
pub trait VectorIndex: Send + Sync {
    async fn upsert(&self, collection: &str, records: Vec<Record>) -> anyhow::Result<()>;
    async fn query(&self, collection: &str, embedding: &[f32], k: usize) -> anyhow::Result<Hits>;
    /// The nearest records of each embedding, in order: one request where the backend
    /// takes several queries at once (Chroma does).
    async fn query_many(&self, collection: &str, embeddings: &[&[f32]], k: usize) -> anyhow::Result<Vec<Hits>> {
        let mut out = Vec::with_capacity(embeddings.len());
        for e in embeddings {
            out.push(self.query(collection, e, k).await?);
        }
        Ok(out)
    }
    async fn count(&self, collection: &str) -> anyhow::Result<usize>;
    async fn delete_collection(&self, collection: &str) -> anyhow::Result<()>;
    fn backend(&self) -> &'static str;
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        dot += (*x as f64) * (*y as f64);
        na += (*x as f64).powi(2);
        nb += (*y as f64).powi(2);
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
}

/// The embedded default: exact cosine search in memory.
#[derive(Default)]
pub struct MemoryVectors {
    collections: RwLock<HashMap<String, Vec<Record>>>,
}

#[async_trait::async_trait]
impl VectorIndex for MemoryVectors {
    async fn upsert(&self, collection: &str, records: Vec<Record>) -> anyhow::Result<()> {
        let mut m = self.collections.write().unwrap();
        let c = m.entry(collection.to_string()).or_default();
        for r in records {
            match c.iter_mut().find(|x| x.id == r.id) {
                Some(x) => *x = r,
                None => c.push(r),
            }
        }
        Ok(())
    }

    async fn query(&self, collection: &str, embedding: &[f32], k: usize) -> anyhow::Result<Hits> {
        let m = self.collections.read().unwrap();
        let Some(c) = m.get(collection) else { return Ok(vec![]) };
        let mut hits: Hits = c.iter().map(|r| (r.id.clone(), (1.0 + cosine(&r.embedding, embedding)) / 2.0)).collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        hits.truncate(k);
        Ok(hits)
    }

    async fn count(&self, collection: &str) -> anyhow::Result<usize> {
        Ok(self.collections.read().unwrap().get(collection).map_or(0, |c| c.len()))
    }

    async fn delete_collection(&self, collection: &str) -> anyhow::Result<()> {
        self.collections.write().unwrap().remove(collection);
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

/// A Chroma server over its v2 HTTP API.
pub struct ChromaVectors {
    base: String,
    http: reqwest::Client,
    /// collection name → uuid (record operations take the uuid).
    ids: RwLock<HashMap<String, String>>,
}

const TD: &str = "/api/v2/tenants/default_tenant/databases/default_database";

impl ChromaVectors {
    /// Connect to `url` (optionally with a token, sent as `x-chroma-token`) and check
    /// the heartbeat.
    pub async fn connect(url: &str, token: Option<&str>) -> anyhow::Result<ChromaVectors> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(t) = token {
            let mut v = reqwest::header::HeaderValue::from_str(t).map_err(|_| anyhow::anyhow!("CHROMA token has characters a header cannot hold"))?;
            v.set_sensitive(true);
            headers.insert("x-chroma-token", v);
        }
        let http = crate::http::builder().timeout(TIMEOUT).default_headers(headers).build()?;
        let base = url.trim_end_matches('/').to_string();
        let r = http.get(format!("{base}/api/v2/heartbeat")).send().await.map_err(|e| anyhow::anyhow!("chroma at {base}: {}", e.without_url()))?;
        if !r.status().is_success() {
            anyhow::bail!("chroma at {base}: heartbeat answered HTTP {}", r.status());
        }
        Ok(ChromaVectors { base, http, ids: RwLock::new(HashMap::new()) })
    }

    async fn check(&self, r: reqwest::Response, what: &str) -> anyhow::Result<serde_json::Value> {
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        if !status.is_success() {
            anyhow::bail!("chroma at {}: {what}: HTTP {status}: {}", self.base, body.chars().take(300).collect::<String>());
        }
        Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
    }

    async fn uuid(&self, collection: &str, create: bool) -> anyhow::Result<Option<String>> {
        if let Some(id) = self.ids.read().unwrap().get(collection) {
            return Ok(Some(id.clone()));
        }
        let v = if create {
            let r = self.http.post(format!("{}{TD}/collections", self.base)).json(&serde_json::json!({"name": collection, "metadata": {"hnsw:space": "cosine"}, "get_or_create": true})).send().await?;
            self.check(r, "create collection").await?
        } else {
            let r = self.http.get(format!("{}{TD}/collections/{collection}", self.base)).send().await?;
            if r.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            self.check(r, "get collection").await?
        };
        let id = v["id"].as_str().ok_or_else(|| anyhow::anyhow!("chroma at {}: collection answer without an id", self.base))?.to_string();
        self.ids.write().unwrap().insert(collection.to_string(), id.clone());
        Ok(Some(id))
    }
}

#[async_trait::async_trait]
impl VectorIndex for ChromaVectors {
    async fn upsert(&self, collection: &str, records: Vec<Record>) -> anyhow::Result<()> {
        let id = self.uuid(collection, true).await?.expect("created");
        for batch in records.chunks(UPSERT_BATCH) {
            let body = serde_json::json!({
                "ids": batch.iter().map(|r| &r.id).collect::<Vec<_>>(),
                "embeddings": batch.iter().map(|r| &r.embedding).collect::<Vec<_>>(),
                "documents": batch.iter().map(|r| &r.document).collect::<Vec<_>>(),
            });
            let r = self.http.post(format!("{}{TD}/collections/{id}/upsert", self.base)).json(&body).send().await?;
            self.check(r, "upsert").await?;
        }
        Ok(())
    }

    async fn query(&self, collection: &str, embedding: &[f32], k: usize) -> anyhow::Result<Hits> {
        Ok(self.query_many(collection, &[embedding], k).await?.pop().unwrap_or_default())
    }

    async fn query_many(&self, collection: &str, embeddings: &[&[f32]], k: usize) -> anyhow::Result<Vec<Hits>> {
        let Some(id) = self.uuid(collection, false).await? else { return Ok(vec![Hits::new(); embeddings.len()]) };
        let mut out = Vec::with_capacity(embeddings.len());
        for batch in embeddings.chunks(QUERY_BATCH) {
            let body = serde_json::json!({"query_embeddings": batch, "n_results": k, "include": ["distances"]});
            let r = self.http.post(format!("{}{TD}/collections/{id}/query", self.base)).json(&body).send().await?;
            let v = self.check(r, "query").await?;
            for q in 0..batch.len() {
                let ids = v["ids"][q].as_array().cloned().unwrap_or_default();
                let dist = v["distances"][q].as_array().cloned().unwrap_or_default();
                // Cosine distance is in [0, 2]; similarity = 1 - d/2.
                out.push(ids.iter().zip(dist.iter()).filter_map(|(i, d)| Some((i.as_str()?.to_string(), (1.0 - d.as_f64()? / 2.0).clamp(0.0, 1.0)))).collect());
            }
        }
        Ok(out)
    }

    async fn count(&self, collection: &str) -> anyhow::Result<usize> {
        let Some(id) = self.uuid(collection, false).await? else { return Ok(0) };
        let r = self.http.get(format!("{}{TD}/collections/{id}/count", self.base)).send().await?;
        Ok(self.check(r, "count").await?.as_u64().unwrap_or(0) as usize)
    }

    async fn delete_collection(&self, collection: &str) -> anyhow::Result<()> {
        let r = self.http.delete(format!("{}{TD}/collections/{collection}", self.base)).send().await?;
        if r.status() != reqwest::StatusCode::NOT_FOUND {
            self.check(r, "delete collection").await?;
        }
        self.ids.write().unwrap().remove(collection);
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "chroma"
    }
}

/// A vector index behind a circuit breaker: a Chroma that stopped answering is skipped
/// (retrieval falls back to the lexical index at once) until it cools down.
pub struct Guarded {
    inner: Box<dyn VectorIndex>,
    breaker: std::sync::Arc<super::breaker::Breaker>,
}

impl Guarded {
    pub fn new(inner: impl VectorIndex + 'static, name: &'static str) -> Guarded {
        Guarded { inner: Box::new(inner), breaker: super::breaker::Breaker::new(name) }
    }
}

#[async_trait::async_trait]
impl VectorIndex for Guarded {
    async fn upsert(&self, collection: &str, records: Vec<Record>) -> anyhow::Result<()> {
        self.breaker.call(self.inner.upsert(collection, records)).await
    }
    async fn query(&self, collection: &str, embedding: &[f32], k: usize) -> anyhow::Result<Hits> {
        self.breaker.call(self.inner.query(collection, embedding, k)).await
    }
    async fn query_many(&self, collection: &str, embeddings: &[&[f32]], k: usize) -> anyhow::Result<Vec<Hits>> {
        self.breaker.call(self.inner.query_many(collection, embeddings, k)).await
    }
    async fn count(&self, collection: &str) -> anyhow::Result<usize> {
        self.breaker.call(self.inner.count(collection)).await
    }
    async fn delete_collection(&self, collection: &str) -> anyhow::Result<()> {
        self.breaker.call(self.inner.delete_collection(collection)).await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}
