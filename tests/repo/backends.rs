//! The repository context through real backends: Redis for the cache, a Chroma server
//! for vectors, a local OpenAI-compatible server for embeddings; and degradation to
//! the embedded defaults (with a message) when a configured server is down.

use crate::support::services::{self, free_port};
use planmap::capabilities::embeddings::EmbeddingsConfig;
use planmap::capabilities::{BackendConfig, Backends, CodeIndex, JobCapabilities, MemoryCache};
use planmap::repo::{self, context, source, RepoPolicy, RepoSpec};
use planmap::runtime::{CallScope, Capabilities};
use std::sync::Arc;

fn checkout() -> repo::Checkout {
    let spec = RepoSpec { url: super::fixture_repo().display().to_string(), ..Default::default() };
    source::acquire(&spec, &RepoPolicy::cli(), &std::env::temp_dir()).unwrap()
}

fn no_progress() -> Arc<dyn Fn(usize, usize) + Send + Sync> {
    Arc::new(|_, _| {})
}

#[tokio::test]
async fn a_second_job_on_the_same_commit_reopens_the_context_from_redis() {
    let redis = services::redis();
    let cfg = BackendConfig { redis_url: Some(redis.url.clone()), ..Default::default() };
    let first = Backends::connect(&cfg).await;
    assert!(first.notes.is_empty(), "{:?}", first.notes);
    assert_eq!(first.cache.backend(), "redis");
    let co = checkout();
    // A fresh key per run: the machine's Redis may hold earlier runs.
    let targets = vec![format!("etl")];
    let _ = redis::Client::open(redis.url.as_str()).unwrap().get_connection().map(|mut c| redis::cmd("DEL").arg(format!("planmap:{}", context::key(&co, &targets))).query::<i64>(&mut c));
    let (ctx1, l1) = context::load_or_build(&first, &co, &targets, no_progress()).await.unwrap();
    assert!(!l1.hit);
    // Another process (a second Backends, a fresh connection) gets it without parsing.
    let second = Backends::connect(&cfg).await;
    let (ctx2, l2) = context::load_or_build(&second, &co, &targets, no_progress()).await.unwrap();
    assert!(l2.hit, "{l2:?}");
    assert_eq!(ctx1.sites, ctx2.sites);
    assert_eq!(ctx1.edges, ctx2.edges);
    let mut c = redis::Client::open(redis.url.as_str()).unwrap().get_connection().unwrap();
    let ttl: i64 = redis::cmd("TTL").arg(format!("planmap:{}", l1.key)).query(&mut c).unwrap();
    assert!(ttl > 6 * 24 * 3600, "TTL {ttl}");
}

#[tokio::test]
async fn a_redis_that_is_down_degrades_to_the_in_process_cache_with_a_message() {
    let port = free_port();
    let cfg = BackendConfig { redis_url: Some(format!("redis://:hunter2@127.0.0.1:{port}/")), ..Default::default() };
    let b = Backends::connect(&cfg).await;
    assert_eq!(b.cache.backend(), "memory");
    assert!(b.notes.iter().any(|n| n.contains("cache:") && n.contains("in-process cache")), "{:?}", b.notes);
    assert!(!b.notes.iter().any(|n| n.contains("hunter2")), "the password is never shown: {:?}", b.notes);
    let co = checkout();
    let (ctx, l) = context::load_or_build(&b, &co, &[], no_progress()).await.unwrap();
    assert!(!l.hit && !ctx.sites.is_empty());
    let (_, l2) = context::load_or_build(&b, &co, &[], no_progress()).await.unwrap();
    assert!(l2.hit, "the in-process cache serves the second job of this process");
}

