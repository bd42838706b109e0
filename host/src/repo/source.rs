//! Getting a checkout: a local path (indexed in place), or a git URL (https, ssh,
//! `file://`) fetched shallowly at a branch, tag or commit into a clone folder reused
//! per repository and commit. URLs are checked against a policy first. A token is
//! handed to git through its environment only (never a URL, a config file or a log),
//! and scrubbed from any error text.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a clone or fetch may take before it is stopped.
pub const CLONE_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest checkout accepted (bytes on disk after checkout).
pub const MAX_REPO_BYTES: u64 = 2 << 30;
/// Total size of the clone folder before the least recently used clones are evicted.
pub const MAX_CLONE_CACHE_BYTES: u64 = 10 << 30;

/// What may be fetched.
#[derive(Debug, Clone)]
pub struct RepoPolicy {
    /// Local paths and `file://` URLs (on for the CLI, off for the HTTP service).
    pub allow_local: bool,
    /// Hosts https/ssh URLs may name; empty means any host that is not loopback,
    /// private or link-local.
    pub allowed_hosts: Vec<String>,
}

impl RepoPolicy {
    /// The command line's policy: anything the user can read.
    pub fn cli() -> Self {
        RepoPolicy { allow_local: true, allowed_hosts: vec![] }
    }

    /// A policy from `REPO_ALLOWED_HOSTS` (comma-separated) and `REPO_ALLOW_LOCAL`
    /// (`true`/`false`), with `allow_local` as the default for the latter (on for the
    /// CLI, off for the service).
    pub fn from_env(allow_local: bool) -> Result<Self, String> {
        let hosts = std::env::var("REPO_ALLOWED_HOSTS").unwrap_or_default();
        let allow_local = match std::env::var("REPO_ALLOW_LOCAL").ok().as_deref() {
            None | Some("") => allow_local,
            Some("true") | Some("1") => true,
            Some("false") | Some("0") => false,
            Some(other) => return Err(format!("REPO_ALLOW_LOCAL must be true or false, got {other:?}")),
        };
        Ok(RepoPolicy { allow_local, allowed_hosts: hosts.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect() })
    }
}

/// What to index.
#[derive(Clone, Default)]
pub struct RepoSpec {
    pub url: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// Used for the fetch only.
    pub token: Option<String>,
}

impl std::fmt::Debug for RepoSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepoSpec").field("url", &self.url).field("branch", &self.branch).field("commit", &self.commit).field("token", &self.token.as_ref().map(|_| "<redacted>")).finish()
    }
}

/// A checkout ready to index.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub root: PathBuf,
    /// The resolved commit sha, or `worktree` for a folder that is not a git repository.
    pub commit: String,
    /// A key that changes whenever the indexed content may have changed.
    pub cache_key: String,
    /// Cache keys of clones evicted to make room (their vector collections should go too).
    pub evicted: Vec<String>,
}

/// Why a repository could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("repository {0}: local paths and file:// URLs are not allowed here")]
    LocalNotAllowed(String),
    #[error("repository {url}: host '{host}' is not allowed ({why})")]
    HostNotAllowed { url: String, host: String, why: String },
    #[error("repository {0}: not a path, file://, https:// or ssh URL")]
    BadUrl(String),
    #[error("repository {0}: no such folder")]
    NotFound(String),
    #[error("repository {url}: git {what} failed: {message}")]
    Git { url: String, what: String, message: String },
    #[error("repository {url}: commit {commit} is not in it{hint}")]
    UnknownCommit { url: String, commit: String, hint: String },
    #[error("repository {url}: there is no branch or tag {branch:?}")]
    UnknownRef { url: String, branch: String },
    #[error("repository {url}: it does not exist, or it is private and needs an access token (the job's `token`; PLANMAP_GIT_TOKEN for the command line){}", if *.token_given { "; the token given was refused" } else { "" })]
    NeedsAccess { url: String, token_given: bool },
    #[error("repository {url}: the host could not be reached")]
    Unreachable { url: String },
    #[error("repository {url}: git {what} took longer than {} s", CLONE_TIMEOUT.as_secs())]
    Timeout { url: String, what: String },
    #[error("repository {url}: {size} bytes is over the {MAX_REPO_BYTES} byte limit")]
    TooLarge { url: String, size: u64 },
}

