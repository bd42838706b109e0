//! The service's configuration: environment variables (the names in the design and the
//! deployment files) over an optional TOML file whose keys are the same names in lower
//! case. Every problem is collected, so a bad deployment fails at start listing all of
//! them instead of one per restart.

use crate::capabilities::BackendConfig;
use crate::mapping::Thresholds;
use crate::repo::RepoPolicy;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Largest uploaded plan file: a real job's event log is hundreds of MB uncompressed.
const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// Plan bytes in flight per process: a submission is held about twice over while it is
/// checked (its parsed body and its plan) plus the parsed plan, so 128 MiB keeps the
/// submissions of a burst under about half a GiB, inside the shipped 2 GiB limit with
/// the workers' jobs beside them.
const DEFAULT_PLAN_BYTES_IN_FLIGHT: u64 = 128 << 20;

/// Every setting the service reads. Keys of the TOML file must be one of these (lower
/// case), so a typo is an error rather than a silently ignored line.
pub const SETTINGS: &[(&str, &str)] = &[
    ("BIND_ADDR", "address to listen on (default 127.0.0.1:3000)"),
    ("PORT", "port to listen on (overrides the port of BIND_ADDR)"),
    ("DATABASE_URL", "postgres://… for Postgres; sqlite:PATH or a path for SQLite (default: the embedded file)"),
    ("RUN_MIGRATIONS", "apply migrations at start (default true)"),
    ("REDIS_URL", "repository-context cache (default: in-process)"),
    ("CHROMA_URL", "vector index (default: in-process)"),
    ("CHROMA_TOKEN", "Chroma auth token (secret)"),
    ("OPENAI_API_KEY", "OpenAI-compatible API key (secret)"),
    ("OPENAI_BASE_URL", "OpenAI-compatible API base URL"),
    ("EMBEDDING_MODEL", "embeddings model name"),
    ("LLM_MODEL", "chat model for verification (default gpt-4o-mini)"),
    ("LLM_TIMEOUT_SECONDS", "per-request timeout of the chat model (default 60)"),
    ("LLM_MAX_RETRIES", "retries on 429, 5xx and timeouts (default 4)"),
    ("LLM_PRICES", "model=prompt/completion USD per 1k tokens, comma-separated (known OpenAI models built in)"),
    ("MAX_PARALLEL_NODES", "plan nodes of one job mapped at once, in lock-step batches (default 5)"),
    ("RETRIEVAL_TOP_K", "candidates per retrieval, overriding the graphs' top_k"),
    ("CONFIDENCE_THRESHOLD_HIGH", "calibrated confidence from which a mapping is confirmed (default 0.95)"),
    ("CONFIDENCE_THRESHOLD_LOW", "confidence below which a mapping is uncertain (default 0.5)"),
    ("MAX_JOB_COST_USD", "per-job LLM budget in US dollars (default 1.0)"),
    ("LOG_LEVEL", "log filter (default info)"),
    ("LOG_FORMAT", "json (default) or text"),
    ("METRICS_ENABLED", "serve /metrics (default true)"),
    ("REPO_CLONE_DIR", "where repositories are cloned (default ~/.cache/planmap/repos)"),
    ("REPO_CACHE_TTL", "seconds a cached repository context lives (default 604800)"),
    ("REPO_ALLOWED_HOSTS", "comma-separated hosts repository URLs may name (default: any public host)"),
    ("REPO_ALLOW_LOCAL", "allow local paths and file:// URLs (default false)"),
    ("CORS_ORIGINS", "comma-separated origins allowed to call the API from a browser"),
    ("JWT_SECRET", "HS256 secret for bearer tokens (secret)"),
    ("JWT_PUBLIC_KEY", "PEM public key for RS256/ES256 bearer tokens"),
    ("JWT_PUBLIC_KEY_FILE", "file holding JWT_PUBLIC_KEY"),
    ("JWT_ALGORITHM", "HS256, RS256 or ES256 (default HS256 with a secret, RS256 with a key)"),
    ("JWT_ISSUER", "required `iss` of bearer tokens"),
    ("JWT_AUDIENCE", "required `aud` of bearer tokens"),
    ("JWT_TENANT_CLAIM", "claim naming the caller's tenant (default `tenant`, else `sub`)"),
    ("API_KEYS", "comma-separated tenant:key pairs accepted as bearer tokens or X-API-Key (secret)"),
    ("AUTH_DISABLED", "accept unauthenticated calls as tenant `local` (only on a loopback address)"),
    ("RATE_LIMIT_PER_MINUTE", "job submissions per caller per minute (default 60; 0 = off)"),
    ("RATE_LIMIT_BURST", "submissions a caller may make at once (default 20)"),
    ("MAX_BODY_BYTES", "largest JSON request body (default 33554432)"),
    ("MAX_UPLOAD_BYTES", "largest plan file uploaded as a raw or multipart body, and the most it may decode to (default 1073741824)"),
    ("MAX_PLAN_NODES", "largest plan, in nodes (default 20000)"),
    ("MAX_PLAN_BYTES_IN_FLIGHT", "plan bytes this process accepts at once across submissions being checked; more is 429 (default 134217728)"),
    ("MAX_SUBMISSIONS_PER_TENANT", "submissions of one tenant checked at once by this process; more is 429 (default 32)"),
    ("MAX_STREAMS_PER_CALLER", "event streams one caller may hold open on this process; more is 429 (default 64)"),
    ("WORKERS", "jobs this process runs at once (default 2; 0 = API only)"),
    ("JOB_LEASE_SECONDS", "lease on a running job, renewed every third (default 30)"),
    ("SHUTDOWN_GRACE_SECONDS", "time to finish jobs in hand on shutdown before releasing them (default 20)"),
    ("INSTANCE_ID", "this process's name in leases (default host-pid)"),
    ("PLANMAP_PLUGIN_DIR", "plugin folder (default plugins)"),
    ("PLANMAP_GRAPH_DIR", "graph folder (default graphs)"),
    ("PLANMAP_COMPILE_CACHE", "compiled-plugin cache folder (default ~/.cache/planmap/compiled)"),
];

