//! Process metrics in the Prometheus registry: plugin invocations by plugin, variant
//! and outcome, and reloads by outcome. The service exposes them at `/metrics`.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::sync::LazyLock;
use std::time::Duration;

/// The process registry.
pub static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);

static INVOCATIONS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let c = IntCounterVec::new(Opts::new("planmap_plugin_invocations_total", "Plugin invocations by plugin, variant and outcome"), &["plugin", "variant", "outcome"]).unwrap();
    REGISTRY.register(Box::new(c.clone())).unwrap();
    c
});

static INVOCATION_SECONDS: LazyLock<HistogramVec> = LazyLock::new(|| {
    let h = HistogramVec::new(
        HistogramOpts::new("planmap_plugin_invocation_seconds", "Plugin invocation time (instantiate + call)")
            .buckets(vec![0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0]),
        &["plugin"],
    )
    .unwrap();
    REGISTRY.register(Box::new(h.clone())).unwrap();
    h
});

static RELOADS: LazyLock<IntCounterVec> = LazyLock::new(|| {
    let c = IntCounterVec::new(Opts::new("planmap_reloads_total", "Snapshot reloads by outcome"), &["outcome"]).unwrap();
    REGISTRY.register(Box::new(c.clone())).unwrap();
    c
});

/// Count and time one plugin invocation.
pub fn record_invocation(plugin: &str, variant: &str, outcome: &str, took: Duration) {
    INVOCATIONS.with_label_values(&[plugin, variant, outcome]).inc();
    INVOCATION_SECONDS.with_label_values(&[plugin]).observe(took.as_secs_f64());
}

/// Count one reload.
pub fn record_reload(ok: bool) {
    RELOADS.with_label_values(&[if ok { "ok" } else { "rejected" }]).inc();
}

/// The registry in Prometheus text format.
pub fn render() -> String {
    let enc = prometheus::TextEncoder::new();
    enc.encode_to_string(&REGISTRY.gather()).unwrap_or_default()
}
