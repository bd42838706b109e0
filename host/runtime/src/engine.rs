//! The one wasmtime Engine and Linker of the process, the epoch ticker that drives
//! deadlines, and the on-disk cache of compiled components.

use crate::bindings::capabilities_world::Capabilities as CapabilitiesWorld;
use crate::host_impl::HostState;
use crate::limits::EPOCH_TICK;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine};

/// Concurrent plugin instances the pool holds: invocations run at most
/// MAX_PARALLEL_NODES x (1 + shadow variants) at once per worker; 1000 leaves room for
/// many workers and costs only virtual address space.
const POOL_INSTANCES: u32 = 1000;
/// Largest linear memory a pooled slot can hold: the largest cap a graph may set (4 GiB).
const MAX_POOLED_MEMORY: usize = 4 << 30;

/// Bytes of each pooled table reset with memset instead of madvise when a slot is
/// freed: plugin tables are a few KiB, and skipping the syscall and the page faults
/// that follow saves about 8 µs per invocation (measured with `planmap bench runtime`).
const TABLE_KEEP_RESIDENT: usize = 64 << 10;
/// Bytes of each pooled linear memory kept resident when a slot is freed, where the
/// kernel has PAGEMAP_SCAN (Linux 6.7+): only the pages the invocation dirtied are
/// reset, by memset, so the next invocation in the slot takes no page faults for them
/// (a batch of 64 plan nodes touches a few MiB). Without the ioctl the whole range would
/// be memset on every call, so linear memory is then left to madvise.
const MEMORY_KEEP_RESIDENT: usize = 8 << 20;

/// How the runtime is set up.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached (keyed by wasm digest and engine
    /// compatibility hash). `None` disables the cache: every load compiles.
    pub cache_dir: Option<PathBuf>,
}

/// The plugin runtime: compile, pre-instantiate and invoke plugins.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) cache_dir: Option<PathBuf>,
    /// Hex digest of the engine's compatibility hash: part of every cache key so a
    /// wasmtime upgrade or config change never loads stale machine code.
    pub(crate) engine_key: String,
    ticker_stop: Arc<AtomicBool>,
    /// Invocations made on this runtime (each pays the fixed cost of a call once).
    pub(crate) invocations: std::sync::atomic::AtomicUsize,
    /// Where the boundary time of marked invocations went, summed.
    pub(crate) boundary: crate::invoke::SplitTotals,
}

impl Runtime {
    /// Build the engine and linker and start the epoch ticker.
    pub fn new(config: RuntimeConfig) -> anyhow::Result<Runtime> {
        let mut cfg = Config::new();
        // Deadlines: the ticker bumps the epoch; stores trap or yield when they pass theirs.
        cfg.epoch_interruption(true);
        cfg.wasm_component_model(true);
        // Plugins are small and loaded rarely; optimise them fully.
        cfg.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // A fresh store per invocation is the isolation model, so instantiation is on
        // the hot path: the pooling allocator reuses memories, tables and fiber stacks
        // instead of mapping new ones every call (about halves the fixed cost).
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(MAX_POOLED_MEMORY)
            .table_keep_resident(TABLE_KEEP_RESIDENT);
        if wasmtime::PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.linear_memory_keep_resident(MEMORY_KEEP_RESIDENT).pagemap_scan(wasmtime::Enabled::Yes);
        }
        cfg.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&cfg)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        // Rust std pulls in wasi:cli and wasi:io imports, so WASI p2 must be linked;
        // the context each store gets is empty (see HostState::new).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        CapabilitiesWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        let engine_key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut h);
            format!("{:016x}", h.finish())
        };
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create plugin compile cache {}: {e}", dir.display()))?;
        }
        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new().name("planmap-epoch".into()).spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        }
        Ok(Runtime { engine, linker, cache_dir: config.cache_dir, engine_key, ticker_stop, invocations: Default::default(), boundary: Default::default() })
    }
}

impl Runtime {
    /// Plugin invocations made on this runtime so far (a batch counts once).
    pub fn invocations(&self) -> usize {
        self.invocations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Where the boundary time of marked invocations went so far, summed per entry of
    /// `invoke::SPLIT_CALLS`.
    pub fn boundary_split(&self) -> [crate::invoke::BoundarySplit; 5] {
        self.boundary.get()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}
