//! Real services for tests: a Redis (the machine's, or a private one started here), a
//! Chroma server started from the `chromadb` pip package, and a local
//! OpenAI-compatible embeddings server (the one thing tests may fake).

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed on drop.
pub struct Service {
    pub url: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

impl Service {
    /// Stop the service now (as an outage would); a shared one is left alone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < limit {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not start within {} s", limit.as_secs());
}

fn redis_answers(url: &str) -> bool {
    redis::Client::open(url).ok().and_then(|c| c.get_connection_with_timeout(Duration::from_millis(500)).ok()).is_some_and(|mut c| redis::cmd("PING").query::<String>(&mut c).is_ok())
}

/// `REDIS_URL` or the machine's Redis when it answers; otherwise a private
/// `redis-server` on a free port.
pub fn redis() -> Service {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    if redis_answers(&url) {
        return Service { url, child: None, _dir: None };
    }
    private_redis()
}

/// A `redis-server` of this test's own on a free port (one it may stop).
pub fn private_redis() -> Service {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("no Redis answers and `redis-server` cannot be started: install Redis (apt-get install redis-server)");
    let url = format!("redis://127.0.0.1:{port}/");
    wait_for("redis-server", Duration::from_secs(20), || redis_answers(&url));
    Service { url, child: Some(child), _dir: Some(dir) }
}

fn chroma_bin() -> PathBuf {
    if let Ok(p) = std::env::var("PLANMAP_CHROMA_BIN") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/planmap/venv-chroma/bin/chroma");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("chroma")
}

/// A Chroma server on a free port with its own data folder.
pub fn chroma() -> Service {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let bin = chroma_bin();
    let child = Command::new(&bin)
        .args(["run", "--host", "127.0.0.1", "--port", &port.to_string(), "--path"])
        .arg(dir.path().join("data"))
        .env("ANONYMIZED_TELEMETRY", "False")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Chroma ({}: {e}); install it with: python3 -m venv ~/.cache/planmap/venv-chroma && ~/.cache/planmap/venv-chroma/bin/pip install chromadb==1.5.9", bin.display()));
    let url = format!("http://127.0.0.1:{port}");
    let hb = format!("{url}/api/v2/heartbeat");
    wait_for("chroma", Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && ureq_get_ok(&hb)
    });
    Service { url, child: Some(child), _dir: Some(dir) }
}

fn ureq_get_ok(url: &str) -> bool {
    // A blocking GET without another HTTP client: one request on a fresh socket.
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let path = format!("/{}", url.trim_start_matches("http://").split_once('/').map(|x| x.1).unwrap_or(""));
    let Ok(mut s) = std::net::TcpStream::connect(&addr) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200")
}

/// Deterministic embeddings: hashed bag of lower-case words, so texts that share words
/// are close. Dimension 64.
pub fn fake_embedding(text: &str) -> Vec<f32> {
    let mut v = vec![0f32; 64];
    for w in text.split(|c: char| !c.is_alphanumeric() && c != '_').filter(|w| w.len() > 1) {
        let mut h: u64 = 1469598103934665603;
        for b in w.to_ascii_lowercase().bytes() {
            h = (h ^ b as u64).wrapping_mul(1099511628211);
        }
        v[(h % 64) as usize] += 1.0;
    }
    v
}

/// An OpenAI-compatible `/v1/embeddings` server on a free port (runs on its own thread
/// until the test binary exits). Counts requests.
pub fn embeddings_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c2 = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let c3 = c2.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut len = 0;
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        if h == "\r\n" || h.is_empty() {
                            break;
                        }
                        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    c3.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let req: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    let inputs: Vec<String> = req["input"].as_array().map(|a| a.iter().map(|x| x.as_str().unwrap_or("").to_string()).collect()).unwrap_or_default();
                    let data: Vec<serde_json::Value> = inputs.iter().enumerate().map(|(i, t)| serde_json::json!({"object": "embedding", "index": i, "embedding": fake_embedding(t)})).collect();
                    let out = serde_json::json!({"object": "list", "data": data, "model": req["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}}).to_string();
                    let mut w = stream.try_clone().unwrap();
                    let _ = write!(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{out}", out.len());
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}/v1"), count)
}
