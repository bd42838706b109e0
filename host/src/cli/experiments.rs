//! `planmap feedback` and `planmap experiments`: the A/B loop from the command line,
//! straight on the job store (`DATABASE_URL`, or the embedded SQLite file).

use crate::jobs::{experiments, Store};
use clap::{Args, ValueEnum};
use std::process::ExitCode;

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct FeedbackArgs {
    /// The mapping (`mappingId` in the service's results).
    #[arg(long)]
    pub mapping: i64,
    /// correct, wrong, or corrected (with --file and optionally --lines).
    #[arg(long)]
    pub verdict: String,
    /// The right file, relative to the repository root (for `corrected`).
    #[arg(long)]
    pub file: Option<String>,
    /// The right lines, e.g. 40 or 40-44.
    #[arg(long)]
    pub lines: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Args)]
pub struct ExperimentsArgs {
    /// Only this tenant's jobs (all tenants by default).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only mappings made at or after this time (Unix ms).
    #[arg(long, default_value_t = 0)]
    pub since: i64,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

async fn store(url: Option<&str>) -> anyhow::Result<Store> {
    Ok(super::migrate::open(url).await?.0)
}

pub async fn feedback(a: FeedbackArgs) -> anyhow::Result<ExitCode> {
    let body = serde_json::json!({"verdict": a.verdict, "file": a.file, "lines": a.lines, "note": a.note});
    let fb = crate::service::feedback_check(&body).map_err(|errors| anyhow::anyhow!("{}", errors.iter().map(|e| format!("--{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; ")))?;
    let store = store(a.database_url.as_deref()).await?;
    if store.mapping_owner(a.mapping).await?.is_none() {
        anyhow::bail!("no mapping {} in the store", a.mapping);
    }
    let id = store.add_feedback(a.mapping, &fb.verdict, fb.file.as_deref(), fb.lines.as_deref(), fb.note.as_deref()).await?;
    println!("feedback {id} recorded on mapping {}: {}", a.mapping, fb.verdict);
    Ok(ExitCode::SUCCESS)
}

pub async fn report(a: ExperimentsArgs) -> anyhow::Result<ExitCode> {
    let store = store(a.database_url.as_deref()).await?;
    let rows = store.experiment_rows(a.tenant.as_deref(), a.since, crate::service::REPORT_WINDOW).await?;
    let r = experiments::report(&rows);
    match a.format {
        Format::Text => print!("{}", experiments::text(&r)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&serde_json::json!({"experiments": r, "mappingsRead": rows.len()}))?),
    }
    Ok(ExitCode::SUCCESS)
}
