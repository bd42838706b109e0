//! One invocation: a fresh store with a memory cap and a guest-time deadline, the
//! kind's export called once with the whole batch, and every failure turned into a
//! typed error naming plugin, digest, graph node, plan node and cause. A store that
//! trapped is dropped with the invocation; nothing is ever re-entered.

use crate::capabilities::{CallScope, Capabilities, Grants};
use crate::host_impl::{HostState, HostUsage};
use crate::limits::{human, mib, CallLimits, EPOCH_TICK, HOST_CALL_ALLOWANCE};
use crate::plugin::{duration_ms, Kind, LoadedPlugin, Pre};
use crate::model::{Assessments, Batch, Explanation, Proposal, Ranking, StepInput};
use crate::pack::{self, NodeDetail};
use crate::wit::{self, Decision, ErrorCode, PluginError};
use crate::Runtime;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::{Store, UpdateDeadline};

/// What to run for one plan node.
pub struct Call<'a> {
    /// What the input shares with a batch (config, feature names, sites for matchers)
    /// and the candidate columns its rows index, which move into the call and back.
    pub batch: &'a mut Batch,
    pub input: &'a StepInput,
    /// How much of the plan node the plugin gets.
    pub detail: NodeDetail,
    pub limits: CallLimits,
    pub grants: Grants,
    pub capabilities: Arc<dyn Capabilities>,
    pub scope: CallScope,
}

/// What to run for a batch of plan nodes at one graph node: one invocation, one result
/// per input. `limits` are per plan node; the batch gets them times its size.
pub struct BatchCall<'a> {
    /// What the inputs share (config, feature names, for matchers the sites) and their
    /// candidate columns, which move into the call and back.
    pub batch: &'a mut Batch,
    pub inputs: &'a [StepInput],
    /// How much of each plan node the plugin gets.
    pub detail: NodeDetail,
    pub limits: CallLimits,
    pub grants: Grants,
    pub capabilities: Arc<dyn Capabilities>,
    pub scope: CallScope,
}

/// Largest linear memory a batch may reach, whatever its size (the pooled slot size).
const MAX_BATCH_MEMORY: usize = 4 << 30;

/// A step's result.
#[derive(Debug, Clone)]
pub enum StepOutput {
    /// From a retriever.
    Proposals(Vec<Proposal>),
    /// From a matcher.
    Assessments(Assessments),
    /// From a scorer, best first.
    Rankings(Vec<Ranking>),
    /// From a router.
    Decision(Decision),
    /// From a matcher's `explain-candidates` (see `Runtime::explain_batch`).
    Explanations(Vec<Explanation>),
}

/// Which export of the plugin an invocation calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The kind's step export.
    Step,
    /// A matcher's `explain-candidates`.
    Explain,
}

/// Measurements of one invocation (success or failure).
#[derive(Debug, Clone, Default)]
pub struct InvokeReport {
    /// Instantiation of the pre-linked component in the fresh store.
    pub instantiate: Duration,
    /// After the export returned: the store's measurements read and the store dropped
    /// (the instance's memory reset for the slot's next use).
    pub teardown: Duration,
    /// The whole invocation: packing the inputs into the contract's form, instantiation,
    /// the export call (capability time included) and teardown.
    pub call: Duration,
    /// Packing the inputs (one text for all strings, terms for semantics), on the host.
    pub pack: Duration,
    /// Capability usage.
    pub usage: HostUsage,
    /// Highest linear memory reached.
    pub peak_memory: usize,
    /// `ok`, `timeout`, `memory`, `trap`, `plugin-error`, `host`.
    pub outcome: &'static str,
}

impl InvokeReport {
    /// Time spent crossing the boundary: the whole invocation minus the plugin's own
    /// work between its first and last `log.mark` (packing, instantiation, inputs copied
    /// in and decoded, results encoded and copied out, teardown). `None` when the plugin
    /// did not mark.
    pub fn boundary(&self) -> Option<Duration> {
        self.usage.marks.map(|(first, last)| self.call.saturating_sub(last.saturating_duration_since(first)))
    }
}

/// Where the boundary time of invocations went (summed over the invocations whose
/// plugins mark their work).
#[derive(Debug, Clone, Copy, Default)]
pub struct BoundarySplit {
    /// Packing inputs into the contract's form, on the host.
    pub pack: Duration,
    /// Instantiating the plugin in a fresh store.
    pub instantiate: Duration,
    /// From instantiation to the plugin's first mark: arguments copied in and decoded.
    pub inputs_in: Duration,
    /// From the plugin's last mark to the export's return: results encoded, copied out
    /// and decoded.
    pub results_out: Duration,
    /// After the export returned: the store read and dropped, the instance's memory
    /// reset for reuse. The phases sum to `InvokeReport::boundary`.
    pub teardown: Duration,
}

