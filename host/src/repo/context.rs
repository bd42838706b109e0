//! A repository's context through the cache: a job on a commit that was indexed before
//! (by this process, or by any replica when the cache is Redis) does not re-parse. The
//! sites' embeddings go into the vector index once per repository + commit.

use super::index::{build_with_progress, RepoContext, INDEXER_VERSION};
use super::source::Checkout;
use crate::capabilities::embeddings::Embedder;
use crate::capabilities::vectors::{Record, VectorIndex};
use crate::capabilities::{Backends, RepoVectors};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default time a cached context lives (`REPO_CACHE_TTL`, seconds): contexts are keyed
/// by commit and never go stale; the TTL only bounds unused memory.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How a context was obtained.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub key: String,
    pub hit: bool,
    pub ms: f64,
    pub backend: &'static str,
}

/// The cache key: indexer version, checkout key and target paths.
pub fn key(checkout: &Checkout, targets: &[String]) -> String {
    let t = hex::encode(&Sha256::digest(targets.join("\u{1f}").as_bytes())[..6]);
    format!("repo-context:v{INDEXER_VERSION}:{}:{t}", checkout.cache_key)
}

fn ttl() -> Duration {
    std::env::var("REPO_CACHE_TTL").ok().and_then(|s| s.parse::<u64>().ok()).map(Duration::from_secs).unwrap_or(DEFAULT_TTL)
}

/// What a mapping job over `checkout` searches: the context (from the cache or built)
/// and capabilities over its in-process index, with vector search when embeddings are
/// configured. A vector index that cannot be built degrades to lexical retrieval.
pub async fn job_capabilities(backends: &Backends, checkout: &Checkout, targets: &[String]) -> Result<(RepoContext, crate::capabilities::JobCapabilities), String> {
    let (ctx, _) = load_or_build(backends, checkout, targets, Arc::new(|_, _| {})).await?;
    let vectors = ensure_vectors(backends, checkout, &ctx).await.unwrap_or_else(|e| {
        tracing::warn!("vector index unavailable ({e}); lexical retrieval serves");
        None
    });
    let caps = crate::capabilities::JobCapabilities::new(Arc::new(ctx.memory_index()), backends.cache.clone()).with_vectors(vectors);
    Ok((ctx, caps))
}

/// Load from the cache, or build and store.
pub async fn load_or_build(backends: &Backends, checkout: &Checkout, targets: &[String], progress: Arc<dyn Fn(usize, usize) + Send + Sync>) -> Result<(RepoContext, Loaded), String> {
    let key = key(checkout, targets);
    let t = Instant::now();
    let backend = backends.cache.backend();
    match backends.cache.get(&key).await {
        Ok(Some(bytes)) => match serde_json::from_slice::<RepoContext>(&bytes) {
            Ok(ctx) => {
                crate::metrics::record_cache(true);
                return Ok((ctx, Loaded { key, hit: true, ms: t.elapsed().as_secs_f64() * 1e3, backend }));
            }
            Err(e) => tracing::warn!(key, "ignoring an unreadable cached repository context: {e}"),
        },
        Ok(None) => {}
        Err(e) => tracing::warn!(key, "repository cache unavailable ({e}); indexing without it"),
    }
    crate::metrics::record_cache(false);
    // Parsing is CPU work: keep it off the async workers.
    let (root, commit, targets_owned) = (checkout.root.clone(), checkout.commit.clone(), targets.to_vec());
    let ctx = tokio::task::spawn_blocking(move || build_with_progress(&root, &targets_owned, &commit, &*progress))
        .await
        .map_err(|e| format!("indexing stopped: {e}"))??;
    match serde_json::to_vec(&ctx) {
        Ok(bytes) => {
            if let Err(e) = backends.cache.set(&key, bytes, Some(ttl())).await {
                tracing::warn!(key, "could not store the repository context ({e}); the next job will re-parse");
            }
        }
        Err(e) => tracing::warn!("cannot serialise the repository context: {e}"),
    }
    Ok((ctx, Loaded { key, hit: false, ms: t.elapsed().as_secs_f64() * 1e3, backend }))
}

/// The vector collection of a checkout.
pub fn collection(checkout: &Checkout) -> String {
    format!("planmap-{}-v{INDEXER_VERSION}", checkout.cache_key)
}

/// The text a site is embedded from.
pub fn site_text(s: &super::Site) -> String {
    format!("{} {} {} {} {}", s.kind, s.symbol, s.columns.join(" "), s.tables.join(" "), s.snippet)
}

/// Embed and upsert the context's sites unless the collection already holds them all.
/// `Ok(None)` when no embedder is configured (vector retrieval off).
pub async fn ensure_vectors(backends: &Backends, checkout: &Checkout, ctx: &RepoContext) -> anyhow::Result<Option<RepoVectors>> {
    let Some(embedder) = backends.embedder.clone() else { return Ok(None) };
    let name = collection(checkout);
    let index: Arc<dyn VectorIndex> = backends.vectors.clone();
    // Known complete by these backends (a collection is per commit and indexer version,
    // so a complete one stays complete until it is deleted with its clone, possibly by
    // another process: hence the recheck): no request at all. Otherwise the index is asked
    // how many records the collection holds, against the distinct site ids (sites may
    // share an id, and the index keeps one record per id: comparing with the number of
    // sites re-embedded such repositories on every job).
    let known = backends.complete_collections.lock().unwrap_or_else(|p| p.into_inner()).get(&name).is_some_and(|at| at.elapsed() < COMPLETE_RECHECK);
    if !known {
        let want = ctx.sites.iter().map(|s| s.id.as_str()).collect::<std::collections::HashSet<_>>().len();
        if index.count(&name).await? < want {
            upsert_sites(&*index, &embedder, &name, ctx).await?;
        }
        backends.complete_collections.lock().unwrap_or_else(|p| p.into_inner()).insert(name.clone(), Instant::now());
    }
    Ok(Some(RepoVectors { index, embedder, collection: name }))
}

/// How long a collection known complete is trusted before its count is asked again.
const COMPLETE_RECHECK: std::time::Duration = std::time::Duration::from_secs(600);

async fn upsert_sites(index: &dyn VectorIndex, embedder: &Embedder, name: &str, ctx: &RepoContext) -> anyhow::Result<()> {
    let texts: Vec<String> = ctx.sites.iter().map(site_text).collect();
    let embeddings = embedder.embed(&texts).await?;
    let records = ctx.sites.iter().zip(embeddings).zip(texts).map(|((s, e), t)| Record { id: s.id.clone(), embedding: e, document: t }).collect();
    index.upsert(name, records).await
}