/// Remove the token from a text (git may echo URLs).
fn scrub(text: &str, token: Option<&str>) -> String {
    match token {
        Some(t) if !t.is_empty() => text.replace(t, "<redacted>"),
        _ => text.to_string(),
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://") || s.starts_with("ssh://") || s.starts_with("file://") || is_scp_like(s)
}

/// git's scp-like remote, `user@host:path` (`git@github.com:org/repo.git`).
fn is_scp_like(s: &str) -> bool {
    !s.contains("://") && s.split_once('@').is_some_and(|(user, rest)| !user.contains(['/', ':']) && rest.contains(':'))
}

/// The host of an https/ssh URL or scp-like remote: unbracketed, lowercase, without a
/// trailing dot (`localhost.` is `localhost`).
fn host_of(url: &str) -> Option<String> {
    let hostport = match url.split_once("://") {
        Some((_, after)) => {
            let authority = after.split('/').next()?;
            authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority)
        }
        // scp-like `user@host:path` or `user@[v6]:path`.
        None => {
            let after = url.split_once('@').map(|(_, h)| h).unwrap_or(url);
            match after.strip_prefix('[') {
                Some(v6) => return v6.split(']').next().filter(|h| !h.is_empty()).map(str::to_ascii_lowercase),
                None => after.split(':').next()?,
            }
        }
    };
    let host = match hostport.strip_prefix('[') {
        Some(rest) => rest.split(']').next()?,
        None => hostport.split(':').next()?,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// An IPv4 address in any spelling the C resolver (and so git) accepts: dotted, and
/// also one to three parts with the last filling the rest (`127.1`, `2130706433`),
/// hexadecimal (`0x7f.1`) and octal (`0177.0.0.1`) parts.
fn ipv4_any_spelling(host: &str) -> Option<std::net::Ipv4Addr> {
    let part = |p: &str| -> Option<u64> {
        if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            u64::from_str_radix(h, 16).ok()
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()
        } else {
            p.parse().ok()
        }
    };
    let parts: Vec<&str> = host.split('.').collect();
    if parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let nums = parts.iter().map(|p| part(p)).collect::<Option<Vec<u64>>>()?;
    let (last, init) = nums.split_last()?;
    if init.iter().any(|&n| n > 255) || *last >= 1u64 << (8 * (4 - init.len())) {
        return None;
    }
    let v = init.iter().enumerate().fold(0u32, |v, (i, &n)| v | (n as u32) << (24 - 8 * i)) | *last as u32;
    Some(std::net::Ipv4Addr::from(v))
}

/// The address a host names literally, in any spelling.
fn ip_literal(host: &str) -> Option<std::net::IpAddr> {
    host.parse::<std::net::IpAddr>().ok().or_else(|| ipv4_any_spelling(host).map(std::net::IpAddr::V4))
}

/// Whether an address is not on the public internet: loopback, private, link-local,
/// unique-local, carrier-grade NAT, unspecified, broadcast or multicast, and IPv6 forms
/// that carry such an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`).
fn internal_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v) => {
            let o = v.octets();
            v.is_loopback() || v.is_private() || v.is_link_local() || v.is_unspecified() || v.is_broadcast() || v.is_multicast() || o[0] == 0 || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        std::net::IpAddr::V6(v) => {
            if let Some(v4) = v.to_ipv4_mapped() {
                return internal_ip(std::net::IpAddr::V4(v4));
            }
            let s = v.segments();
            if s[..6].iter().all(|&x| x == 0) {
                return internal_ip(std::net::IpAddr::V4(std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8)));
            }
            v.is_loopback() || v.is_unspecified() || v.is_multicast() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Why `host` is internal by its name or literal address; with `resolve`, also by any
/// address the name resolves to.
fn internal_host(host: &str, resolve: bool) -> Option<String> {
    if host == "localhost" || host.ends_with(".localhost") || host.ends_with(".internal") || host.ends_with(".local") {
        return Some("an internal name".into());
    }
    if let Some(ip) = ip_literal(host) {
        return internal_ip(ip).then(|| format!("a loopback, private, link-local or unspecified address ({ip})"));
    }
    // A name: every address it resolves to must be public. A name that does not resolve
    // here cannot be fetched either; the fetch's own pin says so.
    use std::net::ToSocketAddrs;
    if !resolve {
        return None;
    }
    if let Ok(addrs) = (host, 443).to_socket_addrs()
        && let Some(a) = addrs.map(|a| a.ip()).find(|ip| internal_ip(*ip)) {
            return Some(format!("a name that resolves to an internal address ({a})"));
        }
    None
}

/// Check a URL or path against the policy.
pub fn check(spec: &RepoSpec, policy: &RepoPolicy) -> Result<(), RepoError> {
    check_with(spec, policy, true)
}

/// `check`, resolving names only when `resolve` (a fetch resolves once, for its pin).
fn check_with(spec: &RepoSpec, policy: &RepoPolicy, resolve: bool) -> Result<(), RepoError> {
    let url = &spec.url;
    if !is_url(url) || url.starts_with("file://") {
        if !policy.allow_local {
            return Err(RepoError::LocalNotAllowed(url.clone()));
        }
        // A folder that is not there fails the request, not a job later.
        let path = url.strip_prefix("file://").unwrap_or(url);
        return if Path::new(path).is_dir() { Ok(()) } else { Err(RepoError::NotFound(url.clone())) };
    }
    if url.starts_with("http://") {
        return Err(RepoError::BadUrl(format!("{url} (plain http is refused; use https)")));
    }
    let host = host_of(url).ok_or_else(|| RepoError::BadUrl(url.clone()))?;
    if !policy.allowed_hosts.is_empty() {
        if !policy.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
            return Err(RepoError::HostNotAllowed { url: url.clone(), host, why: format!("allowed: {}", policy.allowed_hosts.join(", ")) });
        }
    } else if let Some(why) = internal_host(&host, resolve) {
        return Err(RepoError::HostNotAllowed { url: url.clone(), host, why });
    }
    Ok(())
}

