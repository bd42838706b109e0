//! Walking a checkout: `.gitignore` honoured, target paths applied, vendored,
//! generated, binary and huge files skipped and counted by reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest source file indexed; bigger ones are generated or data, not code.
pub const MAX_FILE_BYTES: u64 = 2 << 20;
/// Most files indexed in one repository.
pub const MAX_FILES: usize = 50_000;
/// Folders that hold someone else's code or build output.
const SKIP_DIRS: &[&str] = &["node_modules", "vendor", "third_party", "site-packages", ".venv", "venv", "build", "dist", "target", "__pycache__", ".ipynb_checkpoints", ".git"];

/// The language of a file by extension.
pub fn language(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "py" => Some("python"),
        "ipynb" => Some("notebook"),
        "sql" => Some("sql"),
        "scala" => Some("scala"),
        "java" => Some("java"),
        // Not indexed for sites: read for the files they run (`spark-sql -f q.sql`).
        "sh" => Some("shell"),
        _ => None,
    }
}

/// Files to index, and what was skipped.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<(PathBuf, String)>,
    pub skipped: BTreeMap<String, usize>,
}

/// Walk `root`, restricted to `targets` (relative sub-folders) when given.
pub fn walk(root: &Path, targets: &[String]) -> Result<Walk, String> {
    let mut out = Walk::default();
    let starts: Vec<PathBuf> = if targets.is_empty() {
        vec![root.to_path_buf()]
    } else {
        let mut v = Vec::new();
        for t in targets {
            let rel = Path::new(t.trim_start_matches("./"));
            if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(format!("target path {t:?} must be relative to the repository and stay inside it"));
            }
            let p = root.join(rel);
            if !p.exists() {
                return Err(format!("target path {t:?} does not exist in the repository"));
            }
            v.push(p);
        }
        v
    };
    for start in starts {
        let mut b = ignore::WalkBuilder::new(&start);
        b.hidden(true).git_ignore(true).git_exclude(true).require_git(false).parents(true);
        let skipped_dirs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = skipped_dirs.clone();
        b.filter_entry(move |e| {
            let skip = e.file_type().is_some_and(|t| t.is_dir()) && e.file_name().to_str().is_some_and(|n| SKIP_DIRS.contains(&n));
            if skip && e.file_name() != ".git" {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            !skip
        });
        for entry in b.build() {
            let Ok(entry) = entry else {
                *out.skipped.entry("unreadable".into()).or_default() += 1;
                continue;
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let path = entry.path();
            let Some(lang) = language(path) else {
                *out.skipped.entry("not source".into()).or_default() += 1;
                continue;
            };
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            if size > MAX_FILE_BYTES {
                *out.skipped.entry(format!("over {} MiB", MAX_FILE_BYTES >> 20)).or_default() += 1;
                continue;
            }
            if out.files.len() >= MAX_FILES {
                *out.skipped.entry(format!("over the {MAX_FILES} file limit")).or_default() += 1;
                continue;
            }
            let rel = path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/");
            out.files.push((path.to_path_buf(), rel));
            let _ = lang;
        }
        let dirs = skipped_dirs.load(std::sync::atomic::Ordering::Relaxed);
        if dirs > 0 {
            *out.skipped.entry("vendored or build folders".into()).or_default() += dirs;
        }
    }
    out.files.sort_by(|a, b| a.1.cmp(&b.1));
    out.files.dedup_by(|a, b| a.1 == b.1);
    Ok(out)
}
