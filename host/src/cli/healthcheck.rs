//! `planmap healthcheck`: ask a running service whether it is alive (exit 0) or not
//! (exit 1), for container HEALTHCHECKs in images that carry no curl.

use clap::Args;
use std::process::ExitCode;
use std::time::Duration;

/// The probe gives up after this long: container runtimes have their own timeouts and
/// a hung probe must not outlive them.
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Args)]
pub struct HealthArgs {
    /// The endpoint to ask.
    #[arg(long, default_value = "http://127.0.0.1:3000/api/agent/health")]
    pub url: String,
}

pub async fn run(a: HealthArgs) -> anyhow::Result<ExitCode> {
    let client = crate::http::builder().timeout(TIMEOUT).build()?;
    match client.get(&a.url).send().await {
        Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(r) => {
            eprintln!("unhealthy: {} answered {}", a.url, r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("unhealthy: {}: {e}", a.url);
            Ok(ExitCode::FAILURE)
        }
    }
}
