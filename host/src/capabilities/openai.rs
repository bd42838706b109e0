//! The async-openai client both model capabilities use (chat in `llm`, embeddings in
//! `embeddings`): one OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp
//! server, LiteLLM), a per-attempt timeout, and planmap's retry policy as a tower layer
//! under async-openai's calls: 429 / 5xx / timeouts / refused connections are retried
//! with exponential backoff and full jitter, honouring `Retry-After`; any other 4xx is
//! final. (async-openai's own retry layer has no jitter and does not retry timeouts.)

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use std::time::Duration;

/// First retry delay; each further retry doubles it (with full jitter).
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest wait between attempts, whatever the server's `Retry-After` asks.
pub const BACKOFF_CAP: Duration = Duration::from_secs(30);

/// An async-openai client on planmap's transport.
pub type Client = async_openai::Client<OpenAIConfig>;

/// A client for `base_url` (e.g. `https://api.openai.com/v1`). `api_key` is sent as the
/// bearer token (async-openai keeps it as a secret string); `timeout` bounds each
/// attempt; `max_retries` counts attempts after the first.
pub fn client(base_url: &str, api_key: Option<&str>, timeout: Duration, max_retries: u32) -> anyhow::Result<Client> {
    let http = crate::http::builder().timeout(timeout).build()?;
    let service = tower::ServiceBuilder::new().layer(tower::retry::RetryLayer::new(Retry { max_retries, attempt: 0 })).service(ReqwestService::new(http));
    // Every field is set here: async-openai's defaults read OPENAI_* from the process
    // environment, which must not override the service's merged configuration.
    let config = OpenAIConfig::new().with_api_base(base_url.trim_end_matches('/')).with_api_key(api_key.unwrap_or_default()).with_org_id("").with_project_id("");
    Ok(Client::with_config(config).with_http_service(service))
}

/// Longest piece of an endpoint's message quoted in an error.
const MAX_QUOTED: usize = 300;

/// `text` cut to what an error message quotes.
pub fn quoted(text: &str) -> String {
    text.chars().take(MAX_QUOTED).collect()
}

/// A failed call in one line, without echoing request data (the URL included).
pub fn describe(e: OpenAIError) -> String {
    match e {
        OpenAIError::ApiError(a) => format!("HTTP {}: {}", a.status_code, quoted(&a.api_error.message)),
        OpenAIError::Reqwest(r) => r.without_url().to_string(),
        OpenAIError::JSONDeserialize(err, _) => format!("unreadable answer: {err}"),
        other => quoted(&other.to_string()),
    }
}

/// Whether a response status is worth another attempt: rate limits and server errors.
pub fn retryable_status(status: reqwest::StatusCode) -> bool {
    status.as_u16() == 429 || status.is_server_error()
}

/// The retry policy (one instance per request: tower clones it for each call).
#[derive(Clone, Debug)]
struct Retry {
    max_retries: u32,
    attempt: u32,
}

impl tower::retry::Policy<HttpRequestFactory, reqwest::Response, OpenAIError> for Retry {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _req: &mut HttpRequestFactory, result: &mut Result<reqwest::Response, OpenAIError>) -> Option<Self::Future> {
        let (wait, why) = match result {
            Ok(r) if retryable_status(r.status()) => (retry_after(r.headers()).unwrap_or_else(|| backoff(self.attempt)).min(BACKOFF_CAP), r.status().to_string()),
            Ok(_) => return None,
            Err(OpenAIError::Reqwest(e)) if e.is_timeout() || e.is_connect() => (backoff(self.attempt), if e.is_timeout() { "timed out".to_string() } else { "connection refused".to_string() }),
            Err(_) => return None,
        };
        if self.attempt >= self.max_retries {
            return None;
        }
        self.attempt += 1;
        tracing::warn!(attempt = self.attempt, wait_ms = wait.as_millis() as u64, "model endpoint: {why}; retrying");
        Some(tokio::time::sleep(wait))
    }

    fn clone_request(&mut self, req: &HttpRequestFactory) -> Option<HttpRequestFactory> {
        Some(req.clone())
    }
}

/// The wait a `Retry-After` header asks for (seconds form; dates are treated as absent).
fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

/// Full jitter: a uniform wait in [0.1, 1] × base × 2^attempt, capped.
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE.saturating_mul(1 << attempt.min(16)).min(BACKOFF_CAP);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0) as u64;
    // A cheap random fraction: the clock's low bits, mixed.
    let frac = (nanos.wrapping_mul(6364136223846793005).rotate_left(17) % 10_000) as f64 / 10_000.0;
    ceiling.mul_f64(frac.max(0.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_stays_under_the_cap_and_retry_after_parses_seconds() {
        for attempt in 0..20 {
            let w = backoff(attempt);
            assert!(w <= BACKOFF_CAP && w >= BACKOFF_BASE.mul_f64(0.1).min(BACKOFF_CAP), "{attempt}: {w:?}");
        }
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
