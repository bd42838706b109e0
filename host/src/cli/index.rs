//! `planmap index`: acquire a repository, extract its Spark sites, report stats.

use super::Common;
use crate::repo::{self, source, RepoPolicy, RepoSpec};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Which repository, shared by `index` and `map`.
#[derive(Args)]
pub struct RepoArgs {
    /// A local folder, or a git URL (https://, ssh, file://).
    #[arg(long)]
    pub repo: String,
    /// Commit sha (default: the branch's or the default branch's HEAD).
    #[arg(long)]
    pub commit: Option<String>,
    /// Branch or tag.
    #[arg(long)]
    pub branch: Option<String>,
    /// Only these sub-folders (repeatable).
    #[arg(long = "target-path")]
    pub target_paths: Vec<String>,
    /// Where clones are kept [default: ~/.cache/planmap/repos].
    #[arg(long, env = "REPO_CLONE_DIR")]
    pub clone_dir: Option<PathBuf>,
}

impl RepoArgs {
    /// Fetch (or find) the checkout under the policy from the environment. The token
    /// comes from `PLANMAP_GIT_TOKEN` only, so it never lands in shell history.
    pub async fn acquire(&self) -> anyhow::Result<source::Checkout> {
        let token = std::env::var("PLANMAP_GIT_TOKEN").ok().filter(|t| !t.is_empty());
        let spec = RepoSpec { url: self.repo.clone(), branch: self.branch.clone(), commit: self.commit.clone(), token };
        let clone_dir = self.clone_dir.clone().unwrap_or_else(default_clone_dir);
        let policy = RepoPolicy::from_env(true).map_err(|e| anyhow::anyhow!(e))?;
        Ok(tokio::task::spawn_blocking(move || source::acquire(&spec, &policy, &clone_dir)).await??)
    }
}

#[derive(Args)]
pub struct IndexArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Print every site (json) instead of the stats table.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

fn default_clone_dir() -> PathBuf {
    crate::config::default_compile_cache().and_then(|p| p.parent().map(|q| q.join("repos"))).unwrap_or_else(|| std::env::temp_dir().join("planmap-repos"))
}

pub async fn run(a: IndexArgs, _common: &Common) -> anyhow::Result<ExitCode> {
    let quiet = matches!(a.format, Format::Json);
    let spinner = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    spinner.set_message(format!("fetching {}", a.repo.repo));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let t0 = Instant::now();
    let checkout = a.repo.acquire().await?;
    spinner.finish_and_clear();
    let fetch_s = t0.elapsed().as_secs_f64();
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    bar.set_style(ProgressStyle::with_template("parsing {bar:30} {pos}/{len} files").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let backends = crate::capabilities::Backends::connect(&crate::capabilities::BackendConfig::from_env()).await;
    for key in &checkout.evicted {
        let name = format!("planmap-{key}-v{}", repo::INDEXER_VERSION);
        backends.complete_collections.lock().unwrap_or_else(|p| p.into_inner()).remove(&name);
        if let Err(e) = backends.vectors.delete_collection(&name).await {
            tracing::warn!("could not delete the vector collection {name} of an evicted clone: {e}");
        }
    }
    let t1 = Instant::now();
    let progress = {
        let bar = bar.clone();
        std::sync::Arc::new(move |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
    };
    let (ctx, loaded) = repo::context::load_or_build(&backends, &checkout, &a.repo.target_paths, progress).await.map_err(|e| anyhow::anyhow!("{}: {e}", a.repo.repo))?;
    bar.finish_and_clear();
    let parse_s = t1.elapsed().as_secs_f64();
    let vectors = match repo::context::ensure_vectors(&backends, &checkout, &ctx).await {
        Ok(Some(v)) => format!("{} sites in {} collection {}", ctx.sites.len(), backends.vectors.backend(), v.collection),
        Ok(None) => "off (no embeddings endpoint configured; lexical retrieval serves)".to_string(),
        Err(e) => format!("off ({e}; lexical retrieval serves)"),
    };
    let t2 = Instant::now();
    let index = ctx.memory_index();
    let index_s = t2.elapsed().as_secs_f64();
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&ctx)?),
        Format::Text => {
            let s = &ctx.stats;
            println!("repository {}  commit {}", checkout.root.display(), ctx.commit);
            println!("cache: {} {} ({}) in {:.1} ms", if loaded.hit { "hit" } else { "miss, stored" }, loaded.key, loaded.backend, loaded.ms);
            println!("vectors: {vectors}");
            for n in &backends.notes {
                println!("note: {n}");
            }
            println!("files: {}", s.files_by_language.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
            println!("sites: {} in total; {}", ctx.sites.len(), s.sites_by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "));
            println!("data-flow links: {}", ctx.edges.len());
            if !s.skipped.is_empty() {
                println!("skipped: {}", s.skipped.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "));
            }
            for w in &s.warnings {
                println!("warning: {w}");
            }
            println!(
                "time: fetch {fetch_s:.2} s, {} {parse_s:.2} s ({} lines, {:.0} lines/s), index {index_s:.3} s ({} sites)",
                if loaded.hit { "cached re-open" } else { "parse" },
                s.lines,
                s.lines as f64 / (s.parse_ms / 1e3).max(1e-9),
                crate::capabilities::CodeIndex::len(&index)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
