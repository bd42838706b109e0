//! Process metrics in the Prometheus registry: jobs, nodes, plugin invocations, reloads,
//! the repository-context cache, LLM spending, the queue and lease takeovers. The
//! service exposes them at `/metrics`; `deploy/monitoring` is built on these names.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, Counter};
use std::sync::LazyLock;
use std::time::Duration;

/// The process registry.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

/// Register a collector once; the registry only rejects duplicates, which cannot
/// happen for these statics.
fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    REGISTRY.register(Box::new(c.clone())).expect("metric names are unique");
    c
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]) -> HistogramVec {
    register(HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels).expect("valid metric"))
}

static INVOCATIONS: LazyLock<IntCounterVec> = LazyLock::new(|| counter_vec("planmap_plugin_invocations_total", "Plugin invocations by plugin, variant and outcome", &["plugin", "variant", "outcome"]));
static INVOCATION_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    histogram("planmap_plugin_invocation_seconds", "Plugin invocation time (instantiate + call) by plugin and variant", vec![0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0], &["plugin", "variant"])
});
static RELOADS: LazyLock<IntCounterVec> = LazyLock::new(|| counter_vec("planmap_reloads_total", "Snapshot reloads by outcome", &["outcome"]));
static JOBS: LazyLock<IntCounterVec> = LazyLock::new(|| counter_vec("planmap_jobs_total", "Jobs by status: submitted, completed, failed, cancelled, released", &["status"]));
static JOB_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| histogram("planmap_job_duration_seconds", "Time from lease to end of a job run, by outcome", vec![0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0], &["status"]));
static NODES: LazyLock<IntCounterVec> = LazyLock::new(|| counter_vec("planmap_nodes_mapped_total", "Plan nodes mapped by status", &["status"]));
static NODE_SECONDS: LazyLock<Histogram> = LazyLock::new(|| {
    let h = Histogram::with_opts(HistogramOpts::new("planmap_node_mapping_seconds", "Time to run the graph for one code-owned node in one pass").buckets(vec![0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]))
        .expect("valid metric");
    register(h)
});
static CACHE: LazyLock<IntCounterVec> = LazyLock::new(|| counter_vec("planmap_cache_requests_total", "Repository-context cache lookups by result (hit, miss)", &["result"]));
static LLM_TOKENS: LazyLock<IntCounterVec> = LazyLock::new(|| counter_vec("planmap_llm_tokens_total", "LLM tokens by kind (prompt, completion)", &["kind"]));
static LLM_COST: LazyLock<Counter> = LazyLock::new(|| register(Counter::new("planmap_llm_cost_usd_total", "LLM spending in US dollars").expect("valid metric")));
static LLM_BUDGET: LazyLock<IntCounter> = LazyLock::new(|| register(IntCounter::new("planmap_llm_budget_exhausted_total", "Jobs that reached their LLM budget and continued without it").expect("valid metric")));
static QUEUE: LazyLock<IntGauge> = LazyLock::new(|| register(IntGauge::new("planmap_queue_depth", "Jobs waiting to be leased (queued), as last read from the store").expect("valid metric")));
static RELOAD_BLOCKED: LazyLock<IntGauge> = LazyLock::new(|| register(IntGauge::new("planmap_reload_blocked", "1 while the plugin and graph folders hold a change that failed to load (no other change loads until it is fixed)").expect("valid metric")));
static TAKEOVERS: LazyLock<IntCounter> = LazyLock::new(|| register(IntCounter::new("planmap_lease_takeovers_total", "Jobs leased after another worker's lease ran out").expect("valid metric")));
static HTTP: LazyLock<IntCounterVec> = LazyLock::new(|| counter_vec("planmap_http_requests_total", "HTTP requests by route and status code", &["route", "code"]));
static HTTP_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| histogram("planmap_http_request_seconds", "HTTP request time by route", vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0], &["route"]));

/// Count and time one plugin invocation.
pub fn record_invocation(plugin: &str, variant: &str, outcome: &str, took: Duration) {
    INVOCATIONS.with_label_values(&[plugin, variant, outcome]).inc();
    INVOCATION_SECONDS.with_label_values(&[plugin, variant]).observe(took.as_secs_f64());
}

