//! `planmap serve`: read and check the configuration (listing every problem), open the
//! store and apply migrations, load plugins and graphs and watch them, start the worker
//! pool and the HTTP API; on SIGTERM or Ctrl-C stop taking requests and jobs, finish
//! or release the jobs in hand, and exit.

use super::Common;
use crate::capabilities::Backends;
use crate::jobs::{Runner, Store};
use crate::service::config::{ServiceConfig, Settings};
use crate::service::{self, auth::Authenticator, limit::{PlanBudget, RateLimiter, Slots}, workers::Workers, AppState};
use crate::snapshot::{Registry, Sources, Watcher};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Least time open connections get to close at shutdown when the grace period is
/// already spent (event streams end at once when shutdown starts; this is for
/// responses being written).
const HTTP_DRAIN_MIN: Duration = Duration::from_secs(1);

#[derive(Args)]
pub struct ServeArgs {
    /// TOML file of settings: the environment variable names in lower case (the
    /// environment wins over the file).
    #[arg(long, env = "PLANMAP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print every setting the service reads, and exit.
    #[arg(long)]
    pub list_settings: bool,
}

fn init_logging(cfg: &ServiceConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cfg.log_json {
        let _ = builder.json().flatten_event(true).with_current_span(false).try_init();
    } else {
        let _ = builder.try_init();
    }
}

pub async fn run(a: ServeArgs, common: &Common) -> anyhow::Result<ExitCode> {
    if a.list_settings {
        for (k, what) in crate::service::config::SETTINGS {
            println!("{k:<28} {what}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut problems = Vec::new();
    let settings = Settings::load(a.config.as_deref(), std::env::vars(), &mut problems);
    let cfg = match ServiceConfig::from_settings(&settings, problems) {
        Ok(c) => c,
        Err(problems) => {
            eprintln!("error: invalid configuration ({} problem{}):", problems.len(), if problems.len() == 1 { "" } else { "s" });
            for p in problems {
                eprintln!("  - {p}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    init_logging(&cfg);
    crate::metrics::init();
    tracing::info!(config = %cfg.describe(), "starting planmap serve");

    let url = super::migrate::database_url(cfg.database_url.as_deref())?;
    let store = Store::connect(&url).await?;
    if cfg.run_migrations {
        let applied = store.migrate().await?;
        tracing::info!(backend = store.backend(), ?applied, "migrations applied");
    }
    let backends = Arc::new(Backends::connect(&cfg.backends).await);
    let runtime = crate::config::runtime(cfg.compile_cache.clone().or_else(|| common.compile_cache.clone()), common.no_compile_cache)?;
    let sources = Sources { plugin_dir: Some(cfg.plugin_dir.clone().unwrap_or_else(|| common.plugins.clone())), graph_dir: Some(cfg.graph_dir.clone().unwrap_or_else(|| common.graphs.clone())) };
    let registry = Arc::new(tokio::task::spawn_blocking(move || Registry::open(runtime, sources)).await?.map_err(|e| anyhow::anyhow!("plugins and graphs are not valid:\n{}", e.join("\n")))?);
    let _watcher = Watcher::start(registry.clone())?;
    std::fs::create_dir_all(&cfg.clone_dir).map_err(|e| anyhow::anyhow!("REPO_CLONE_DIR {}: {e}", cfg.clone_dir.display()))?;
    let runner = Arc::new(Runner {
        store: store.clone(),
        registry: registry.clone(),
        backends: backends.clone(),
        policy: cfg.policy.clone(),
        clone_dir: cfg.clone_dir.clone(),
        owner: cfg.instance.clone(),
        lease: cfg.lease,
        parallel: cfg.parallel,
        thresholds: cfg.thresholds,
        retrieval_top_k: cfg.retrieval_top_k,
        tokens: Default::default(),
    });
    let wake = Arc::new(tokio::sync::Notify::new());
    let workers = Workers::start(runner.clone(), cfg.workers, wake.clone());
    let listener = tokio::net::TcpListener::bind(cfg.bind).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.bind))?;
    let bound = listener.local_addr()?;
    let grace = cfg.shutdown_grace;
    let (stop_http, stopped) = tokio::sync::watch::channel(false);
    let state = Arc::new(AppState {
        auth: Authenticator::new(&cfg.auth)?,
        limiter: RateLimiter::new(cfg.rate_per_minute, cfg.rate_burst),
        submissions: Slots::new(cfg.max_submissions_per_tenant),
        streams: Slots::new(cfg.max_streams_per_caller),
        plan_budget: PlanBudget::new(cfg.max_plan_bytes_in_flight),
        feed: service::feed::Feed::start(store.clone()),
        closing: stopped.clone(),
        config: cfg,
        store,
        registry,
        runner,
        backends,
        wake,
    });
    let app = service::router(state);
    let server = tokio::spawn(async move {
        let mut stopped = stopped;
        axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|v| *v).await;
        })
        .await
    });
    // Tests and scripts wait for this line (stdout) to know the port.
    println!("planmap serve listening on http://{bound}");
    tracing::info!(addr = %bound, "listening");
    service::shutdown_signal().await;
    tracing::info!("shutting down: no new requests or jobs; finishing the jobs in hand");
    // One deadline for everything: event streams end now (clients reconnect to another
    // replica with Last-Event-ID), jobs in hand finish or are released within the grace
    // period, and the last responses drain by its end.
    let deadline = tokio::time::Instant::now() + grace;
    let _ = stop_http.send(true);
    workers.shutdown(grace).await;
    let drain = deadline.saturating_duration_since(tokio::time::Instant::now()).max(HTTP_DRAIN_MIN);
    if tokio::time::timeout(drain, server).await.is_err() {
        tracing::info!("closing the connections still open");
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}