/// How callers prove who they are.
#[derive(Clone, Default)]
pub struct AuthConfig {
    pub jwt: Option<JwtConfig>,
    /// (tenant, key) pairs.
    pub api_keys: Vec<(String, String)>,
    /// No credentials required (loopback only): every caller is tenant `local`.
    pub disabled: bool,
}

/// Bearer JWT verification.
#[derive(Clone)]
pub struct JwtConfig {
    pub algorithm: jsonwebtoken::Algorithm,
    /// The HS256 secret or the PEM public key.
    pub key: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub tenant_claim: String,
}

/// Everything `planmap serve` runs with.
#[derive(Clone)]
pub struct ServiceConfig {
    pub bind: SocketAddr,
    pub database_url: Option<String>,
    pub run_migrations: bool,
    pub backends: BackendConfig,
    pub parallel: usize,
    pub retrieval_top_k: Option<u32>,
    pub thresholds: Thresholds,
    pub max_job_cost_usd: f64,
    pub log_level: String,
    pub log_json: bool,
    pub metrics_enabled: bool,
    pub clone_dir: PathBuf,
    pub policy: RepoPolicy,
    pub cors_origins: Vec<String>,
    pub auth: AuthConfig,
    pub rate_per_minute: u32,
    pub rate_burst: u32,
    pub max_body_bytes: usize,
    pub max_upload_bytes: u64,
    pub max_plan_nodes: usize,
    pub max_plan_bytes_in_flight: u64,
    pub max_submissions_per_tenant: usize,
    pub max_streams_per_caller: usize,
    pub workers: usize,
    pub lease: Duration,
    pub shutdown_grace: Duration,
    pub instance: String,
    /// Plugin and graph folders when configured (else the command line's).
    pub plugin_dir: Option<PathBuf>,
    pub graph_dir: Option<PathBuf>,
    pub compile_cache: Option<PathBuf>,
}

/// Settings as text, by upper-case name: the file's values under the environment's.
pub struct Settings(BTreeMap<String, String>);