#[tokio::test]
async fn sites_are_embedded_into_chroma_once_and_queried_by_meaning() {
    let chroma = services::chroma();
    let (emb_url, requests) = services::embeddings_server();
    let cfg = BackendConfig { chroma_url: Some(chroma.url.clone()), embeddings: Some(EmbeddingsConfig { base_url: emb_url, api_key: Some("sk-test".into()), model: "fake".into() }), ..Default::default() };
    let b = Backends::connect(&cfg).await;
    assert!(b.notes.is_empty(), "{:?}", b.notes);
    assert_eq!(b.vectors.backend(), "chroma");
    let co = checkout();
    let (ctx, _) = context::load_or_build(&b, &co, &[], no_progress()).await.unwrap();
    let v = context::ensure_vectors(&b, &co, &ctx).await.unwrap().expect("embeddings are configured");
    assert_eq!(b.vectors.count(&v.collection).await.unwrap(), ctx.sites.len());
    let calls = requests.load(std::sync::atomic::Ordering::SeqCst);
    // A second job on the same commit does not embed again.
    context::ensure_vectors(&b, &co, &ctx).await.unwrap();
    assert_eq!(requests.load(std::sync::atomic::Ordering::SeqCst), calls);
    // The capability the plugins call.
    let caps = JobCapabilities::new(Arc::new(ctx.memory_index()), Arc::new(MemoryCache::new())).with_vectors(Some(v.clone()));
    let hits = caps.nearest(&CallScope::default(), "join customers on customer_id left enrich".into(), 5).await.unwrap();
    let join = ctx.sites.iter().find(|s| s.file == "etl/transform.py" && s.kind == "join").unwrap();
    let join_id = caps.index.id_of(&join.id).expect("the join is indexed");
    assert!(hits.iter().any(|h| h.site_id == join_id), "{hits:?}");
    assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    // Eviction deletes the collection.
    b.vectors.delete_collection(&v.collection).await.unwrap();
    assert_eq!(b.vectors.count(&v.collection).await.unwrap(), 0);
}

#[tokio::test]
async fn a_chroma_that_is_down_degrades_and_lexical_retrieval_still_works() {
    let port = free_port();
    let (emb_url, _) = services::embeddings_server();
    let cfg = BackendConfig { chroma_url: Some(format!("http://127.0.0.1:{port}")), chroma_token: Some("chroma-secret".into()), embeddings: Some(EmbeddingsConfig { base_url: emb_url, api_key: None, model: "fake".into() }), ..Default::default() };
    let b = Backends::connect(&cfg).await;
    assert_eq!(b.vectors.backend(), "memory");
    assert!(b.notes.iter().any(|n| n.starts_with("vectors:") && n.contains("in-process vector index")), "{:?}", b.notes);
    assert!(!b.notes.iter().any(|n| n.contains("chroma-secret")));
    let co = checkout();
    let (ctx, _) = context::load_or_build(&b, &co, &[], no_progress()).await.unwrap();
    // The embedded vector index serves instead, and lexical search is unaffected.
    let v = context::ensure_vectors(&b, &co, &ctx).await.unwrap().unwrap();
    assert_eq!(b.vectors.count(&v.collection).await.unwrap(), ctx.sites.len());
    let idx = ctx.memory_index();
    assert!(!idx.search(&["customer_id".to_string()], &[], 5, None).is_empty());
}

#[tokio::test]
async fn without_embeddings_vector_retrieval_is_off_with_a_clear_error() {
    let b = Backends::connect(&BackendConfig::default()).await;
    let co = checkout();
    let (ctx, _) = context::load_or_build(&b, &co, &[], no_progress()).await.unwrap();
    assert!(context::ensure_vectors(&b, &co, &ctx).await.unwrap().is_none());
    let caps = JobCapabilities::new(Arc::new(ctx.memory_index()), Arc::new(MemoryCache::new()));
    let err = caps.nearest(&CallScope::default(), "x".into(), 3).await.unwrap_err();
    assert!(err.message.contains("no embedding model is configured"), "{}", err.message);
}

/// A Redis that dies while the service runs: after a few failed calls its circuit opens
/// and each cache call falls back at once instead of waiting out its timeout.
#[tokio::test]
async fn a_redis_that_dies_is_skipped_by_its_circuit_breaker() {
    use planmap::capabilities::cache::Cache;
    let mut redis = services::private_redis();
    let cache = planmap::capabilities::redis_cache::RedisCache::connect(&redis.url).await.unwrap();
    cache.set("breaker-probe", b"x".to_vec(), None).await.unwrap();
    redis.stop();
    for _ in 0..planmap::capabilities::breaker::FAILURES_TO_OPEN {
        assert!(cache.get("breaker-probe").await.is_err());
    }
    let t = std::time::Instant::now();
    let skipped = cache.get("breaker-probe").await.unwrap_err().to_string();
    assert!(skipped.contains("redis skipped"), "{skipped}");
    assert!(t.elapsed() < std::time::Duration::from_millis(50), "an open circuit answers at once: {:?}", t.elapsed());
    let report = planmap::capabilities::breaker::reports().into_iter().find(|r| r["backend"] == "redis" && r["state"] == "open");
    assert!(report.is_some(), "/ready reports the open circuit");
}
