//! Per-caller limits, in memory, per process: a token bucket per principal for job
//! submissions (refilled continuously), and counted slots for what a caller may hold
//! at once (open event streams, submissions in flight). With N replicas behind a
//! balancer a caller gets at most N times a limit, which bounds abuse without a shared
//! counter on the hot path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are dropped (a full bucket is the same as no bucket).
const MAX_BUCKETS: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The limiter; `per_minute == 0` turns it off.
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        RateLimiter { per_sec: per_minute as f64 / 60.0, burst: burst.max(1) as f64, buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one submission for `key`; `Err(wait)` says how long until one is allowed.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if self.per_sec <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            let (per_sec, burst) = (self.per_sec, self.burst);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < burst);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_sec).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        }
    }
}

/// At most `max` held at once per key; a slot is given back when its guard drops.
#[derive(Clone)]
pub struct Slots {
    max: usize,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

/// One held slot.
pub struct Slot {
    key: String,
    held: Arc<Mutex<HashMap<String, usize>>>,
}

impl Slots {
    pub fn new(max: usize) -> Self {
        Slots { max, held: Default::default() }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for `key`, or `None` when it holds `max` already.
    pub fn take(&self, key: &str) -> Option<Slot> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(key.to_string()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot { key: key.to_string(), held: self.held.clone() })
    }

    /// Slots held by `key` now.
    pub fn held(&self, key: &str) -> usize {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).get(key).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// A process-wide budget of plan bytes being checked at once (submissions are parsed
/// before they are queued). Counted in KiB so a budget of any size fits a semaphore.
pub struct PlanBudget {
    kib: u32,
    sem: Arc<tokio::sync::Semaphore>,
}

/// Why a submission got no share of the budget.
pub enum OverBudget {
    /// The plan alone is larger than the whole budget.
    TooLarge { budget: u64 },
    /// Other submissions hold the budget now.
    Busy { budget: u64, free: u64 },
}

impl PlanBudget {
    pub fn new(bytes: u64) -> Self {
        let kib = (bytes / 1024).clamp(1, tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u64) as u32;
        PlanBudget { kib, sem: Arc::new(tokio::sync::Semaphore::new(kib as usize)) }
    }

    /// A share of `bytes`, held until the permit drops.
    pub fn take(&self, bytes: u64) -> Result<tokio::sync::OwnedSemaphorePermit, OverBudget> {
        let need = bytes.div_ceil(1024).max(1);
        let budget = self.kib as u64 * 1024;
        if need > self.kib as u64 {
            return Err(OverBudget::TooLarge { budget });
        }
        self.sem.clone().try_acquire_many_owned(need as u32).map_err(|_| OverBudget::Busy { budget, free: self.sem.available_permits() as u64 * 1024 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_callers_wait_and_others_are_unaffected() {
        let l = RateLimiter::new(60, 3);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900), "{wait:?}");
        assert!(l.check("b").is_ok());
        assert!(RateLimiter::new(0, 1).check("a").is_ok());
    }

    #[test]
    fn slots_are_counted_per_key_and_come_back_when_dropped() {
        let s = Slots::new(2);
        let (a1, a2) = (s.take("a").unwrap(), s.take("a").unwrap());
        assert!(s.take("a").is_none(), "the third of two");
        let b = s.take("b").expect("another key is unaffected");
        drop(a1);
        assert_eq!(s.held("a"), 1);
        assert!(s.take("a").is_some());
        drop((a2, b));
        assert_eq!((s.held("a"), s.held("b")), (0, 0));
    }

    #[test]
    fn the_plan_budget_refuses_what_does_not_fit_and_returns_shares() {
        let b = PlanBudget::new(10 << 20);
        assert!(matches!(b.take(11 << 20), Err(OverBudget::TooLarge { budget }) if budget == 10 << 20));
        let first = b.take(6 << 20).ok().unwrap();
        assert!(matches!(b.take(6 << 20), Err(OverBudget::Busy { free, .. }) if free == 4 << 20));
        drop(first);
        assert!(b.take(6 << 20).is_ok());
    }
}
