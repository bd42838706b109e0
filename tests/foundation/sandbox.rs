//! The sandbox stops runaway plugins (deadline, memory), denies ungranted
//! capabilities, and keeps serving the next call normally after each failure.

use crate::support::*;
use planmap::runtime::model::{Ranking, StepInput};
use planmap::runtime::wit::*;
use planmap::runtime::{Call, CallLimits, CallScope, Capability, Grants, InvokeCause, LoadedPlugin, StepOutput};
use std::time::{Duration, Instant};

fn chaos() -> LoadedPlugin {
    runtime().load("chaos-scorer", &wasm("chaos_scorer"), "test").expect("load chaos-scorer")
}

/// Invoke the chaos scorer with a config, limits and grants.
async fn invoke(p: &LoadedPlugin, config: &str, limits: CallLimits, grants: Grants) -> (Result<StepOutput, planmap::runtime::InvokeError>, planmap::runtime::InvokeReport) {
    let sites = vec![site(0, "join", "etl/a.py", 10, &["id"])];
    let (mut batch, rows) = batch_with_candidates(config, "score", &sites);
    let input = StepInput { node: plan_node("7", "SortMergeJoin", Family::Join, &["id"]), candidates: rows, visit: 1 };
    let call = Call {
        batch: &mut batch,
        input: &input,
        detail: Default::default(),
        limits,
        grants,
        capabilities: capabilities(sites),
        scope: CallScope { analysis_id: "t".into(), plugin: "chaos-scorer".into(), graph_node: "score".into(), plan_node: "7".into() },
    };
    runtime().invoke(p, call).await
}