impl Settings {
    /// Read `file` (if any) and the environment; unknown file keys are problems.
    pub fn load(file: Option<&std::path::Path>, env: impl Iterator<Item = (String, String)>, problems: &mut Vec<String>) -> Settings {
        let mut map = BTreeMap::new();
        if let Some(path) = file {
            match std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| t.parse::<toml::Table>().map_err(|e| e.to_string())) {
                Ok(table) => {
                    for (k, v) in table {
                        let name = k.to_ascii_uppercase();
                        if !SETTINGS.iter().any(|(s, _)| *s == name) {
                            problems.push(format!("{}: unknown setting `{k}`", path.display()));
                            continue;
                        }
                        let text = match v {
                            toml::Value::String(s) => s,
                            toml::Value::Array(a) => a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect::<Vec<_>>().join(","),
                            other => other.to_string(),
                        };
                        map.insert(name, text);
                    }
                }
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        for (k, v) in env {
            if SETTINGS.iter().any(|(s, _)| *s == k) && !v.is_empty() {
                map.insert(k, v);
            }
        }
        Settings(map)
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// A parsed value, or `default`; a value that does not parse is a problem naming
    /// the setting and what it expects.
    fn parse<T: std::str::FromStr>(&self, k: &str, default: T, expects: &str, problems: &mut Vec<String>) -> T {
        match self.get(k) {
            None => default,
            Some(v) => v.trim().parse().unwrap_or_else(|_| {
                problems.push(format!("{k}: expected {expects}, got {v:?}"));
                default
            }),
        }
    }

    fn flag(&self, k: &str, default: bool, problems: &mut Vec<String>) -> bool {
        match self.get(k).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => true,
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => false,
            Some(v) => {
                problems.push(format!("{k}: expected true or false, got {v:?}"));
                default
            }
        }
    }
}

fn list(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("").split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

impl ServiceConfig {
    /// Build and check the configuration; `Err` lists every problem.
    pub fn from_settings(s: &Settings, mut problems: Vec<String>) -> Result<ServiceConfig, Vec<String>> {
        let p = &mut problems;
        let mut bind: SocketAddr = s.parse("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 3000)), "host:port, e.g. 0.0.0.0:3000", p);
        if s.get("PORT").is_some() {
            bind.set_port(s.parse("PORT", 3000u16, "a port number", p));
        }
        let parallel = s.parse("MAX_PARALLEL_NODES", crate::mapping::DEFAULT_PARALLEL_NODES, "a whole number", p);
        if !(1..=256).contains(&parallel) {
            p.push(format!("MAX_PARALLEL_NODES: must be between 1 and 256, got {parallel}"));
        }
        let retrieval_top_k = s.get("RETRIEVAL_TOP_K").map(|_| s.parse("RETRIEVAL_TOP_K", 20u32, "a whole number", p));
        if let Some(k) = retrieval_top_k
            && !(1..=1000).contains(&k) {
                p.push(format!("RETRIEVAL_TOP_K: must be between 1 and 1000, got {k}"));
            }
        let high = s.parse("CONFIDENCE_THRESHOLD_HIGH", crate::mapping::CONFIRMED, "a number in [0, 1]", p);
        let low = s.parse("CONFIDENCE_THRESHOLD_LOW", 0.5f64, "a number in [0, 1]", p);
        if !(0.0..=1.0).contains(&low) || !(0.0..=1.0).contains(&high) || low > high {
            p.push(format!("CONFIDENCE_THRESHOLD_LOW ({low}) and CONFIDENCE_THRESHOLD_HIGH ({high}) must satisfy 0 <= low <= high <= 1"));
        }
        let max_job_cost_usd = s.parse("MAX_JOB_COST_USD", crate::capabilities::llm::DEFAULT_BUDGET_USD, "a number of US dollars", p);
        if !(max_job_cost_usd >= 0.0 && max_job_cost_usd.is_finite()) {
            p.push(format!("MAX_JOB_COST_USD: must be zero or more, got {max_job_cost_usd}"));
        }
        let log_level = s.get("LOG_LEVEL").unwrap_or("info").to_string();
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            p.push(format!("LOG_LEVEL: not a log filter: {log_level:?} (e.g. info, planmap=debug)"));
        }
        let log_json = match s.get("LOG_FORMAT").unwrap_or("json") {
            "json" => true,
            "text" => false,
            other => {
                p.push(format!("LOG_FORMAT: expected json or text, got {other:?}"));
                true
            }
        };
        let metrics_enabled = s.flag("METRICS_ENABLED", true, p);
        let clone_dir = s.get("REPO_CLONE_DIR").map(PathBuf::from).or_else(|| crate::config::default_compile_cache().and_then(|c| c.parent().map(|d| d.join("repos")))).unwrap_or_else(|| PathBuf::from("repos"));
        if s.get("REPO_CACHE_TTL").is_some() {
            let _ = s.parse("REPO_CACHE_TTL", 0u64, "a number of seconds", p);
        }
        let allow_local = s.flag("REPO_ALLOW_LOCAL", false, p);
        let policy = RepoPolicy { allow_local, allowed_hosts: list(s.get("REPO_ALLOWED_HOSTS")).into_iter().map(|h| h.to_ascii_lowercase()).collect() };
        let cors_origins = list(s.get("CORS_ORIGINS"));
        for o in &cors_origins {
            if o != "*" && (!(o.starts_with("https://") || o.starts_with("http://")) || o.ends_with('/') || axum::http::HeaderValue::from_str(o).is_err()) {
                p.push(format!("CORS_ORIGINS: {o:?} is not an origin (scheme://host[:port], no path)"));
            }
        }
        if cors_origins.iter().any(|o| o == "*") {
            p.push("CORS_ORIGINS: `*` is not allowed (the API carries credentials); list the origins".into());
        }
        let auth = auth_config(s, p);
        if auth.disabled && !bind.ip().is_loopback() {
            p.push(format!("AUTH_DISABLED: only allowed when listening on a loopback address, not {bind}"));
        }
        if auth.jwt.is_none() && auth.api_keys.is_empty() && !auth.disabled {
            p.push("no authentication configured: set JWT_SECRET or JWT_PUBLIC_KEY, or API_KEYS (or AUTH_DISABLED=true on a loopback address for local use)".into());
        }
        let rate_per_minute = s.parse("RATE_LIMIT_PER_MINUTE", 60u32, "a whole number", p);
        let rate_burst = s.parse("RATE_LIMIT_BURST", 20u32, "a whole number", p);
        if rate_per_minute > 0 && rate_burst == 0 {
            p.push("RATE_LIMIT_BURST: must be at least 1 when RATE_LIMIT_PER_MINUTE is set".into());
        }
        let max_body_bytes = s.parse("MAX_BODY_BYTES", 32usize << 20, "a number of bytes", p);
        if max_body_bytes < 1024 {
            p.push(format!("MAX_BODY_BYTES: {max_body_bytes} is too small for any plan (at least 1024)"));
        }
        let max_upload_bytes = s.parse("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES, "a number of bytes", p);
        if max_upload_bytes < 1024 {
            p.push(format!("MAX_UPLOAD_BYTES: {max_upload_bytes} is too small for any plan (at least 1024)"));
        }
        let max_plan_nodes = s.parse("MAX_PLAN_NODES", 20_000usize, "a whole number", p);
        let max_plan_bytes_in_flight = s.parse("MAX_PLAN_BYTES_IN_FLIGHT", DEFAULT_PLAN_BYTES_IN_FLIGHT, "a number of bytes", p);
        if max_plan_bytes_in_flight < 1 << 20 {
            p.push(format!("MAX_PLAN_BYTES_IN_FLIGHT: {max_plan_bytes_in_flight} is too small (at least 1048576)"));
        }
        // At least the rate limit's default burst: a burst it allows is not refused here; the
        // plan budget is what bounds memory.
        let max_submissions_per_tenant = s.parse("MAX_SUBMISSIONS_PER_TENANT", 32usize, "a whole number", p);
        let max_streams_per_caller = s.parse("MAX_STREAMS_PER_CALLER", 64usize, "a whole number", p);
        for (name, v) in [("MAX_SUBMISSIONS_PER_TENANT", max_submissions_per_tenant), ("MAX_STREAMS_PER_CALLER", max_streams_per_caller)] {
            if v == 0 {
                p.push(format!("{name}: must be at least 1"));
            }
        }
        let workers = s.parse("WORKERS", 2usize, "a whole number", p);
        if workers > 64 {
            p.push(format!("WORKERS: at most 64, got {workers}"));
        }
        let lease_secs = s.parse("JOB_LEASE_SECONDS", 30u64, "a number of seconds", p);
        if !(3..=3600).contains(&lease_secs) {
            p.push(format!("JOB_LEASE_SECONDS: must be between 3 and 3600, got {lease_secs}"));
        }
        let grace = s.parse("SHUTDOWN_GRACE_SECONDS", 20u64, "a number of seconds", p);
        let instance = s.get("INSTANCE_ID").map(str::to_string).unwrap_or_else(default_instance);
        let var = |k: &str| s.get(k).map(str::to_string);
        let backends = BackendConfig {
            redis_url: var("REDIS_URL"),
            chroma_url: var("CHROMA_URL"),
            chroma_token: var("CHROMA_TOKEN"),
            embeddings: crate::capabilities::EmbeddingsConfig::from_lookup(&|k| var(k)),
            llm: crate::capabilities::llm::LlmConfig::from_lookup(&|k| var(k)).unwrap_or_else(|e| {
                p.push(e);
                None
            }),
        };
        if let Some(u) = &backends.redis_url
            && !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                p.push("REDIS_URL: expected redis://… or rediss://…".into());
            }
        if let Some(u) = &backends.chroma_url
            && !(u.starts_with("http://") || u.starts_with("https://")) {
                p.push("CHROMA_URL: expected http://… or https://…".into());
            }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ServiceConfig {
            bind,
            database_url: var("DATABASE_URL"),
            run_migrations: s.flag("RUN_MIGRATIONS", true, &mut vec![]),
            backends,
            parallel,
            retrieval_top_k,
            thresholds: Thresholds { high, low },
            max_job_cost_usd,
            log_level,
            log_json,
            metrics_enabled,
            clone_dir,
            policy,
            cors_origins,
            auth,
            rate_per_minute,
            rate_burst,
            max_body_bytes,
            max_upload_bytes,
            max_plan_nodes,
            max_plan_bytes_in_flight,
            max_submissions_per_tenant,
            max_streams_per_caller,
            workers,
            lease: Duration::from_secs(lease_secs),
            shutdown_grace: Duration::from_secs(grace),
            instance,
            plugin_dir: s.get("PLANMAP_PLUGIN_DIR").map(PathBuf::from),
            graph_dir: s.get("PLANMAP_GRAPH_DIR").map(PathBuf::from),
            compile_cache: s.get("PLANMAP_COMPILE_CACHE").map(PathBuf::from),
        })
    }

    /// The settings worth logging at start (no secrets: only whether they are set).
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "bind": self.bind.to_string(),
            "store": self.database_url.as_deref().map(crate::jobs::store::redact).unwrap_or_else(|| "embedded sqlite".into()),
            "redis": self.backends.redis_url.as_deref().map(crate::jobs::store::redact),
            "chroma": self.backends.chroma_url,
            "chromaToken": self.backends.chroma_token.is_some(),
            "embeddings": self.backends.embeddings.is_some(),
            "maxParallelNodes": self.parallel,
            "retrievalTopK": self.retrieval_top_k,
            "thresholds": {"high": self.thresholds.high, "low": self.thresholds.low},
            "maxJobCostUsd": self.max_job_cost_usd,
            "workers": self.workers,
            "leaseSeconds": self.lease.as_secs(),
            "instance": self.instance,
            "auth": {"jwt": self.auth.jwt.as_ref().map(|j| format!("{:?}", j.algorithm)), "apiKeys": self.auth.api_keys.len(), "disabled": self.auth.disabled},
            "rateLimitPerMinute": self.rate_per_minute,
            "corsOrigins": self.cors_origins,
            "repoPolicy": {"allowLocal": self.policy.allow_local, "allowedHosts": self.policy.allowed_hosts},
        })
    }
}