/// Count one reload.
pub fn record_reload(ok: bool) {
    RELOADS.with_label_values(&[if ok { "ok" } else { "rejected" }]).inc();
    RELOAD_BLOCKED.set(i64::from(!ok));
}

/// Count a job reaching `status`; `took` is the run's time when it ran.
pub fn record_job(status: &str, took: Option<Duration>) {
    JOBS.with_label_values(&[status]).inc();
    if let Some(t) = took {
        JOB_SECONDS.with_label_values(&[status]).observe(t.as_secs_f64());
    }
}

/// Count a finished node by status.
pub fn record_node(status: &str) {
    NODES.with_label_values(&[status]).inc();
}

/// Time one node's pass through the graph.
pub fn record_node_pass(took: Duration) {
    NODE_SECONDS.observe(took.as_secs_f64());
}

/// Count a repository-context cache lookup.
pub fn record_cache(hit: bool) {
    CACHE.with_label_values(&[if hit { "hit" } else { "miss" }]).inc();
}

/// Count LLM usage (tokens and dollars).
pub fn record_llm(prompt_tokens: u64, completion_tokens: u64, cost_usd: f64) {
    LLM_TOKENS.with_label_values(&["prompt"]).inc_by(prompt_tokens);
    LLM_TOKENS.with_label_values(&["completion"]).inc_by(completion_tokens);
    LLM_COST.inc_by(cost_usd.max(0.0));
}

/// Count a job that reached its LLM budget.
pub fn record_budget_exhausted() {
    LLM_BUDGET.inc();
}

/// Set the queue depth.
static CIRCUITS: LazyLock<prometheus::IntGaugeVec> = LazyLock::new(|| register(prometheus::IntGaugeVec::new(Opts::new("planmap_backend_circuit_open", "1 while a backend's circuit breaker is open (the backend is skipped)"), &["backend"]).expect("valid metric")));

/// Whether a backend's circuit is open.
pub fn set_circuit(backend: &str, open: bool) {
    CIRCUITS.with_label_values(&[backend]).set(i64::from(open));
}

pub fn set_queue_depth(n: i64) {
    QUEUE.set(n);
}

/// Count a lease takeover.
pub fn record_takeover() {
    TAKEOVERS.inc();
}

/// Count and time one HTTP request (`route` is the matched pattern, never the raw path,
/// so ids do not explode the label space).
pub fn record_http(route: &str, code: u16, took: Duration) {
    HTTP.with_label_values(&[route, &code.to_string()]).inc();
    HTTP_SECONDS.with_label_values(&[route]).observe(took.as_secs_f64());
}

/// Touch every metric so each appears in `/metrics` from the start (a dashboard query
/// on a name that does not exist yet looks broken; a zero does not).
pub fn init() {
    for s in ["submitted", "completed", "failed", "cancelled", "released"] {
        JOBS.with_label_values(&[s]);
    }
    for s in ["confirmed", "probable", "uncertain", "unmapped", "infrastructure"] {
        NODES.with_label_values(&[s]);
    }
    for r in ["hit", "miss"] {
        CACHE.with_label_values(&[r]);
    }
    for k in ["prompt", "completion"] {
        LLM_TOKENS.with_label_values(&[k]);
    }
    for o in ["ok", "rejected"] {
        RELOADS.with_label_values(&[o]);
    }
    LazyLock::force(&INVOCATIONS);
    LazyLock::force(&INVOCATION_SECONDS);
    LazyLock::force(&JOB_SECONDS);
    LazyLock::force(&NODE_SECONDS);
    LazyLock::force(&LLM_COST);
    LazyLock::force(&LLM_BUDGET);
    LazyLock::force(&QUEUE);
    LazyLock::force(&TAKEOVERS);
    LazyLock::force(&HTTP);
    LazyLock::force(&HTTP_SECONDS);
}

/// The registry in Prometheus text format.
pub fn render() -> String {
    let enc = prometheus::TextEncoder::new();
    enc.encode_to_string(&REGISTRY.gather()).unwrap_or_default()
}