impl BoundarySplit {
    /// The phases in the order their fields are declared.
    fn phases(&self) -> [Duration; 5] {
        [self.pack, self.instantiate, self.inputs_in, self.results_out, self.teardown]
    }

    fn from_phases([pack, instantiate, inputs_in, results_out, teardown]: [Duration; 5]) -> Self {
        BoundarySplit { pack, instantiate, inputs_in, results_out, teardown }
    }

    /// The phases, summed.
    pub fn total(&self) -> Duration {
        self.phases().iter().sum()
    }

    /// The time since `earlier` (a reading of the same totals).
    pub fn since(&self, earlier: &BoundarySplit) -> BoundarySplit {
        let (now, then) = (self.phases(), earlier.phases());
        Self::from_phases(std::array::from_fn(|i| now[i].saturating_sub(then[i])))
    }
}

/// Which call a split belongs to: each kind's step export, and the matchers' evidence in
/// words (`explain-candidates`), in `SPLIT_CALLS` order.
pub const SPLIT_CALLS: [&str; 5] = ["retrieve", "match", "score", "route", "explain"];

/// Running totals of `BoundarySplit` per entry of `SPLIT_CALLS`, in nanoseconds.
#[derive(Debug, Default)]
pub(crate) struct SplitTotals([[std::sync::atomic::AtomicU64; 5]; 5]);

impl SplitTotals {
    fn add(&self, call: usize, s: &BoundarySplit) {
        use std::sync::atomic::Ordering::Relaxed;
        for (total, d) in self.0[call].iter().zip(s.phases()) {
            total.fetch_add(d.as_nanos() as u64, Relaxed);
        }
    }

    pub(crate) fn get(&self) -> [BoundarySplit; 5] {
        use std::sync::atomic::Ordering::Relaxed;
        std::array::from_fn(|c| BoundarySplit::from_phases(std::array::from_fn(|i| Duration::from_nanos(self.0[c][i].load(Relaxed)))))
    }
}

/// Why an invocation failed.
#[derive(Debug, Clone)]
pub enum InvokeCause {
    Timeout(Duration),
    Memory(usize),
    Trap(String),
    /// The plugin returned its own typed error.
    Plugin { code: ErrorCode, message: String },
    /// The host failed around the call (instantiation, hard wall-clock stop).
    Host(String),
}

impl InvokeCause {
    /// The outcome label used in metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            InvokeCause::Timeout(_) => "timeout",
            InvokeCause::Memory(_) => "memory",
            InvokeCause::Trap(_) => "trap",
            InvokeCause::Plugin { .. } => "plugin-error",
            InvokeCause::Host(_) => "host",
        }
    }
}

impl fmt::Display for InvokeCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvokeCause::Timeout(d) => write!(f, "timed out after {}", human(*d)),
            InvokeCause::Memory(cap) => write!(f, "exceeded {}", mib(*cap)),
            InvokeCause::Trap(t) => write!(f, "trapped: {t}"),
            InvokeCause::Plugin { code, message } => write!(f, "plugin error ({code:?}): {message}"),
            InvokeCause::Host(m) => write!(f, "host error: {m}"),
        }
    }
}

/// A failed invocation, with everything needed to find the culprit.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin '{plugin}' ({digest}) on graph node '{graph_node}' for plan node {plan_node}: {cause}")]
pub struct InvokeError {
    pub plugin: String,
    pub digest: String,
    pub graph_node: String,
    pub plan_node: String,
    pub cause: InvokeCause,
    pub report: InvokeReport,
}