fn auth_config(s: &Settings, p: &mut Vec<String>) -> AuthConfig {
    let mut api_keys = Vec::new();
    for (i, pair) in list(s.get("API_KEYS")).into_iter().enumerate() {
        match pair.split_once(':') {
            Some((t, k)) if !t.trim().is_empty() && k.trim().len() >= 16 => api_keys.push((t.trim().to_string(), k.trim().to_string())),
            // The entry itself is a secret: name it by position only.
            _ => p.push(format!("API_KEYS: entry {} must be tenant:key with a key of at least 16 characters", i + 1)),
        }
    }
    let public_key = match (s.get("JWT_PUBLIC_KEY"), s.get("JWT_PUBLIC_KEY_FILE")) {
        (Some(k), _) => Some(k.replace("\\n", "\n")),
        (None, Some(f)) => std::fs::read_to_string(f).map_err(|e| p.push(format!("JWT_PUBLIC_KEY_FILE: cannot read {f}: {e}"))).ok(),
        (None, None) => None,
    };
    let secret = s.get("JWT_SECRET").map(str::to_string);
    let algorithm = match s.get("JWT_ALGORITHM") {
        None if public_key.is_some() => Some(jsonwebtoken::Algorithm::RS256),
        None => Some(jsonwebtoken::Algorithm::HS256),
        Some("HS256") => Some(jsonwebtoken::Algorithm::HS256),
        Some("RS256") => Some(jsonwebtoken::Algorithm::RS256),
        Some("ES256") => Some(jsonwebtoken::Algorithm::ES256),
        Some(other) => {
            p.push(format!("JWT_ALGORITHM: expected HS256, RS256 or ES256, got {other:?}"));
            None
        }
    };
    let key = match (algorithm, secret, public_key) {
        (Some(jsonwebtoken::Algorithm::HS256), Some(secret), _) => {
            if secret.len() < 32 {
                p.push("JWT_SECRET: must be at least 32 characters for HS256".into());
            }
            Some((jsonwebtoken::Algorithm::HS256, secret))
        }
        (Some(jsonwebtoken::Algorithm::HS256), None, Some(_)) => {
            p.push("JWT_ALGORITHM is HS256 but only JWT_PUBLIC_KEY is set (set JWT_SECRET, or JWT_ALGORITHM=RS256/ES256)".into());
            None
        }
        (Some(alg), _, Some(pem)) if alg != jsonwebtoken::Algorithm::HS256 => {
            let ok = match alg {
                jsonwebtoken::Algorithm::ES256 => jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).is_ok(),
                _ => jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).is_ok(),
            };
            if !ok {
                p.push(format!("JWT_PUBLIC_KEY: not a PEM public key for {alg:?}"));
            }
            Some((alg, pem))
        }
        (Some(alg), _, None) if alg != jsonwebtoken::Algorithm::HS256 => {
            p.push(format!("JWT_ALGORITHM is {alg:?} but no JWT_PUBLIC_KEY or JWT_PUBLIC_KEY_FILE is set"));
            None
        }
        _ => None,
    };
    let jwt = key.map(|(algorithm, key)| JwtConfig {
        algorithm,
        key,
        issuer: s.get("JWT_ISSUER").map(str::to_string),
        audience: s.get("JWT_AUDIENCE").map(str::to_string),
        tenant_claim: s.get("JWT_TENANT_CLAIM").unwrap_or("tenant").to_string(),
    });
    AuthConfig { jwt, api_keys, disabled: s.flag("AUTH_DISABLED", false, p) }
}

