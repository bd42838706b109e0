//! `planmap migrate`: apply the job store's migrations (Postgres when `DATABASE_URL` is
//! a postgres URL, the embedded SQLite file otherwise) and say what is applied.

use crate::jobs::store::redact;
use crate::jobs::Store;
use clap::Args;
use std::process::ExitCode;

#[derive(Args)]
pub struct MigrateArgs {
    /// `postgres://user:password@host/db`, `sqlite:PATH`, or a file path (default: the
    /// embedded store under the data folder).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

/// The database URL to use: the one given, or the embedded SQLite file
/// (`$XDG_DATA_HOME/planmap/planmap.db`, else `~/.local/share/planmap/planmap.db`).
pub fn database_url(given: Option<&str>) -> anyhow::Result<String> {
    if let Some(u) = given.filter(|u| !u.trim().is_empty()) {
        return Ok(u.to_string());
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| anyhow::anyhow!("no DATABASE_URL and no HOME to keep the embedded store in; set DATABASE_URL"))?;
    let dir = base.join("planmap");
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    Ok(format!("sqlite:{}", dir.join("planmap.db").display()))
}

/// Open the store at the given URL (or the embedded file) with its migrations applied;
/// also the URL and the versions applied.
pub async fn open(given: Option<&str>) -> anyhow::Result<(Store, String, Vec<i64>)> {
    let url = database_url(given)?;
    let store = Store::connect(&url).await?;
    let applied = store.migrate().await?;
    Ok((store, url, applied))
}

pub async fn run(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let (store, url, applied) = open(a.database_url.as_deref()).await?;
    println!("{} store {}: migrations applied: {}", store.backend(), redact(&url), applied.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "));
    Ok(ExitCode::SUCCESS)
}