fn rankings(r: Result<StepOutput, planmap::runtime::InvokeError>) -> Vec<Ranking> {
    match r.expect("the call succeeds") {
        StepOutput::Rankings(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

async fn ok_call_still_works(p: &LoadedPlugin) {
    let (r, report) = invoke(p, r#"{"mode":"ok","confidence":0.7}"#, CallLimits::default(), Grants::none()).await;
    assert_eq!(rankings(r)[0].confidence, 0.7, "a normal call after a failure succeeds");
    assert_eq!(report.outcome, "ok");
}

#[tokio::test]
async fn a_plugin_that_loops_forever_is_stopped_at_its_deadline() {
    let p = chaos();
    let limits = CallLimits { timeout: Duration::from_millis(300), ..Default::default() };
    let t = Instant::now();
    let (r, report) = invoke(&p, r#"{"mode":"spin"}"#, limits, Grants::none()).await;
    let took = t.elapsed();
    let err = r.expect_err("spin must time out");
    assert!(matches!(err.cause, InvokeCause::Timeout(_)), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("timed out after 300 ms"), "{msg}");
    assert!(msg.contains("chaos-scorer") && msg.contains("sha256:") && msg.contains("graph node 'score'") && msg.contains("plan node 7"), "{msg}");
    assert_eq!(report.outcome, "timeout");
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "took {took:?}");
    ok_call_still_works(&p).await;
}

#[tokio::test]
async fn a_plugin_that_allocates_past_its_cap_fails_with_the_memory_error() {
    let p = chaos();
    let limits = CallLimits { memory_bytes: 64 << 20, ..Default::default() };
    let (r, report) = invoke(&p, r#"{"mode":"alloc","mib":200}"#, limits, Grants::none()).await;
    let err = r.expect_err("alloc must fail");
    assert!(matches!(err.cause, InvokeCause::Memory(_)), "{err}");
    assert!(err.to_string().contains("exceeded 64 MiB"), "{err}");
    assert_eq!(report.outcome, "memory");
    // Under the cap the same plugin allocates fine.
    let (r, _) = invoke(&p, r#"{"mode":"alloc","mib":8}"#, limits, Grants::none()).await;
    assert!(r.is_ok(), "{:?}", r.err());
    ok_call_still_works(&p).await;
}

#[tokio::test]
async fn a_call_that_fits_the_allocators_arena_never_grows_memory() {
    let p = chaos();
    let (r, small) = invoke(&p, r#"{"mode":"ok","confidence":0.7}"#, CallLimits::default(), Grants::none()).await;
    assert!(r.is_ok(), "{:?}", r.err());
    // The module starts with the SDK's 8 MiB arena, its stack and data: about 9 MiB,
    // and a small call stays there (no memory.grow, so no protection changes).
    assert!((8 << 20..10 << 20).contains(&small.peak_memory), "peak {} bytes", small.peak_memory);
    let (r, big) = invoke(&p, r#"{"mode":"alloc","mib":12}"#, CallLimits::default(), Grants::none()).await;
    assert!(r.is_ok(), "{:?}", r.err());
    assert!(big.peak_memory >= small.peak_memory + (4 << 20), "past the arena memory grows: {} then {}", small.peak_memory, big.peak_memory);
    ok_call_still_works(&p).await;
}

#[tokio::test]
async fn short_lived_allocations_reuse_freed_memory() {
    // 32 MiB of 64-byte strings, each dropped before the next: the allocator's free
    // lists hand the same block back, so memory stays at the initial ~9 MiB instead
    // of growing by what was allocated (and the host's reset has less to clean).
    let p = chaos();
    let (r, report) = invoke(&p, r#"{"mode":"churn","mib":32,"confidence":0.5}"#, CallLimits::default(), Grants::none()).await;
    assert_eq!(rankings(r)[0].explanation, "churned 32 MiB");
    assert!(report.peak_memory < 10 << 20, "peak {} bytes", report.peak_memory);
    ok_call_still_works(&p).await;
}

#[tokio::test]
async fn an_ungranted_capability_is_denied_with_a_clear_error() {
    let p = chaos();
    let (r, report) = invoke(&p, r#"{"mode":"llm"}"#, CallLimits::default(), Grants::none()).await;
    let c = rankings(r);
    let note = &c[0].explanation;
    assert!(note.contains("Denied") && note.contains("capability 'llm' is not granted to graph node 'score'"), "{note}");
    assert_eq!(report.usage.denied, 1);
    // Granted but not configured: a different, equally clear error.
    let (r, _) = invoke(&p, r#"{"mode":"llm"}"#, CallLimits::default(), Grants::none().with(Capability::Llm)).await;
    let c = rankings(r);
    assert!(c[0].explanation.contains("Unavailable") && c[0].explanation.contains("no model is configured"), "{}", c[0].explanation);
    ok_call_still_works(&p).await;
}

#[tokio::test]
async fn a_granted_cache_round_trips_and_is_counted() {
    let p = chaos();
    let (r, report) = invoke(&p, r#"{"mode":"cache"}"#, CallLimits::default(), Grants::none().with(Capability::Cache)).await;
    let c = rankings(r);
    assert!(c[0].explanation.contains("cache returned Some(\"v\")"), "{}", c[0].explanation);
    assert_eq!(report.usage.calls, 2);
}

#[tokio::test]
async fn a_plugin_error_is_typed_and_names_the_plugin() {
    let p = chaos();
    let (r, report) = invoke(&p, r#"{"mode":"fail"}"#, CallLimits::default(), Grants::none()).await;
    let err = r.unwrap_err();
    assert!(matches!(err.cause, InvokeCause::Plugin { code: ErrorCode::Internal, .. }), "{err}");
    assert!(err.to_string().contains("asked to fail"));
    assert_eq!(report.outcome, "plugin-error");
}

#[tokio::test]
async fn a_corrupt_component_is_refused_at_load() {
    let err = runtime().load("broken", b"\0asm\x0d\0\x01\0garbage", "test").err().expect("must fail");
    assert!(err.to_string().contains("plugin 'broken': not a valid WebAssembly component"), "{err}");
}

#[tokio::test]
async fn a_second_runtime_loads_from_the_compile_cache() {
    let dir = scratch();
    let cfg = || planmap::runtime::RuntimeConfig { cache_dir: Some(dir.path().to_path_buf()) };
    let bytes = wasm("chaos_scorer");
    let first = planmap::runtime::Runtime::new(cfg()).unwrap().load("c", &bytes, "t").unwrap();
    assert!(!first.info.cached);
    let second = planmap::runtime::Runtime::new(cfg()).unwrap().load("c", &bytes, "t").unwrap();
    assert!(second.info.cached, "restart must not recompile");
    assert!(second.info.load_ms < first.info.load_ms, "cached {} ms vs compiled {} ms", second.info.load_ms, first.info.load_ms);
}