impl Runtime {
    /// Run the plugin's export for one plan node. A plugin error is returned as an
    /// invocation error (cause `Plugin`).
    pub async fn invoke(&self, plugin: &LoadedPlugin, call: Call<'_>) -> (Result<StepOutput, InvokeError>, InvokeReport) {
        let Call { batch, input, detail, limits, grants, capabilities, scope } = call;
        let batch = BatchCall { batch, inputs: std::slice::from_ref(input), detail, limits, grants, capabilities, scope: scope.clone() };
        let (result, mut report) = self.invoke_batch(plugin, batch).await;
        let one = match result {
            Err(e) => Err(e),
            Ok(mut v) => match v.pop() {
                Some(Ok(out)) => Ok(out),
                Some(Err(e)) => {
                    report.outcome = "plugin-error";
                    Err(plugin_error(plugin, &scope, e, &report))
                }
                None => Err(InvokeError { plugin: plugin.info.name.clone(), digest: plugin.short_digest().to_string(), graph_node: scope.graph_node.clone(), plan_node: scope.plan_node.clone(), cause: InvokeCause::Host("the plugin returned no result".into()), report: report.clone() }),
            },
        };
        (one, report)
    }

    /// Run the plugin's export once for a batch. `Err` when the invocation as a whole
    /// failed (trap, deadline, memory, host); otherwise one result per input, in order,
    /// each either the step's output or the plugin's own error for that input. Never
    /// panics on guest misbehaviour; the store is created here and dropped before
    /// returning.
    pub async fn invoke_batch(&self, plugin: &LoadedPlugin, call: BatchCall<'_>) -> (Result<Vec<Result<StepOutput, PluginError>>, InvokeError>, InvokeReport) {
        self.invoke_phase(plugin, call, Phase::Step).await
    }

    /// Ask a matcher for its evidence in words (`explain-candidates`), once for a batch;
    /// results are `StepOutput::Explanations`. Any other kind is a host error.
    pub async fn explain_batch(&self, plugin: &LoadedPlugin, call: BatchCall<'_>) -> (Result<Vec<Result<StepOutput, PluginError>>, InvokeError>, InvokeReport) {
        self.invoke_phase(plugin, call, Phase::Explain).await
    }

