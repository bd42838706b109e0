//! The `llm` capability: an OpenAI-compatible chat model (OpenAI, vLLM, Ollama,
//! llama.cpp server, LiteLLM), called through async-openai, behind the host's rules.
//! Plugins only ask; the host redacts secrets from prompts, answers repeats from the
//! cache (a resumed or repeated job never pays twice), checks the job's budget before a
//! call (estimate) and after (actual usage), and retries 429 / 5xx / timeouts with
//! exponential backoff and jitter, honouring `Retry-After`, never other 4xx (the
//! transport in `openai`).

use super::cache::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A job's model budget when none is configured (`MAX_JOB_COST_USD`), in US dollars.
pub const DEFAULT_BUDGET_USD: f64 = 1.0;
/// Characters per token when estimating a prompt's cost before sending it (English
/// and code average about four).
const CHARS_PER_TOKEN: usize = 4;
/// Cached answers live this long (a week: repository contexts live as long).
const CACHE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// US dollars per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub prompt: f64,
    pub completion: f64,
}

/// Prices of well-known models (USD per 1k tokens); `LLM_PRICES` overrides or adds.
const KNOWN_PRICES: &[(&str, Price)] = &[
    ("gpt-4o-mini", Price { prompt: 0.00015, completion: 0.0006 }),
    ("gpt-4o", Price { prompt: 0.0025, completion: 0.01 }),
    ("gpt-4.1-mini", Price { prompt: 0.0004, completion: 0.0016 }),
    ("gpt-4.1", Price { prompt: 0.002, completion: 0.008 }),
];

/// How to reach the model and what it costs.
#[derive(Clone)]
pub struct LlmConfig {
    pub base_url: String,
    /// Secret: sent as the bearer token, never logged.
    pub api_key: Option<String>,
    pub model: String,
    pub timeout: Duration,
    pub max_retries: u32,
    pub price: Price,
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig").field("base_url", &self.base_url).field("api_key", &self.api_key.as_ref().map(|_| "<redacted>")).field("model", &self.model).field("timeout", &self.timeout).field("max_retries", &self.max_retries).field("price", &self.price).finish()
    }
}

impl LlmConfig {
    /// From `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `LLM_MODEL`, `LLM_TIMEOUT_SECONDS`,
    /// `LLM_MAX_RETRIES`, `LLM_PRICES` (`model=prompt/completion` per 1k tokens, comma
    /// separated) read through `var`; `None` when neither key nor base URL is set.
    /// `Err` names a setting that does not parse.
    pub fn from_lookup(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<LlmConfig>, String> {
        let get = |k: &str| var(k).filter(|s| !s.trim().is_empty());
        let (base, key) = (get("OPENAI_BASE_URL"), get("OPENAI_API_KEY"));
        if base.is_none() && key.is_none() {
            return Ok(None);
        }
        let model = get("LLM_MODEL").unwrap_or_else(|| "gpt-4o-mini".into());
        let num = |k: &str, default: u64| -> Result<u64, String> { get(k).map(|v| v.trim().parse::<u64>().map_err(|_| format!("{k}: expected a whole number, got {v:?}"))).unwrap_or(Ok(default)) };
        let timeout = Duration::from_secs(num("LLM_TIMEOUT_SECONDS", 60)?.max(1));
        let max_retries = num("LLM_MAX_RETRIES", 4)? as u32;
        let mut prices: Vec<(String, Price)> = KNOWN_PRICES.iter().map(|(m, p)| (m.to_string(), *p)).collect();
        for entry in get("LLM_PRICES").unwrap_or_default().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parsed = entry.split_once('=').and_then(|(m, p)| {
                let (a, b) = p.split_once('/')?;
                Some((m.trim().to_string(), Price { prompt: a.trim().parse().ok()?, completion: b.trim().parse().ok()? }))
            });
            match parsed {
                Some((m, p)) if p.prompt >= 0.0 && p.completion >= 0.0 => {
                    prices.retain(|(k, _)| *k != m);
                    prices.push((m, p));
                }
                _ => return Err(format!("LLM_PRICES: {entry:?} is not model=prompt/completion (USD per 1k tokens)")),
            }
        }
        let price = prices.iter().find(|(m, _)| *m == model).map(|(_, p)| *p).ok_or_else(|| format!("LLM_PRICES: no price for model {model:?}; add `{model}=PROMPT/COMPLETION` (USD per 1k tokens) so the budget can be enforced"))?;
        Ok(Some(LlmConfig { base_url: base.unwrap_or_else(|| "https://api.openai.com/v1".into()).trim_end_matches('/').to_string(), api_key: key, model, timeout, max_retries, price }))
    }
}