/// Get a checkout for `spec` under the policy, cloning into `clone_dir` when needed.
pub fn acquire(spec: &RepoSpec, policy: &RepoPolicy, clone_dir: &Path) -> Result<Checkout, RepoError> {
    // Names are resolved once, by the fetch's pin (which checks every address).
    check_with(spec, policy, false)?;
    let url = spec.url.trim_end_matches('/');
    if !is_url(url) && spec.branch.is_none() && spec.commit.is_none() {
        return local_in_place(url);
    }
    let git_url = if is_url(url) {
        url.to_string()
    } else {
        let abs = std::fs::canonicalize(url).map_err(|_| RepoError::NotFound(url.to_string()))?;
        format!("file://{}", abs.display())
    };
    clone(&git_url, spec, clone_dir, policy)
}

fn local_in_place(path: &str) -> Result<Checkout, RepoError> {
    let root = std::fs::canonicalize(path).map_err(|_| RepoError::NotFound(path.to_string()))?;
    if !root.is_dir() {
        return Err(RepoError::NotFound(path.to_string()));
    }
    let commit = git(&root, &["rev-parse", "HEAD"], Access::default(), path, "rev-parse").map(|s| s.trim().to_string()).unwrap_or_else(|_| "worktree".into());
    // A working tree can differ from its commit: the key covers names, sizes and times.
    let mut h = Sha256::new();
    h.update(root.to_string_lossy().as_bytes());
    h.update(commit.as_bytes());
    if let Ok(w) = super::walk::walk(&root, &[]) {
        for (p, rel) in &w.files {
            let m = std::fs::metadata(p).ok();
            h.update(rel.as_bytes());
            h.update(m.as_ref().map(|m| m.len()).unwrap_or(0).to_le_bytes());
            let mtime = m.and_then(|m| m.modified().ok()).and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos()).unwrap_or(0);
            h.update(mtime.to_le_bytes());
        }
    }
    Ok(Checkout { root, commit, cache_key: hex::encode(&h.finalize()[..16]), evicted: vec![] })
}

