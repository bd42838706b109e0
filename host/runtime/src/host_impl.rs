//! Per-store host state and the implementations of the imported interfaces: each
//! capability call checks the graph node's grants, is timed and counted, and is then
//! forwarded to the job's `Capabilities` backend.

use crate::bindings::capabilities_world::planmap::strategy as imports;
use crate::capabilities::{cap_error, CallScope, Capabilities, Capability, CapabilityError, CapabilityErrorKind, Grants};
use crate::limits::{Limiter, MAX_LOG_LINE, MAX_LOG_LINES};
use crate::wit::{code_search, llm, vectors, Level, SiteSource, SiteTable};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Counters for one invocation's capability use.
#[derive(Debug, Default, Clone)]
pub struct HostUsage {
    /// Capability calls made (log lines excluded).
    pub calls: u32,
    /// Calls refused because the capability was not granted.
    pub denied: u32,
    /// Wall time spent inside capability calls (excluded from the guest deadline).
    pub time: Duration,
    /// Bytes the guest sent to capabilities plus bytes returned.
    pub bytes: u64,
    /// Log lines written.
    pub log_lines: u32,
    /// The first and last `log.mark` of the invocation: where the plugin's own work began
    /// and ended (see `InvokeReport::boundary`).
    pub marks: Option<(Instant, Instant)>,
}

/// Everything one store owns. A store lives for exactly one invocation.
pub struct HostState {
    /// Built on the first WASI call only: most invocations make none, and building a
    /// context (random sources, clocks, stdio) is a measurable share of a call.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) stderr: MemoryOutputPipe,
    caps: Arc<dyn Capabilities>,
    grants: Grants,
    pub(crate) scope: CallScope,
    pub(crate) usage: HostUsage,
    /// When the guest started running; guest time = wall time minus `usage.time`.
    pub(crate) started: Instant,
    pub(crate) guest_budget: Duration,
    pub(crate) timed_out: bool,
}

impl HostState {
    pub(crate) fn new(caps: Arc<dyn Capabilities>, grants: Grants, scope: CallScope, memory_cap: usize, guest_budget: Duration) -> Self {
        let stderr = MemoryOutputPipe::new(crate::limits::STDERR_CAPTURE_BYTES);
        HostState {
            wasi: None,
            table: ResourceTable::new(),
            limiter: Limiter { cap: memory_cap, peak: 0, exceeded: false },
            stderr,
            caps,
            grants,
            scope,
            usage: HostUsage::default(),
            started: Instant::now(),
            guest_budget,
            timed_out: false,
        }
    }

    /// Guest execution time so far.
    pub(crate) fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.usage.time)
    }

    fn check(&mut self, c: Capability) -> Result<(), CapabilityError> {
        if self.grants.allows(c) {
            return Ok(());
        }
        self.usage.denied += 1;
        tracing::warn!(plugin = %self.scope.plugin, graph_node = %self.scope.graph_node, capability = %c, "capability denied");
        Err(cap_error(
            CapabilityErrorKind::Denied,
            format!(
                "capability '{c}' is not granted to graph node '{}' (plugin '{}'); add \"{c}\" to its `capabilities` in the graph file",
                self.scope.graph_node, self.scope.plugin
            ),
        ))
    }

    /// Run one granted capability call with accounting.
    async fn metered<T, F, Fut>(&mut self, c: Capability, bytes_in: usize, f: F) -> Result<T, CapabilityError>
    where
        F: FnOnce(Arc<dyn Capabilities>, CallScope) -> Fut,
        Fut: std::future::Future<Output = Result<T, CapabilityError>>,
        T: ByteSize,
    {
        self.check(c)?;
        let start = Instant::now();
        let out = f(self.caps.clone(), self.scope.clone()).await;
        self.usage.calls += 1;
        self.usage.time += start.elapsed();
        self.usage.bytes += bytes_in as u64 + out.as_ref().map(|v| v.byte_size()).unwrap_or(0) as u64;
        out
    }
}

/// Approximate payload size, for accounting.
trait ByteSize {
    fn byte_size(&self) -> usize;
}
impl ByteSize for () {
    fn byte_size(&self) -> usize {
        0
    }
}
impl ByteSize for Option<Vec<u8>> {
    fn byte_size(&self) -> usize {
        self.as_ref().map_or(0, |v| v.len())
    }
}
impl ByteSize for Vec<u32> {
    fn byte_size(&self) -> usize {
        self.len() * 4
    }
}
/// A site without its text: id, location, kind and its terms' rows.
const SITE_BYTES: usize = 52;
/// A site term without its text: field and place.
const SITE_TERM_BYTES: usize = 9;

