//! The cache capability's real backend: Redis (`REDIS_URL`), with a connection manager
//! that reconnects by itself. Keys are prefixed so planmap can share a Redis.

use super::cache::{Cache, DEFAULT_TTL};
use redis::AsyncCommands;
use std::time::Duration;

/// Prefix of every key planmap writes.
pub const KEY_PREFIX: &str = "planmap:";
/// How long connecting may take before planmap gives up and uses the in-process cache.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may take before the cache counts as unavailable for it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection after the connection broke: one quick retry, then the command fails
/// (and the breaker counts it). The manager's default, six retries backing off from
/// 100 ms, made every call to a Redis that died wait about two seconds.
const RECONNECT_RETRIES: usize = 1;
const RECONNECT_DELAY: Duration = Duration::from_millis(50);
const RECONNECT_TIMEOUT: Duration = Duration::from_millis(500);

pub struct RedisCache {
    conn: redis::aio::ConnectionManager,
    /// A dead Redis is skipped (cache misses at once) instead of costing every call its
    /// timeout.
    breaker: std::sync::Arc<super::breaker::Breaker>,
}

/// A URL with any password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://<redacted>@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl RedisCache {
    /// Connect and check the server answers.
    pub async fn connect(url: &str) -> anyhow::Result<RedisCache> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("REDIS_URL {}: {e}", redact_url(url)))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(RECONNECT_DELAY)
            .set_connection_timeout(Some(RECONNECT_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT));
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, redis::aio::ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| anyhow::anyhow!("redis at {}: no answer within {} s", redact_url(url), CONNECT_TIMEOUT.as_secs()))?
            .map_err(|e| anyhow::anyhow!("redis at {}: {e}", redact_url(url)))?;
        let mut c = conn.clone();
        let _: String = tokio::time::timeout(COMMAND_TIMEOUT, redis::cmd("PING").query_async(&mut c))
            .await
            .map_err(|_| anyhow::anyhow!("redis at {}: PING timed out", redact_url(url)))?
            .map_err(|e| anyhow::anyhow!("redis at {}: {e}", redact_url(url)))?;
        Ok(RedisCache { conn, breaker: super::breaker::Breaker::new("redis") })
    }
}

#[async_trait::async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let mut c = self.conn.clone();
        self.breaker
            .call(async {
                let v: Option<Vec<u8>> = tokio::time::timeout(COMMAND_TIMEOUT, c.get(format!("{KEY_PREFIX}{key}"))).await.map_err(|_| anyhow::anyhow!("redis GET timed out"))??;
                Ok(v)
            })
            .await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> anyhow::Result<()> {
        let mut c = self.conn.clone();
        let secs = ttl.unwrap_or(DEFAULT_TTL).as_secs().max(1);
        self.breaker
            .call(async {
                let _: () = tokio::time::timeout(COMMAND_TIMEOUT, c.set_ex(format!("{KEY_PREFIX}{key}"), value, secs)).await.map_err(|_| anyhow::anyhow!("redis SET timed out"))??;
                Ok(())
            })
            .await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