/// Run git with the token (if any) in its environment as an HTTP header.
/// The address a fetch must connect to: the one the policy checked, so git makes no
/// lookup of its own (a name that resolves differently the second time reaches nothing).
#[derive(Debug, Clone)]
struct Pin {
    host: String,
    port: u16,
    ip: std::net::IpAddr,
    ssh: bool,
}

/// Resolve the URL's host once and check every address: the pin for the fetch. Names
/// that do not resolve cannot be fetched; local paths and `file://` need no pin.
fn pin_for(url: &str, policy: &RepoPolicy) -> Result<Option<Pin>, RepoError> {
    if !is_url(url) || url.starts_with("file://") {
        return Ok(None);
    }
    let host = host_of(url).ok_or_else(|| RepoError::BadUrl(url.to_string()))?;
    let ssh = url.starts_with("ssh://") || is_scp_like(url);
    let explicit_port = url.split_once("://").and_then(|(_, a)| a.split('/').next()).and_then(|auth| {
        let hp = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
        let after = if hp.starts_with('[') { hp.split_once(']').map(|(_, r)| r)? } else { hp };
        after.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok())
    });
    let port = explicit_port.unwrap_or(if ssh { 22 } else { 443 });
    let allowed = policy.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host));
    let addrs: Vec<std::net::IpAddr> = match ip_literal(&host) {
        Some(ip) => vec![ip],
        None => {
            use std::net::ToSocketAddrs;
            (host.as_str(), port).to_socket_addrs().map_err(|_| RepoError::Unreachable { url: url.to_string() })?.map(|a| a.ip()).collect()
        }
    };
    if !allowed && let Some(bad) = addrs.iter().find(|ip| internal_ip(**ip)) {
        return Err(RepoError::HostNotAllowed { url: url.to_string(), host, why: format!("a name that resolves to an internal address ({bad})") });
    }
    let ip = *addrs.first().ok_or_else(|| RepoError::Unreachable { url: url.to_string() })?;
    Ok(Some(Pin { host, port, ip, ssh }))
}

/// What a git call may use: the token, and the address to connect to.
#[derive(Clone, Copy, Default)]
struct Access<'a> {
    token: Option<&'a str>,
    pin: Option<&'a Pin>,
}