/// A completion request as the plugin made it (after redaction).
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub system: String,
    pub prompt: String,
    pub max_tokens: u32,
    pub temperature: f32,
    pub json: bool,
}

/// An answer with its token usage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    pub text: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model endpoint refused the request ({status}): {body}")]
    Rejected { status: u16, body: String },
    #[error("the model endpoint kept failing after {attempts} attempts: {last}")]
    Exhausted { attempts: u32, last: String },
    #[error("the model's answer is not a chat completion: {0}")]
    Malformed(String),
    /// The model's circuit is open: it failed repeatedly and is skipped for a while.
    #[error("{0}")]
    Skipped(String),
}

/// The client of one model endpoint, shared by all jobs of a process.
pub struct LlmClient {
    pub cfg: LlmConfig,
    api: super::openai::Client,
    /// An endpoint that keeps failing after its retries is skipped for a while: nodes
    /// go on without the model at once instead of each waiting out the retries.
    breaker: std::sync::Arc<super::breaker::Breaker>,
}

impl LlmClient {
    pub fn new(cfg: LlmConfig) -> anyhow::Result<LlmClient> {
        let api = super::openai::client(&cfg.base_url, cfg.api_key.as_deref(), cfg.timeout, cfg.max_retries)?;
        Ok(LlmClient { cfg, api, breaker: super::breaker::Breaker::new("model") })
    }

    /// Ask the model (the transport retries what is worth retrying).
    pub async fn complete(&self, req: &Request) -> Result<Answer, LlmError> {
        use async_openai::types::chat::{ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, CreateChatCompletionRequest, ResponseFormat};
        #[allow(deprecated)]
        let request = CreateChatCompletionRequest {
            model: self.cfg.model.clone(),
            messages: vec![
                ChatCompletionRequestSystemMessage { content: req.system.clone().into(), name: None }.into(),
                ChatCompletionRequestUserMessage { content: req.prompt.clone().into(), name: None }.into(),
            ],
            // `max_tokens` rather than `max_completion_tokens`: the servers people run
            // locally (llama.cpp, vLLM, Ollama) read the former; OpenAI accepts both.
            max_tokens: Some(req.max_tokens),
            temperature: Some(req.temperature),
            response_format: req.json.then_some(ResponseFormat::JsonObject),
            ..Default::default()
        };
        self.breaker.allow().map_err(LlmError::Skipped)?;
        let r = match self.api.chat().create(request).await {
            Ok(r) => {
                self.breaker.success();
                r
            }
            Err(e) => {
                let e = self.failure(e);
                // Only an endpoint that does not answer is an outage; a refusal or an
                // odd answer is the endpoint at work.
                match &e {
                    LlmError::Exhausted { .. } => self.breaker.failure(&e.to_string()),
                    _ => self.breaker.success(),
                }
                return Err(e);
            }
        };
        let usage = r.usage.ok_or_else(|| LlmError::Malformed("no usage (token counts are needed for cost accounting)".into()))?;
        let text = r.choices.into_iter().next().and_then(|c| c.message.content).ok_or_else(|| LlmError::Malformed("no choices or no content".into()))?;
        Ok(Answer { text, prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens })
    }