impl ByteSize for SiteTable {
    fn byte_size(&self) -> usize {
        self.text.len() + self.sites.ids.len() * SITE_BYTES + self.terms.values.len() * SITE_TERM_BYTES
    }
}
impl ByteSize for Vec<SiteSource> {
    fn byte_size(&self) -> usize {
        self.iter().map(|s| s.snippet.len() + 4).sum()
    }
}
impl ByteSize for Vec<code_search::Hit> {
    fn byte_size(&self) -> usize {
        self.len() * 12
    }
}
impl ByteSize for Vec<vectors::VectorHit> {
    fn byte_size(&self) -> usize {
        self.len() * 12
    }
}
impl ByteSize for llm::Completion {
    fn byte_size(&self) -> usize {
        self.text.len()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // An empty WASI context: no preopened files, no environment, no network. Only
        // stderr is captured so a guest panic message can be reported.
        let stderr = &self.stderr;
        let ctx = self.wasi.get_or_insert_with(|| WasiCtx::builder().stderr(stderr.clone()).build());
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl imports::types::Host for HostState {}
impl imports::capability_types::Host for HostState {}

impl imports::log::Host for HostState {
    async fn write(&mut self, level: Level, message: String) {
        self.usage.log_lines += 1;
        if self.usage.log_lines > MAX_LOG_LINES {
            return;
        }
        let mut message = message;
        if message.len() > MAX_LOG_LINE {
            let mut cut = MAX_LOG_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" …[truncated]");
        }
        let s = &self.scope;
        match level {
            Level::Trace => tracing::trace!(plugin = %s.plugin, graph_node = %s.graph_node, plan_node = %s.plan_node, "{message}"),
            Level::Debug => tracing::debug!(plugin = %s.plugin, graph_node = %s.graph_node, plan_node = %s.plan_node, "{message}"),
            Level::Info => tracing::info!(plugin = %s.plugin, graph_node = %s.graph_node, plan_node = %s.plan_node, "{message}"),
            Level::Warn => tracing::warn!(plugin = %s.plugin, graph_node = %s.graph_node, plan_node = %s.plan_node, "{message}"),
            Level::Error => tracing::error!(plugin = %s.plugin, graph_node = %s.graph_node, plan_node = %s.plan_node, "{message}"),
        }
    }

    async fn mark(&mut self) {
        let now = Instant::now();
        let first = self.usage.marks.map_or(now, |(f, _)| f);
        self.usage.marks = Some((first, now));
    }
}

impl imports::code_search::Host for HostState {
    async fn search(&mut self, q: code_search::Query) -> Result<Vec<code_search::Hit>, CapabilityError> {
        let n = q.terms.iter().map(|t| t.len()).sum();
        self.metered(Capability::CodeSearch, n, |c, s| async move { c.search(&s, q).await }).await
    }
    async fn sites(&mut self, ids: Vec<u32>) -> Result<SiteTable, CapabilityError> {
        let n = ids.len() * 4;
        self.metered(Capability::CodeSearch, n, |c, s| async move {
            let sites = c.sites(&s, ids).await?;
            crate::pack::site_table(&sites).map_err(|m| crate::capabilities::cap_error(CapabilityErrorKind::Invalid, format!("code-search.sites: {m}")))
        })
        .await
    }
    async fn source(&mut self, ids: Vec<u32>) -> Result<Vec<SiteSource>, CapabilityError> {
        let n = ids.len() * 4;
        self.metered(Capability::CodeSearch, n, |c, s| async move { c.source(&s, ids).await }).await
    }
    async fn upstream(&mut self, site: u32, depth: u32) -> Result<Vec<u32>, CapabilityError> {
        self.metered(Capability::CodeSearch, 4, |c, s| async move { c.upstream(&s, site, depth).await }).await
    }
}

/// Cache keys are namespaced by plugin so two plugins never read each other's entries.
fn namespaced(scope: &CallScope, key: &str) -> String {
    format!("plugin:{}:{key}", scope.plugin)
}

impl imports::cache::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, CapabilityError> {
        let n = key.len();
        self.metered(Capability::Cache, n, |c, s| async move {
            let k = namespaced(&s, &key);
            c.cache_get(&s, k).await
        })
        .await
    }
    async fn set(&mut self, key: String, value: Vec<u8>, ttl_seconds: u32) -> Result<(), CapabilityError> {
        let n = key.len() + value.len();
        self.metered(Capability::Cache, n, |c, s| async move {
            let k = namespaced(&s, &key);
            c.cache_set(&s, k, value, ttl_seconds).await
        })
        .await
    }
}

impl imports::vectors::Host for HostState {
    async fn nearest(&mut self, text: String, limit: u32) -> Result<Vec<vectors::VectorHit>, CapabilityError> {
        let n = text.len();
        self.metered(Capability::Vectors, n, |c, s| async move { c.nearest(&s, text, limit).await }).await
    }
}

impl imports::llm::Host for HostState {
    async fn complete(&mut self, req: llm::CompletionRequest) -> Result<llm::Completion, CapabilityError> {
        let n = req.prompt.len() + req.system.len();
        self.metered(Capability::Llm, n, |c, s| async move { c.complete(&s, req).await }).await
    }
}