fn git(dir: &Path, args: &[&str], access: Access<'_>, url: &str, what: &str) -> Result<String, RepoError> {
    let token = access.token;
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.env("GIT_TERMINAL_PROMPT", "0");
    let mut config: Vec<(&str, String)> = Vec::new();
    match access.pin {
        Some(p) if p.ssh => {
            cmd.env("GIT_SSH_COMMAND", format!("ssh -o HostName={} -o HostKeyAlias={}", p.ip, p.host));
        }
        Some(p) => {
            let ip = if p.ip.is_ipv6() { format!("[{}]", p.ip) } else { p.ip.to_string() };
            config.push(("http.curloptResolve", format!("{}:{}:{ip}", p.host, p.port)));
        }
        None => {}
    }
    if let Some(t) = token {
        // Passed as configuration through the environment: never on disk, never in argv.
        use std::io::Write as _;
        let mut b64 = Vec::new();
        {
            let raw = format!("x-access-token:{t}");
            let mut enc = Base64(&mut b64);
            let _ = enc.write_all(raw.as_bytes());
        }
        config.push(("http.extraHeader", format!("Authorization: Basic {}", String::from_utf8_lossy(&b64))));
    }
    // Configuration through the environment: never on disk, never in argv.
    cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (i, (k, v)) in config.iter().enumerate() {
        cmd.env(format!("GIT_CONFIG_KEY_{i}"), k).env(format!("GIT_CONFIG_VALUE_{i}"), v);
    }
    let mut child = cmd.spawn().map_err(|e| RepoError::Git { url: url.into(), what: what.into(), message: format!("cannot run git: {e}") })?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > CLONE_TIMEOUT => {
                let _ = child.kill();
                return Err(RepoError::Timeout { url: url.into(), what: what.into() });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(RepoError::Git { url: url.into(), what: what.into(), message: e.to_string() }),
        }
    }
    let out = child.wait_with_output().map_err(|e| RepoError::Git { url: url.into(), what: what.into(), message: e.to_string() })?;
    if !out.status.success() {
        let msg = scrub(String::from_utf8_lossy(&out.stderr).trim(), token);
        return Err(RepoError::Git { url: url.into(), what: what.into(), message: msg });
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

/// Minimal base64 (standard alphabet) for the auth header.
struct Base64<'a>(&'a mut Vec<u8>);
impl std::io::Write for Base64<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for chunk in buf.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
            self.0.push(T[(n >> 18) as usize & 63]);
            self.0.push(T[(n >> 12) as usize & 63]);
            self.0.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] } else { b'=' });
            self.0.push(if chunk.len() > 2 { T[n as usize & 63] } else { b'=' });
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Shallow clone at the requested branch/commit into `clone_dir/<url hash>/<commit>`.
fn clone(url: &str, spec: &RepoSpec, clone_dir: &Path, policy: &RepoPolicy) -> Result<Checkout, RepoError> {
    let token = spec.token.as_deref();
    let repo_key = hex::encode(&Sha256::digest(url.as_bytes())[..8]);
    let base = clone_dir.join(&repo_key);
    std::fs::create_dir_all(&base).map_err(|e| RepoError::Git { url: url.into(), what: "setup".into(), message: e.to_string() })?;
    // A requested full sha that is already checked out is reused without any network.
    if let Some(c) = &spec.commit {
        let dir = base.join(c);
        if c.len() == 40 && dir.join(".git").exists() {
            touch(&dir);
            return Ok(Checkout { root: dir, commit: c.clone(), cache_key: format!("{repo_key}-{c}"), evicted: vec![] });
        }
    }
    // Resolved once, here, for the fetches below (a cached commit needs none).
    let pin = pin_for(url, policy)?;
    let access = Access { token, pin: pin.as_ref() };
    let work = base.join(format!("incoming-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| RepoError::Git { url: url.into(), what: "setup".into(), message: e.to_string() })?;
    let run = |args: &[&str], what: &str| git(&work, args, access, url, what);
    run(&["init", "-q"], "init")?;
    let commit = match &spec.commit {
        Some(c) if c.len() < 40 => Some(resolve_short(&work, url, c, spec.branch.as_deref(), access)?),
        c => c.clone(),
    };
    let wanted = commit.clone().or_else(|| spec.branch.clone()).unwrap_or_else(|| "HEAD".into());
    // The URL is passed on the command line for this fetch only (no `origin` remote is
    // configured, so nothing about it is written into .git/config).
    let fetched = run(&["fetch", "-q", "--depth", "1", "--filter=blob:limit=2m", url, &wanted], "fetch");
    if fetched.is_err() {
        // Servers that refuse filters or fetching by sha: a full fetch of the ref.
        if let Err(e) = run(&["fetch", "-q", url, &wanted], "fetch") {
            let _ = std::fs::remove_dir_all(&work);
            return Err(explain_fetch(e, url, commit.as_deref(), spec.branch.as_deref(), token.is_some()));
        }
    }
    run(&["checkout", "-q", "--detach", "FETCH_HEAD"], "checkout")?;
    let commit = run(&["rev-parse", "HEAD"], "rev-parse")?.trim().to_string();
    let size = dir_size(&work);
    if size > MAX_REPO_BYTES {
        let _ = std::fs::remove_dir_all(&work);
        return Err(RepoError::TooLarge { url: url.into(), size });
    }
    let dir = base.join(&commit);
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        std::fs::rename(&work, &dir).map_err(|e| RepoError::Git { url: url.into(), what: "install".into(), message: e.to_string() })?;
    }
    touch(&dir);
    let evicted = evict(clone_dir, MAX_CLONE_CACHE_BYTES, &dir);
    Ok(Checkout { root: dir, commit: commit.clone(), cache_key: format!("{repo_key}-{commit}"), evicted })
}

/// The full sha of an abbreviated one: fetch the history of the branch (or of every
/// branch and tag) without trees or files, and look the prefix up there. Servers
/// cannot be asked for a commit by a prefix.
fn resolve_short(work: &Path, url: &str, short: &str, branch: Option<&str>, access: Access<'_>) -> Result<String, RepoError> {
    let token = access.token;
    let refs: Vec<String> = match branch {
        Some(b) => vec![format!("+{b}:refs/planmap/wanted")],
        None => vec!["+refs/heads/*:refs/planmap/heads/*".into(), "+refs/tags/*:refs/planmap/tags/*".into()],
    };
    let mut args = vec!["fetch", "-q", "--filter=tree:0", url];
    args.extend(refs.iter().map(String::as_str));
    if let Err(e) = git(work, &args, access, url, "fetch") {
        // Servers without partial clone: the same history with everything in it.
        let mut args = vec!["fetch", "-q", url];
        args.extend(refs.iter().map(String::as_str));
        git(work, &args, access, url, "fetch").map_err(|_| explain_fetch(e, url, None, branch, token.is_some()))?;
    }
    let unknown = |hint: String| RepoError::UnknownCommit { url: url.into(), commit: short.into(), hint };
    match git(work, &["rev-parse", "--verify", "-q", &format!("{short}^{{commit}}")], Access::default(), url, "rev-parse") {
        Ok(full) if full.trim().len() == 40 => Ok(full.trim().to_string()),
        _ => {
            // Ambiguous prefixes and unknown ones both fail to verify; say which.
            let ambiguous = git(work, &["rev-parse", "--disambiguate", short], Access::default(), url, "rev-parse").map(|o| o.lines().count() > 1).unwrap_or(false);
            let place = branch.map(|b| format!(" on {b}")).unwrap_or_else(|| " on any branch or tag".into());
            Err(unknown(if ambiguous { format!(" uniquely ({short} names several commits); give the full 40-hex SHA") } else { format!("{place}; give the full 40-hex SHA") }))
        }
    }
}

/// A failed fetch in planmap's words: an unknown commit or branch, a repository that
/// needs access, an unreachable host. Git's own text is kept only for other failures:
/// its network errors tell an outsider which ports answer.
fn explain_fetch(e: RepoError, url: &str, commit: Option<&str>, branch: Option<&str>, token_given: bool) -> RepoError {
    let RepoError::Git { message, .. } = &e else { return e };
    let m = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&["couldn't find remote ref", "not our ref", "unadvertised object", "no such remote ref", "invalid refspec", "upload-pack: not our ref", "fatal: remote error: upload-pack"]) {
        return match commit {
            Some(c) => RepoError::UnknownCommit { url: url.into(), commit: c.into(), hint: String::new() },
            None => RepoError::UnknownRef { url: url.into(), branch: branch.unwrap_or("HEAD").into() },
        };
    }
    if has(&["authentication failed", "could not read username", "terminal prompts disabled", "permission denied", "repository not found", "not found", "http 401", "http 403", "error: 403", "does not appear to be a git repository", "access denied"]) {
        return RepoError::NeedsAccess { url: url.into(), token_given };
    }
    if has(&["could not resolve host", "couldn't connect", "failed to connect", "connection refused", "connection reset", "connection timed out", "network is unreachable", "no route to host", "operation timed out", "ssl", "tls", "unable to access"]) {
        return RepoError::Unreachable { url: url.into() };
    }
    e
}