    /// What a failed call means: refused (final), or still failing when the retries ran out.
    fn failure(&self, e: async_openai::error::OpenAIError) -> LlmError {
        use super::openai::quoted;
        use async_openai::error::OpenAIError as E;
        let attempts = self.cfg.max_retries + 1;
        match e {
            E::ApiError(a) if super::openai::retryable_status(a.status_code) => LlmError::Exhausted { attempts, last: format!("{}: {}", a.status_code, quoted(&a.api_error.message)) },
            E::ApiError(a) => LlmError::Rejected { status: a.status_code.as_u16(), body: quoted(&a.api_error.message) },
            E::Reqwest(r) if r.is_timeout() => LlmError::Exhausted { attempts, last: format!("no answer within {} s", self.cfg.timeout.as_secs()) },
            // The endpoint's address is configuration, not a secret, but keep messages short.
            E::Reqwest(r) if r.is_connect() => LlmError::Exhausted { attempts, last: format!("cannot connect: {}", r.without_url()) },
            E::JSONDeserialize(err, _) => LlmError::Malformed(err.to_string()),
            other => LlmError::Malformed(super::openai::describe(other)),
        }
    }

    /// The cost of `prompt` and `completion` tokens in US dollars.
    pub fn cost(&self, prompt: u32, completion: u32) -> f64 {
        (prompt as f64 * self.cfg.price.prompt + completion as f64 * self.cfg.price.completion) / 1000.0
    }

    /// A cost estimate for a request before it is sent (its whole `max_tokens` counted).
    pub fn estimate(&self, req: &Request) -> f64 {
        let prompt = (req.system.len() + req.prompt.len()).div_ceil(CHARS_PER_TOKEN) as u32;
        self.cost(prompt, req.max_tokens)
    }
}

/// One job's spending.
#[derive(Debug, Default)]
pub struct Budget {
    pub limit_usd: f64,
    state: Mutex<Spend>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Spend {
    pub usd: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub calls: u64,
    pub cache_hits: u64,
    /// True once a call was refused for the budget.
    pub exhausted: bool,
}

impl Budget {
    /// A budget of `limit_usd`, with `spent` already used (a resumed job's earlier spending).
    pub fn new(limit_usd: f64, spent: f64) -> Budget {
        Budget { limit_usd, state: Mutex::new(Spend { usd: spent, ..Default::default() }) }
    }

    pub fn spend(&self) -> Spend {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether calls may still be made: no call was refused and money is left.
    pub fn has_room(&self) -> bool {
        let st = self.spend();
        !st.exhausted && st.usd < self.limit_usd
    }
}

/// Patterns of common credentials, removed from prompts whatever the plugin sent.
fn credential_patterns() -> &'static [regex::Regex] {
    static P: std::sync::OnceLock<Vec<regex::Regex>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        [
            r"gh[pousr]_[A-Za-z0-9]{20,}",
            r"github_pat_[A-Za-z0-9_]{20,}",
            r"glpat-[A-Za-z0-9_\-]{20,}",
            r"sk-[A-Za-z0-9_\-]{20,}",
            r"AKIA[0-9A-Z]{16}",
            r"xox[abprs]-[A-Za-z0-9\-]{10,}",
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
            r"(?i)(password|passwd|secret|api[_-]?key|token)\s*[:=]\s*['\x22]?[^\s'\x22]{6,}",
            r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@",
        ]
        .iter()
        .map(|p| regex::Regex::new(p).expect("valid pattern"))
        .collect()
    })
}

/// `text` with `secrets` (exact values) and credential-shaped strings replaced.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 6) {
        out = out.replace(s.as_str(), "[redacted]");
    }
    for p in credential_patterns() {
        out = p.replace_all(&out, "[redacted]").into_owned();
    }
    out
}

/// The model as one job sees it: its client, its budget, the secrets it must never
/// send, and the cache shared with other jobs.
pub struct JobLlm {
    pub client: Arc<LlmClient>,
    pub budget: Arc<Budget>,
    pub secrets: Vec<String>,
    pub cache: Arc<dyn Cache>,
}

/// What a call produced.
pub enum Outcome {
    Answer { answer: Answer, cached: bool },
    /// Refused: the job's budget cannot cover the call's estimate.
    OverBudget { spent: f64, estimate: f64, limit: f64 },
    Failed(LlmError),
}

