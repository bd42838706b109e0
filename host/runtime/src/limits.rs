//! Per-invocation limits (deadline, memory) and the resource limiter that enforces
//! and measures them.

use std::time::Duration;

/// Default guest-time deadline per call; graph nodes override it with `timeout_ms`.
/// Two seconds is ~1000x what a built-in step needs on a 50-candidate batch.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default linear-memory cap per store; graph nodes override it with `memory_mib`.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// Epoch tick: the granularity of deadline checks. 10 ms keeps the ticker thread idle
/// while making a 2 s deadline precise to 0.5 %.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Table elements a guest may grow to (function tables of Rust guests are small).
pub const MAX_TABLE_ELEMENTS: usize = 100_000;
/// Extra wall time allowed on top of the guest deadline for capability calls in
/// flight (LLM calls have their own, longer timeouts inside the host).
pub const HOST_CALL_ALLOWANCE: Duration = Duration::from_secs(120);
/// Bytes of a guest's stderr kept for error messages (panics print there).
pub const STDERR_CAPTURE_BYTES: usize = 8 << 10;
/// Longest log line a plugin may write; longer lines are truncated.
pub const MAX_LOG_LINE: usize = 4 << 10;
/// Log lines one invocation may write before the rest are dropped.
pub const MAX_LOG_LINES: u32 = 200;

/// The limits for one invocation.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Guest execution time (host capability time is not counted).
    pub timeout: Duration,
    /// Linear memory cap.
    pub memory_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits { timeout: DEFAULT_TIMEOUT, memory_bytes: DEFAULT_MEMORY_BYTES }
    }
}

/// Enforces the memory cap and remembers whether it was hit and the peak reached.
#[derive(Debug)]
pub(crate) struct Limiter {
    pub cap: usize,
    pub peak: usize,
    pub exceeded: bool,
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.exceeded = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Human form of a byte count in MiB ("64 MiB").
pub fn mib(bytes: usize) -> String {
    format!("{} MiB", bytes >> 20)
}

/// Human form of a duration ("2 s", "250 ms").
pub fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else if d.as_millis() > 0 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} µs", d.as_micros())
    }
}