fn touch(dir: &Path) {
    let _ = std::fs::write(dir.join(".git").join("planmap-last-used"), b"");
}

fn dir_size(dir: &Path) -> u64 {
    walkdir(dir).iter().filter_map(|p| std::fs::symlink_metadata(p).ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
}

fn walkdir(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Remove least recently used clones until the folder is under `limit` (never `keep`);
/// returns the cache keys (`<repo key>-<commit>`) of the clones removed.
pub fn evict(clone_dir: &Path, limit: u64, keep: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    let mut clones: Vec<(std::time::SystemTime, PathBuf, u64)> = Vec::new();
    for repo in std::fs::read_dir(clone_dir).into_iter().flatten().flatten() {
        for c in std::fs::read_dir(repo.path()).into_iter().flatten().flatten() {
            let p = c.path();
            let used = std::fs::metadata(p.join(".git").join("planmap-last-used")).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            clones.push((used, p.clone(), dir_size(&p)));
        }
    }
    let mut total: u64 = clones.iter().map(|c| c.2).sum();
    clones.sort();
    for (_, p, size) in clones {
        if total <= limit {
            break;
        }
        if p != keep && std::fs::remove_dir_all(&p).is_ok() {
            tracing::info!(clone = %p.display(), bytes = size, "evicted a cached clone");
            total -= size;
            if let (Some(commit), Some(repo)) = (p.file_name(), p.parent().and_then(|r| r.file_name())) {
                removed.push(format!("{}-{}", repo.to_string_lossy(), commit.to_string_lossy()));
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_local_paths_and_internal_hosts_when_asked() {
        let strict = RepoPolicy { allow_local: false, allowed_hosts: vec![] };
        let spec = |u: &str| RepoSpec { url: u.into(), ..Default::default() };
        assert!(matches!(check(&spec("/etc"), &strict), Err(RepoError::LocalNotAllowed(_))));
        assert!(matches!(check(&spec("file:///etc"), &strict), Err(RepoError::LocalNotAllowed(_))));
        assert!(matches!(check(&spec("https://127.0.0.1/x.git"), &strict), Err(RepoError::HostNotAllowed { .. })));
        assert!(matches!(check(&spec("https://10.1.2.3/x.git"), &strict), Err(RepoError::HostNotAllowed { .. })));
        assert!(matches!(check(&spec("https://user@localhost:8080/x.git"), &strict), Err(RepoError::HostNotAllowed { .. })));
        assert!(check(&spec("https://github.com/acme/etl.git"), &strict).is_ok());
        let pinned = RepoPolicy { allow_local: false, allowed_hosts: vec!["github.com".into()] };
        assert!(matches!(check(&spec("https://gitlab.com/a/b.git"), &pinned), Err(RepoError::HostNotAllowed { .. })));
        assert!(matches!(check(&spec("http://github.com/a/b.git"), &pinned), Err(RepoError::BadUrl(_))));
    }

    #[test]
    fn every_spelling_of_an_internal_address_is_refused_and_ssh_users_are_fine() {
        let strict = RepoPolicy { allow_local: false, allowed_hosts: vec![] };
        let spec = |u: &str| RepoSpec { url: u.into(), ..Default::default() };
        for u in [
            "https://2130706433/x", "https://0x7f.1/x", "https://127.1/x", "https://0177.0.0.1/x", "https://0/x", "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x", "https://localhost./x", "https://[fd00::1]/x", "https://[fe80::1]/x", "https://[::]/x",
            "ssh://2130706433:8443/x", "git@2130706433:x", "deploy@[::1]:x", "ssh://git@127.0.0.1/x",
        ] {
            assert!(matches!(check(&spec(u), &strict), Err(RepoError::HostNotAllowed { .. })), "{u} was accepted");
        }
        // /etc/hosts names resolve without a network: localhost's aliases are internal.
        assert_eq!(host_of("ssh://git@github.com/org/repo.git").as_deref(), Some("github.com"));
        assert_eq!(host_of("deploy@git.example.com:org/repo.git").as_deref(), Some("git.example.com"));
        assert_eq!(host_of("https://[2001:db8::1]:8443/x").as_deref(), Some("2001:db8::1"));
        assert!(is_url("deploy@git.example.com:org/repo.git") && !is_url("jobs/etl.py"));
        assert_eq!(ipv4_any_spelling("8.8.8.8"), Some(std::net::Ipv4Addr::new(8, 8, 8, 8)));
        assert_eq!(ipv4_any_spelling("github.com"), None);
        assert!(!internal_ip("2606:4700::1".parse().unwrap()) && !internal_ip("140.82.112.3".parse().unwrap()));
    }

    #[test]
    fn a_fetch_is_pinned_to_the_address_the_policy_checked() {
        let open = RepoPolicy { allow_local: false, allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()] };
        let p = pin_for("https://127.0.0.1:8443/a/b.git", &open).unwrap().unwrap();
        assert_eq!((p.host.as_str(), p.port, p.ip.to_string().as_str(), p.ssh), ("127.0.0.1", 8443, "127.0.0.1", false));
        let p = pin_for("ssh://git@localhost/a/b.git", &open).unwrap().unwrap();
        assert!(p.ssh && p.port == 22 && p.ip.is_loopback(), "{p:?}");
        // A name the policy allows but that does not resolve is not fetched at all.
        let named = RepoPolicy { allow_local: false, allowed_hosts: vec!["repo.planmap.invalid".into()] };
        assert!(matches!(pin_for("https://repo.planmap.invalid/a/b.git", &named), Err(RepoError::Unreachable { .. })));
        // Without an allow list, an internal address is refused here too (a second lookup
        // that changed its answer).
        let strict = RepoPolicy { allow_local: false, allowed_hosts: vec![] };
        assert!(matches!(pin_for("https://localhost:9/a", &strict), Err(RepoError::HostNotAllowed { .. })));
        assert!(pin_for("/some/path", &strict).unwrap().is_none());
    }

    #[test]
    fn tokens_never_show_in_debug_or_errors() {
        let s = RepoSpec { url: "https://github.com/a/b".into(), token: Some("ghp_secret123".into()), ..Default::default() };
        assert!(!format!("{s:?}").contains("ghp_secret123"));
        assert_eq!(scrub("fatal: https://ghp_secret123@github.com", Some("ghp_secret123")), "fatal: https://<redacted>@github.com");
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        use std::io::Write;
        let mut v = Vec::new();
        Base64(&mut v).write_all(b"x-access-token:abc").unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), "eC1hY2Nlc3MtdG9rZW46YWJj");
    }
}

#[cfg(test)]
mod fetch_errors {
    use super::*;

    fn fetch_error(message: &str) -> RepoError {
        RepoError::Git { url: "https://example.com/a/b".into(), what: "fetch".into(), message: message.into() }
    }

    #[test]
    fn git_fetch_failures_are_told_in_planmaps_words() {
        let url = "https://example.com/a/b";
        let say = |m: &str, commit: Option<&str>, branch: Option<&str>| explain_fetch(fetch_error(m), url, commit, branch, false).to_string();
        assert!(say("fatal: remote error: upload-pack: not our ref 0123", Some("0123456789abcdef0123456789abcdef01234567"), None).contains("commit 0123456789abcdef0123456789abcdef01234567 is not in it"));
        assert!(say("fatal: couldn't find remote ref refs/heads/nope", None, Some("nope")).contains("no branch or tag \"nope\""));
        assert!(say("fatal: could not read Username for 'https://example.com': terminal prompts disabled", None, None).contains("needs an access token"));
        assert!(say("remote: Repository not found.\nfatal: repository 'https://example.com/a/b/' not found", None, None).contains("does not exist, or it is private"));
        // Network failures are one message, whatever git said: its wording tells which
        // ports answer.
        let refused = say("fatal: unable to access 'https://10.0.0.1/': Failed to connect to 10.0.0.1 port 443: Connection refused", None, None);
        let reset = say("fatal: unable to access 'https://10.0.0.1/': Connection reset by peer", None, None);
        assert_eq!(refused, reset);
        assert!(refused.contains("could not be reached") && !refused.contains("443"), "{refused}");
        assert!(explain_fetch(fetch_error("fatal: repository corrupt"), url, None, None, true).to_string().contains("repository corrupt"), "other failures keep git's words");
    }
}