    async fn invoke_phase(&self, plugin: &LoadedPlugin, call: BatchCall<'_>, phase: Phase) -> (Result<Vec<Result<StepOutput, PluginError>>, InvokeError>, InvokeReport) {
        let BatchCall { batch, inputs, detail, limits, grants, capabilities, scope } = call;
        self.invocations.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = inputs.len().max(1);
        let limits = CallLimits { timeout: limits.timeout * n as u32, memory_bytes: limits.memory_bytes.saturating_mul(n).min(MAX_BATCH_MEMORY) };
        let fail = |cause: InvokeCause, report: &InvokeReport| InvokeError {
            plugin: plugin.info.name.clone(),
            digest: plugin.short_digest().to_string(),
            graph_node: scope.graph_node.clone(),
            plan_node: scope.plan_node.clone(),
            cause,
            report: report.clone(),
        };
        let span = tracing::debug_span!("plugin", plugin = %plugin.info.name, graph_node = %scope.graph_node, plan_node = %scope.plan_node, batch = n);
        let _enter = span.enter();
        let start = Instant::now();
        let mut report = InvokeReport::default();
        let packed = match pack::batch(batch, inputs, detail) {
            Ok(packed) => packed,
            Err(m) => {
                report.call = start.elapsed();
                report.outcome = "host";
                let e = fail(InvokeCause::Host(m), &report);
                tracing::warn!(outcome = report.outcome, "{e}");
                return (Err(e), report);
            }
        };
        report.pack = start.elapsed();
        let state = HostState::new(capabilities, grants, scope.clone(), limits.memory_bytes, limits.timeout);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Deadlines count guest time only: each tick, compare the guest's own time
        // (wall time minus time spent in capability calls) with its budget.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let st = ctx.data();
            if st.guest_time() > st.guest_budget {
                ctx.data_mut().timed_out = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let hard_stop = limits.timeout + HOST_CALL_ALLOWANCE + EPOCH_TICK * 10;
        let fut = run(&plugin.pre, &mut store, &packed, phase, &mut report.instantiate);
        let result = tokio::time::timeout(hard_stop, fut).await;
        let returned = Instant::now();
        let st = store.data();
        report.usage = st.usage.clone();
        report.peak_memory = st.limiter.peak;
        let outcome = match result {
            Err(_) => Err(InvokeCause::Host(format!("no answer within {} (capability calls included)", human(hard_stop)))),
            Ok(Ok(out)) if out.len() == inputs.len() => Ok(out),
            Ok(Ok(out)) => Err(InvokeCause::Host(format!("the plugin returned {} results for {} inputs", out.len(), inputs.len()))),
            Ok(Err(err)) => Err(classify(&err, st, limits)),
        };
        // Tearing the instance down (its memory reset for the next one) is part of
        // the invocation's cost, as instantiation is.
        drop(store);
        let end = Instant::now();
        report.teardown = end - returned;
        report.call = end - start;
        if let Some((first, last)) = report.usage.marks {
            let split = BoundarySplit {
                pack: report.pack,
                instantiate: report.instantiate,
                inputs_in: first.saturating_duration_since(start).saturating_sub(report.pack + report.instantiate),
                results_out: returned.saturating_duration_since(last),
                teardown: report.teardown,
            };
            let call = match (phase, plugin.kind) {
                (Phase::Explain, _) => 4,
                (_, Kind::Retriever) => 0,
                (_, Kind::Matcher) => 1,
                (_, Kind::Scorer) => 2,
                (_, Kind::Router) => 3,
            };
            self.boundary.add(call, &split);
        }
        report.outcome = match &outcome {
            Ok(v) if v.iter().any(|r| r.is_err()) => "plugin-error",
            Ok(_) => "ok",
            Err(c) => c.outcome(),
        };
        // Back to the caller, which may retry its inputs one by one.
        pack::restore(batch, packed);
        match outcome {
            Ok(out) => {
                tracing::debug!(ms = duration_ms(report.call), host_calls = report.usage.calls, "plugin ok");
                (Ok(out), report)
            }
            Err(cause) => {
                let e = fail(cause, &report);
                tracing::warn!(outcome = report.outcome, "{e}");
                (Err(e), report)
            }
        }
    }
}

/// A plugin's own error for one input, as an invocation error naming the plan node.
pub fn plugin_error(plugin: &LoadedPlugin, scope: &CallScope, e: PluginError, report: &InvokeReport) -> InvokeError {
    InvokeError {
        plugin: plugin.info.name.clone(),
        digest: plugin.short_digest().to_string(),
        graph_node: scope.graph_node.clone(),
        plan_node: scope.plan_node.clone(),
        cause: InvokeCause::Plugin { code: e.code, message: e.message },
        report: report.clone(),
    }
}

/// Instantiate and call the kind's export with the whole batch.
async fn run(pre: &Pre, store: &mut Store<HostState>, batch: &wit::Batch, phase: Phase, instantiate: &mut Duration) -> wasmtime::Result<Vec<Result<StepOutput, PluginError>>> {
    let t = Instant::now();
    if phase == Phase::Explain && !matches!(pre, Pre::Matcher(_)) {
        return Err(wasmtime::Error::msg("only matchers explain their evidence"));
    }
    Ok(match pre {
        Pre::Retriever(p) => {
            let i = p.instantiate_async(&mut *store).await?;
            *instantiate = t.elapsed();
            pack::proposals(i.planmap_strategy_retrieve().call_retrieve(&mut *store, batch).await?)
        }
        Pre::Matcher(p) => {
            let i = p.instantiate_async(&mut *store).await?;
            *instantiate = t.elapsed();
            let m = i.planmap_strategy_matching();
            match phase {
                Phase::Step => pack::assessments(m.call_match_candidates(&mut *store, batch).await?),
                Phase::Explain => pack::explained(m.call_explain_candidates(&mut *store, batch).await?),
            }
        }
        Pre::Scorer(p) => {
            let i = p.instantiate_async(&mut *store).await?;
            *instantiate = t.elapsed();
            pack::rankings(i.planmap_strategy_score().call_score(&mut *store, batch).await?)
        }
        Pre::Router(p) => {
            let i = p.instantiate_async(&mut *store).await?;
            *instantiate = t.elapsed();
            i.planmap_strategy_route().call_route(&mut *store, batch).await?.into_iter().map(|r| r.map(StepOutput::Decision)).collect()
        }
    })
}

/// Turn a wasmtime error into a cause, using what the store observed.
fn classify(err: &wasmtime::Error, st: &HostState, limits: CallLimits) -> InvokeCause {
    if st.timed_out {
        return InvokeCause::Timeout(limits.timeout);
    }
    if st.limiter.exceeded {
        return InvokeCause::Memory(limits.memory_bytes);
    }
    let mut msg = match err.downcast_ref::<wasmtime::Trap>() {
        Some(t) => format!("{t}"),
        None => format!("{err:#}"),
    };
    // A Rust guest that panics prints the message to stderr before trapping.
    let stderr = String::from_utf8_lossy(&st.stderr.contents()).trim().to_string();
    if !stderr.is_empty() {
        msg = format!("{msg}; guest stderr: {stderr}");
    }
    InvokeCause::Trap(msg)
}