/// `host-pid`: unique among the processes sharing a store.
fn default_instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()).unwrap_or_else(|| "planmap".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<ServiceConfig, Vec<String>> {
        let mut problems = vec![];
        let s = Settings::load(None, pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())), &mut problems);
        ServiceConfig::from_settings(&s, problems)
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let errs = cfg(&[("MAX_PARALLEL_NODES", "lots"), ("CONFIDENCE_THRESHOLD_LOW", "0.9"), ("CONFIDENCE_THRESHOLD_HIGH", "0.2"), ("CORS_ORIGINS", "*"), ("JWT_SECRET", "short")]).err().unwrap();
        let all = errs.join("\n");
        for needle in ["MAX_PARALLEL_NODES", "CONFIDENCE_THRESHOLD_LOW (0.9)", "CORS_ORIGINS", "JWT_SECRET: must be at least 32"] {
            assert!(all.contains(needle), "{needle} missing from:\n{all}");
        }
    }

    #[test]
    fn no_authentication_is_refused_unless_explicitly_local() {
        let errs = cfg(&[]).err().unwrap();
        assert!(errs.iter().any(|e| e.contains("no authentication configured")), "{errs:?}");
        assert!(cfg(&[("AUTH_DISABLED", "true")]).is_ok());
        let errs = cfg(&[("AUTH_DISABLED", "true"), ("BIND_ADDR", "0.0.0.0:3000")]).err().unwrap();
        assert!(errs.iter().any(|e| e.contains("loopback")), "{errs:?}");
    }

    #[test]
    fn api_key_problems_never_echo_the_key() {
        let errs = cfg(&[("API_KEYS", "teamA:tooshort")]).err().unwrap();
        assert!(errs.iter().all(|e| !e.contains("tooshort")), "{errs:?}");
    }

    #[test]
    fn file_settings_are_checked_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("planmap.toml");
        std::fs::write(&f, "max_parallel_nodes = 3\nworkers = 4\nauth_disabled = true\nmax_paralel_nodes = 2\n").unwrap();
        let mut problems = vec![];
        let s = Settings::load(Some(&f), [("WORKERS".to_string(), "1".to_string())].into_iter(), &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("unknown setting `max_paralel_nodes`"));
        let c = ServiceConfig::from_settings(&s, vec![]).unwrap();
        assert_eq!((c.parallel, c.workers), (3, 1));
    }
}
