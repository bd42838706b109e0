//! A real `planmap serve` process for tests: started with a clean environment plus the
//! settings a test gives, its port read from its first line of output, its logs kept
//! in a file the test can search, and killed (or terminated politely) on request.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Credentials the test servers accept.
pub const ACME_KEY: &str = "acme-key-0123456789abcdef";
pub const GLOBEX_KEY: &str = "globex-key-0123456789abcdef";
pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdefghijklmnop";
/// A repository token that must never be seen again once submitted.
pub const REPO_TOKEN: &str = "ghp_NeverStoreMe0123456789abcdefABCDEF";

/// One compile cache for every server of the test binary (plugins compile once).
fn compile_cache() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("planmap-serve-cache-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    })
    .clone()
}

/// A running server.
pub struct Server {
    pub url: String,
    child: Child,
    pub log: PathBuf,
    /// The server's plugin, graph and clone folders (removed with the server).
    _dir: tempfile::TempDir,
}

impl Server {
    /// Start with the base settings overridden by `env`; waits until it listens.
    pub fn start(env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("serve.log");
        for d in ["plugins", "graphs", "clones"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        // PLANMAP_TEST_SERVER_BIN runs another build (a release one, to measure what
        // a deployment would see); by default the test build's binary.
        let bin = std::env::var_os("PLANMAP_TEST_SERVER_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_planmap")));
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("LOG_LEVEL", "info")
            .env("LOG_FORMAT", "json")
            .env("REPO_ALLOW_LOCAL", "true")
            .env("API_KEYS", format!("acme:{ACME_KEY},globex:{GLOBEX_KEY}"))
            .env("JWT_SECRET", JWT_SECRET)
            .env("PLANMAP_PLUGIN_DIR", dir.path().join("plugins"))
            .env("PLANMAP_GRAPH_DIR", dir.path().join("graphs"))
            .env("PLANMAP_COMPILE_CACHE", compile_cache())
            .env("REPO_CLONE_DIR", dir.path().join("clones"))
            // A store of its own unless the test names one: servers of tests running
            // at once never share the embedded default's file.
            .env("DATABASE_URL", format!("sqlite:{}", dir.path().join("jobs.db").display()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::from(std::fs::File::create(&log).unwrap())).spawn().expect("start planmap serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line.rsplit(' ').next().unwrap().to_string(),
            Err(_) => {
                let _ = child.kill();
                panic!("planmap serve did not start; its log:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
        };
        Server { url, child, log, _dir: dir }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// kill -9: no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the process to exit; its exit success.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let t = Instant::now();
        while t.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("planmap serve did not exit within {limit:?} of SIGTERM; log:\n{}", self.log_text());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of one server with one credential; keeps every response body it saw.
pub struct Api {
    pub base: String,
    pub key: Option<String>,
    pub http: reqwest::Client,
    pub seen: std::sync::Mutex<Vec<String>>,
}

impl Api {
    pub fn new(server: &Server, key: Option<&str>) -> Api {
        Api { base: server.url.clone(), key: key.map(str::to_string), http: planmap::http::builder().build().unwrap(), seen: Default::default() }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    async fn finish(&self, r: reqwest::RequestBuilder) -> (u16, Value, reqwest::header::HeaderMap) {
        let resp = r.send().await.expect("the server answers");
        let (code, headers) = (resp.status().as_u16(), resp.headers().clone());
        let text = resp.text().await.unwrap();
        self.seen.lock().unwrap().push(text.clone());
        (code, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (c, v, _) = self.finish(self.req(reqwest::Method::GET, path)).await;
        (c, v)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (c, v, _) = self.finish(self.req(reqwest::Method::POST, path).json(body)).await;
        (c, v)
    }

    /// POST with headers; returns the response headers too.
    pub async fn post_with(&self, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut r = self.req(reqwest::Method::POST, path).header("content-type", "application/json").body(body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        self.finish(r).await
    }

    /// POST a raw body with exactly these headers (no JSON content type).
    pub async fn post_raw(&self, path: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut r = self.req(reqwest::Method::POST, path).body(body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let (c, v, _) = self.finish(r).await;
        (c, v)
    }

    /// Poll a job until it is completed, failed or cancelled.
    pub async fn wait(&self, job: &str, limit: Duration) -> Value {
        let t = Instant::now();
        loop {
            let (code, v) = self.get(&format!("/api/agent/jobs/{job}")).await;
            assert_eq!(code, 200, "{v}");
            if ["completed", "failed", "cancelled"].contains(&v["status"].as_str().unwrap_or("")) {
                return v;
            }
            assert!(t.elapsed() < limit, "job {job} did not finish within {limit:?}: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Read a job's event stream to its end: (id, kind, data) in order.
    pub async fn events(&self, job: &str, last_event_id: Option<i64>) -> Vec<(i64, String, Value)> {
        use futures::StreamExt;
        let mut r = self.req(reqwest::Method::GET, &format!("/api/agent/jobs/{job}/events"));
        if let Some(id) = last_event_id {
            r = r.header("Last-Event-ID", id.to_string());
        }
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        let mut body = resp.bytes_stream();
        let mut text = String::new();
        let read = async {
            while let Some(chunk) = body.next().await {
                text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            }
        };
        tokio::time::timeout(Duration::from_secs(300), read).await.expect("the event stream ends after the job finishes");
        self.seen.lock().unwrap().push(text.clone());
        let mut out = Vec::new();
        for block in text.split("\n\n") {
            let (mut id, mut kind, mut data) = (None, None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse::<i64>().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str::<Value>(v).ok();
                }
            }
            if let (Some(i), Some(k), Some(d)) = (id, kind, data) {
                out.push((i, k, d["data"].clone()));
            }
        }
        out
    }
}

/// A small real plan (EXPLAIN FORMATTED of a union + distinct query, 11 nodes) and the
/// repository whose script produced it.
pub fn small_job() -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let plan = std::fs::read_to_string(root.join("plans/generated/explain/union_distinct/formatted.txt")).unwrap();
    serde_json::json!({"repoUrl": root.join("spark").display().to_string(), "plan": plan})
}

/// A large generated plan against the same repository: long enough to interrupt.
pub fn large_job(nodes: usize) -> Value {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    serde_json::json!({"repoUrl": root.join("spark").display().to_string(), "plan": planmap::cli::bench_plan::synthetic_formatted(nodes)})
}
