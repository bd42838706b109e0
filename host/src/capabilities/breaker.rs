//! A circuit breaker per backend (Redis, Chroma, the model, embeddings): after `FAILURES_TO_OPEN` failures in
//! a row the backend is skipped for `COOL_DOWN` (callers fall back at once instead of
//! each waiting out a timeout), then one call tries it again; a success closes it.
//! `/ready` and the `planmap_backend_circuit_open` gauge report every breaker.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Failures in a row that open the circuit: one slow call is noise, three are an outage.
pub const FAILURES_TO_OPEN: u32 = 3;
/// How long an open circuit skips its backend before trying again.
pub const COOL_DOWN: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
    /// A trial call is out (half-open): the others still skip.
    trial: bool,
    opened: u64,
    last_error: Option<String>,
}

pub struct Breaker {
    pub name: &'static str,
    state: Mutex<State>,
}

/// Every breaker of the process, for `/ready`.
static ALL: LazyLock<Mutex<Vec<Arc<Breaker>>>> = LazyLock::new(|| Mutex::new(Vec::new()));

impl Breaker {
    /// A breaker for `name`, listed in `/ready`.
    pub fn new(name: &'static str) -> Arc<Breaker> {
        let b = Arc::new(Breaker { name, state: Mutex::new(State::default()) });
        ALL.lock().unwrap_or_else(|p| p.into_inner()).push(b.clone());
        crate::metrics::set_circuit(name, false);
        b
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go to the backend now; `Err` says why not.
    pub fn allow(&self) -> Result<(), String> {
        let mut s = self.state();
        match s.open_until {
            None => Ok(()),
            Some(until) if Instant::now() >= until && !s.trial => {
                s.trial = true;
                Ok(())
            }
            Some(until) => Err(format!(
                "{} skipped: {} failures in a row{}; trying again in {} s",
                self.name,
                s.failures,
                s.last_error.as_deref().map(|e| format!(" (last: {e})")).unwrap_or_default(),
                until.saturating_duration_since(Instant::now()).as_secs()
            )),
        }
    }

    pub fn success(&self) {
        let mut s = self.state();
        let was_open = s.open_until.is_some();
        (s.failures, s.open_until, s.trial) = (0, None, false);
        if was_open {
            tracing::info!(backend = self.name, "circuit closed: the backend answers again");
            crate::metrics::set_circuit(self.name, false);
        }
    }

    pub fn failure(&self, error: &str) {
        let mut s = self.state();
        s.failures += 1;
        s.last_error = Some(error.chars().take(200).collect());
        if s.failures >= FAILURES_TO_OPEN && (s.open_until.is_none() || s.trial) {
            if s.open_until.is_none() {
                s.opened += 1;
                tracing::warn!(backend = self.name, "circuit open: {} failures in a row; skipping it for {} s", s.failures, COOL_DOWN.as_secs());
            }
            s.open_until = Some(Instant::now() + COOL_DOWN);
            s.trial = false;
            crate::metrics::set_circuit(self.name, true);
        }
    }

    /// `{"backend", "state": closed|open|half-open, "failures", "opened", "lastError"}`.
    pub fn report(&self) -> serde_json::Value {
        let s = self.state();
        let state = match s.open_until {
            None => "closed",
            Some(until) if Instant::now() >= until => "half-open",
            Some(_) => "open",
        };
        serde_json::json!({"backend": self.name, "state": state, "failures": s.failures, "opened": s.opened, "lastError": s.last_error})
    }

    /// Run `call` through the breaker: skipped while open, its outcome recorded.
    pub async fn call<T>(&self, call: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
        self.allow().map_err(|e| anyhow::anyhow!(e))?;
        match call.await {
            Ok(v) => {
                self.success();
                Ok(v)
            }
            Err(e) => {
                self.failure(&e.to_string());
                Err(e)
            }
        }
    }
}

/// Every breaker's report.
pub fn reports() -> Vec<serde_json::Value> {
    ALL.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|b| b.report()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn three_failures_open_the_circuit_and_calls_skip_until_it_cools_down() {
        let b = Breaker::new("test-backend");
        for _ in 0..FAILURES_TO_OPEN {
            assert!(b.call(async { anyhow::bail!("timed out") as anyhow::Result<()> }).await.is_err());
        }
        assert_eq!(b.report()["state"], "open");
        let skipped = b.call(async { Ok(()) }).await.unwrap_err().to_string();
        assert!(skipped.contains("skipped") && skipped.contains("timed out"), "{skipped}");
        // After the cool-down one trial goes through; its success closes the circuit.
        b.state().open_until = Some(Instant::now());
        assert!(b.call(async { Ok(()) }).await.is_ok());
        assert_eq!(b.report()["state"], "closed");
        assert!(reports().iter().any(|r| r["backend"] == "test-backend"));
    }
}