impl JobLlm {
    fn key(&self, req: &Request) -> String {
        let mut h = Sha256::new();
        for part in [self.client.cfg.model.as_str(), &req.system, &req.prompt, &req.max_tokens.to_string(), &req.temperature.to_string(), if req.json { "json" } else { "text" }] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        format!("llm:v1:{}", hex::encode(h.finalize()))
    }

    /// Ask, with redaction, the cache and the budget.
    pub async fn complete(&self, mut req: Request) -> Outcome {
        req.system = redact(&req.system, &self.secrets);
        req.prompt = redact(&req.prompt, &self.secrets);
        let key = self.key(&req);
        if let Ok(Some(bytes)) = self.cache.get(&key).await
            && let Ok(answer) = serde_json::from_slice::<Answer>(&bytes) {
                self.budget.state.lock().unwrap_or_else(|p| p.into_inner()).cache_hits += 1;
                return Outcome::Answer { answer, cached: true };
            }
        let estimate = self.client.estimate(&req);
        {
            let mut st = self.budget.state.lock().unwrap_or_else(|p| p.into_inner());
            if st.usd + estimate > self.budget.limit_usd {
                let first = !st.exhausted;
                st.exhausted = true;
                if first {
                    crate::metrics::record_budget_exhausted();
                }
                return Outcome::OverBudget { spent: st.usd, estimate, limit: self.budget.limit_usd };
            }
        }
        let t = Instant::now();
        match self.client.complete(&req).await {
            Ok(answer) => {
                let cost = self.client.cost(answer.prompt_tokens, answer.completion_tokens);
                {
                    let mut st = self.budget.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.usd += cost;
                    st.prompt_tokens += answer.prompt_tokens as u64;
                    st.completion_tokens += answer.completion_tokens as u64;
                    st.calls += 1;
                }
                crate::metrics::record_llm(answer.prompt_tokens as u64, answer.completion_tokens as u64, cost);
                tracing::debug!(ms = t.elapsed().as_millis() as u64, cost, "llm call");
                if let Ok(bytes) = serde_json::to_vec(&answer)
                    && let Err(e) = self.cache.set(&key, bytes, Some(CACHE_TTL)).await {
                        tracing::warn!("llm answer not cached: {e}");
                    }
                Outcome::Answer { answer, cached: false }
            }
            Err(e) => Outcome::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_known_secrets_never_reach_a_prompt() {
        let text = "repo https://bob:hunter22@git.example.com/x.git token ghp_abcdefghijklmnopqrstuvwxyz012345 and my-own-secret-value, AKIAABCDEFGHIJKLMNOP, password = swordfish1";
        let r = redact(text, &["my-own-secret-value".to_string()]);
        for s in ["hunter22", "ghp_abc", "my-own-secret-value", "AKIAABCDEFGHIJKLMNOP", "swordfish1"] {
            assert!(!r.contains(s), "{s} survived: {r}");
        }
        assert!(r.contains("repo ") && r.contains("[redacted]"));
    }

    #[test]
    fn prices_come_from_the_table_or_the_setting_and_an_unknown_model_is_an_error() {
        let cfg = |pairs: &[(&str, &str)]| {
            let m: std::collections::HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            LlmConfig::from_lookup(&|k| m.get(k).cloned())
        };
        assert!(cfg(&[]).unwrap().is_none());
        assert_eq!(cfg(&[("OPENAI_API_KEY", "k")]).unwrap().unwrap().price, Price { prompt: 0.00015, completion: 0.0006 });
        let local = cfg(&[("OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"), ("LLM_MODEL", "qwen"), ("LLM_PRICES", "qwen=0/0")]).unwrap().unwrap();
        assert_eq!((local.model.as_str(), local.price.prompt), ("qwen", 0.0));
        assert!(cfg(&[("OPENAI_BASE_URL", "http://x"), ("LLM_MODEL", "mystery")]).unwrap_err().contains("mystery"));
        assert!(cfg(&[("OPENAI_API_KEY", "k"), ("LLM_PRICES", "bad")]).unwrap_err().contains("LLM_PRICES"));
    }
}
