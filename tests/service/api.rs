//! The HTTP API of a real `planmap serve` process: jobs end to end on SQLite and on
//! Postgres (submit, idempotent replay, event stream with resume, paginated results),
//! secrets never kept, credentials and tenants, rate limits, validation, cancel and
//! resume, and the API description.

use super::server::*;
use crate::support::postgres::PgDb;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Everything a store holds, as text, to search for secrets.
async fn store_text(url: &str, sqlite_file: Option<&std::path::Path>) -> String {
    if let Some(f) = sqlite_file {
        let mut all = String::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(b) = std::fs::read(format!("{}{suffix}", f.display())) {
                all.push_str(&String::from_utf8_lossy(&b));
            }
        }
        return all;
    }
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut all = String::new();
    for t in ["jobs", "job_events", "node_checkpoints", "code_mappings", "repo_snapshots", "feedback", "plan_uploads"] {
        let rows: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT CAST(t AS TEXT) FROM {t} t"))).fetch_all(&pool).await.unwrap();
        all.extend(rows.into_iter().flatten());
    }
    all
}

async fn end_to_end(db_url: &str, sqlite_file: Option<&std::path::Path>, redis: &str) {
    let server = Server::start(&[("DATABASE_URL", db_url), ("REDIS_URL", redis)]);
    let api = Api::new(&server, Some(ACME_KEY));
    let (code, ready) = api.get("/api/agent/ready").await;
    assert_eq!(code, 200, "ready on this store: {ready}");
    let mut body = small_job();
    body["token"] = json!(REPO_TOKEN);
    body["analysisId"] = json!("nightly-orders");
    let bytes = serde_json::to_vec(&body).unwrap();
    let (code, first, headers) = api.post_with("/api/agent/map-to-code", bytes.clone(), &[("Idempotency-Key", "run-1")]).await;
    assert_eq!(code, 202, "{first}");
    assert!(headers.contains_key("x-request-id"));
    let job = first["jobId"].as_str().unwrap().to_string();
    assert_eq!(first["statusUrl"], format!("/api/agent/jobs/{job}"));
    assert_eq!(first["created"], true);
    // A retry with the same key and body is the same job; another body is a conflict.
    let (code, again, _) = api.post_with("/api/agent/map-to-code", bytes, &[("Idempotency-Key", "run-1")]).await;
    assert_eq!((code, again["jobId"].as_str(), again["created"].as_bool()), (202, Some(job.as_str()), Some(false)));
    let mut other = small_job();
    other["analysisId"] = json!("something else");
    let (code, conflict, _) = api.post_with("/api/agent/map-to-code", serde_json::to_vec(&other).unwrap(), &[("Idempotency-Key", "run-1")]).await;
    assert_eq!((code, conflict["error"]["code"].as_str()), (409, Some("idempotency_conflict")));

    let events = api.events(&job, None).await;
    let kinds: Vec<&str> = events.iter().map(|(_, k, _)| k.as_str()).collect();
    for k in ["job-submitted", "job-leased", "stage-started", "stage-finished", "node-mapped", "job-finished"] {
        assert!(kinds.contains(&k), "no {k} event in {kinds:?}");
    }
    assert_eq!(*kinds.last().unwrap(), "job-finished");
    assert_eq!(events.last().unwrap().2["status"], "completed");
    let ids: Vec<i64> = events.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "event ids increase: {ids:?}");
    // Reconnecting with Last-Event-ID continues after that event.
    let mid = ids[ids.len() / 2];
    let rest = api.events(&job, Some(mid)).await;
    assert_eq!(rest.iter().map(|e| e.0).collect::<Vec<_>>(), ids.iter().copied().filter(|i| *i > mid).collect::<Vec<_>>());

    let (code, status) = api.get(&format!("/api/agent/jobs/{job}")).await;
    assert_eq!(code, 200);
    assert_eq!(status["status"], "completed");
    assert_eq!(status["analysisId"], "nightly-orders");
    assert_eq!(status["progress"]["nodesDone"], status["progress"]["nodesTotal"]);
    assert_eq!(status["summary"]["nodes"], 11);
    assert!(status["repo"]["commit"].as_str().unwrap().len() == 40 && status["graph"]["version"].is_string(), "{status}");
    assert_eq!(status["cost"]["budgetUsd"], 1.0);

    // Results: all of them, then a filtered page.
    let (_, all) = api.get(&format!("/api/agent/jobs/{job}/mappings")).await;
    let maps = all["mappings"].as_array().unwrap();
    assert_eq!((maps.len(), all["page"]["total"].as_i64()), (11, Some(11)));
    for m in maps {
        for field in ["dagNodeId", "operator", "status", "mappedCode", "confidence", "explanation", "evidence", "alternatives"] {
            assert!(m.get(field).is_some(), "mapping lacks {field}: {m}");
        }
    }
    let owned_mapped = maps.iter().filter(|m| m["ownership"] == "owned").count();
    // Each code-owned node records the graph version and the plugins (with digests) that
    // produced it: the exposure record A/B analysis reads.
    for m in maps.iter().filter(|m| m["ownership"] == "owned") {
        let md = &m["metadata"];
        assert!(md["graph"]["version"].is_string(), "{md}");
        let plugins = md["plugins"].as_array().unwrap_or_else(|| panic!("no plugins in {md}"));
        assert!(plugins.len() >= 3 && plugins.iter().all(|p| p["digest"].as_str().unwrap().starts_with("sha256:")), "{md}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "node-mapped").count(), owned_mapped, "one node-mapped event per code-owned node");
    let confirmed = maps.iter().filter(|m| m["status"] == "confirmed" && m["confidence"].as_f64().unwrap() >= 0.9).count() as i64;
    let (_, page) = api.get(&format!("/api/agent/jobs/{job}/mappings?status=confirmed&minConfidence=0.9&limit=2")).await;
    assert_eq!(page["page"]["total"].as_i64(), Some(confirmed));
    assert!(page["mappings"].as_array().unwrap().iter().all(|m| m["status"] == "confirmed" && m["confidence"].as_f64().unwrap() >= 0.9));
    if confirmed > 2 {
        assert_eq!(page["page"]["nextOffset"], 2);
        let (_, next) = api.get(&format!("/api/agent/jobs/{job}/mappings?status=confirmed&minConfidence=0.9&limit=2&offset=2")).await;
        let a: HashSet<String> = page["mappings"].as_array().unwrap().iter().map(|m| m["dagNodeId"].to_string()).collect();
        assert!(next["mappings"].as_array().unwrap().iter().all(|m| !a.contains(&m["dagNodeId"].to_string())), "pages do not overlap");
    }

    // The repository token is nowhere: not in the store, the logs or any response.
    let stored = store_text(db_url, sqlite_file).await;
    assert!(stored.contains(&job), "the search covers the store");
    assert!(!stored.contains(REPO_TOKEN), "the token is in the database");
    let log = server.log_text();
    assert!(log.contains(&job), "the search covers the log");
    for secret in [REPO_TOKEN, ACME_KEY, JWT_SECRET] {
        assert!(!log.contains(secret), "a secret is in the log");
        assert!(api.seen.lock().unwrap().iter().all(|r| !r.contains(secret)), "a secret is in a response");
    }
}

#[tokio::test]
async fn jobs_run_end_to_end_over_http_on_sqlite_and_postgres() {
    let redis = crate::support::services::redis();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("planmap.db");
    end_to_end(&format!("sqlite:{}", file.display()), Some(&file), &redis.url).await;
    let db = PgDb::new().await;
    end_to_end(&db.url, None, &redis.url).await;
}

fn jwt(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap()).unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn credentials_are_required_and_each_tenant_sees_only_its_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("p.db").display());
    let server = Server::start(&[("DATABASE_URL", &db), ("JWT_ISSUER", "https://auth.example"), ("RATE_LIMIT_PER_MINUTE", "1"), ("RATE_LIMIT_BURST", "2"), ("WORKERS", "0"), ("CORS_ORIGINS", "https://ui.example.com")]);
    let acme = Api::new(&server, Some(ACME_KEY));
    let (code, sub) = acme.post("/api/agent/map-to-code", &small_job()).await;
    assert_eq!(code, 202, "{sub}");
    let job = sub["jobId"].as_str().unwrap().to_string();
    let path = format!("/api/agent/jobs/{job}");

    // Missing, unknown, expired, badly signed, wrong issuer: 401 with the error shape.
    let good = |tenant: &str, exp: i64| jwt(json!({"sub": "u1", "tenant": tenant, "exp": exp, "iss": "https://auth.example"}), JWT_SECRET);
    let cases = [
        (None, "missing credentials"),
        (Some("not-a-key-0123456789abcdef".to_string()), "neither a known API key nor a JWT"),
        (Some(good("acme", now() - 3600)), "expired"),
        (Some(jwt(json!({"sub": "u1", "tenant": "acme", "exp": now() + 600, "iss": "https://auth.example"}), "another-secret-0123456789abcdefghijkl")), "signature"),
        (Some(jwt(json!({"sub": "u1", "tenant": "acme", "exp": now() + 600, "iss": "https://evil.example"}), JWT_SECRET)), "issuer"),
    ];
    for (cred, why) in cases {
        let api = Api::new(&server, cred.as_deref());
        let (code, body) = api.get(&path).await;
        assert_eq!(code, 401, "{why}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized");
        assert!(body["error"]["message"].as_str().unwrap().contains(why), "{why}: {body}");
        assert!(body["error"]["requestId"].is_string());
    }
    // A valid JWT for acme sees the job; globex (by JWT or key) gets 404 everywhere.
    let acme_jwt = Api::new(&server, Some(&good("acme", now() + 600)));
    assert_eq!(acme_jwt.get(&path).await.0, 200);
    for other in [Api::new(&server, Some(&good("globex", now() + 600))), Api::new(&server, Some(GLOBEX_KEY))] {
        for p in [path.clone(), format!("{path}/mappings"), format!("{path}/events")] {
            let (code, body) = other.get(&p).await;
            assert_eq!((code, body["error"]["code"].as_str()), (404, Some("not_found")), "{p}");
        }
        assert_eq!(other.post(&format!("{path}/cancel"), &json!({})).await.0, 404);
        let (_, list) = other.get("/api/agent/jobs").await;
        assert!(list["jobs"].as_array().unwrap().iter().all(|j| j["jobId"] != job.as_str()));
    }
    // Health, readiness, metrics and the API description need no credentials.
    let anon = Api::new(&server, None);
    for p in ["/api/agent/health", "/api/agent/ready", "/metrics", "/api/agent/openapi.json"] {
        assert_eq!(anon.get(p).await.0, 200, "{p}");
    }
    // Browsers: only the configured origin may call (CORS_ORIGINS).
    for (origin, allowed) in [("https://ui.example.com", true), ("https://evil.example.com", false)] {
        let r = planmap::http::builder().build().unwrap()
            .request(reqwest::Method::OPTIONS, format!("{}{path}", server.url))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        let echoed = r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(echoed.as_deref() == Some(origin), allowed, "{origin}: {echoed:?}");
    }
    // Rate limit: a burst of 2 per caller, then 429 with Retry-After; others unaffected.
    assert_eq!(acme.post("/api/agent/map-to-code", &small_job()).await.0, 202);
    let (code, body, headers) = acme.post_with("/api/agent/map-to-code", serde_json::to_vec(&small_job()).unwrap(), &[]).await;
    assert_eq!((code, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(Api::new(&server, Some(GLOBEX_KEY)).post("/api/agent/map-to-code", &small_job()).await.0, 202);
}

#[tokio::test]
async fn invalid_requests_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("p.db").display());
    let server = Server::start(&[("DATABASE_URL", &db), ("MAX_BODY_BYTES", "65536"), ("MAX_PLAN_NODES", "8"), ("WORKERS", "0"), ("REPO_ALLOW_LOCAL", "false")]);
    let api = Api::new(&server, Some(ACME_KEY));
    let ok = json!({"repoUrl": "https://github.com/acme/etl", "plan": small_job()["plan"].as_str().unwrap().lines().take(3).collect::<Vec<_>>().join("\n")});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("repoUrl", json!("/etc/passwd")), "repoUrl"),
        (with("repoUrl", json!("https://192.168.1.10/acme/etl")), "repoUrl"),
        (with("repoUrl", json!("https://user:pw@github.com/acme/etl")), "repoUrl"),
        (with("repoUrl", json!(5)), "repoUrl"),
        (json!({"plan": "x"}), "repoUrl"),
        (with("commit", json!("not-a-sha")), "commit"),
        (with("branch", json!("-x")), "branch"),
        (with("targetPaths", json!(["jobs", "../../etc"])), "targetPaths[1]"),
        (with("planFormat", json!("yaml")), "planFormat"),
        (with("executionId", json!("seven")), "executionId"),
        (with("dagNodes", json!([{"id": "1"}])), "dagNodes"),
        (with("graph", json!("no-such-graph")), "graph"),
        (with("surprise", json!(true)), "surprise"),
        (with("plan", json!("this is not any plan format")), "plan"),
        (with("plan", small_job()["plan"].clone()), "plan"),
        (json!(["not", "an", "object"]), ""),
    ];
    for (body, field) in cases {
        let (code, resp) = api.post("/api/agent/map-to-code", &body).await;
        assert_eq!(code, 422, "{field}: {resp}");
        assert_eq!(resp["error"]["code"], "validation_failed");
        let paths: Vec<&str> = resp["error"]["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
        assert_eq!(paths, vec![field], "{resp}");
    }
    // The 11-node plan is over MAX_PLAN_NODES=8: the message says so.
    let (_, resp) = api.post("/api/agent/map-to-code", &with("plan", small_job()["plan"].clone())).await;
    assert!(resp["error"]["message"].as_str().unwrap().contains("MAX_PLAN_NODES"), "{resp}");
    let (code, resp, _) = api.post_with("/api/agent/map-to-code", b"{\"repoUrl\": ".to_vec(), &[]).await;
    assert_eq!((code, resp["error"]["code"].as_str()), (400, Some("invalid_json")));
    let big = json!({"repoUrl": "https://github.com/acme/etl", "plan": "x".repeat(70_000)});
    let (code, resp, _) = api.post_with("/api/agent/map-to-code", serde_json::to_vec(&big).unwrap(), &[]).await;
    assert_eq!((code, resp["error"]["code"].as_str()), (413, Some("body_too_large")), "{resp}");
    let (code, resp) = api.get("/api/agent/jobs/x/mappings?minConfidence=2&limit=abc&status=great").await;
    assert_eq!(code, 422);
    let paths: Vec<&str> = resp["error"]["fields"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["status", "minConfidence", "limit"]);
    // The request id of an error is the one the response carries.
    let (code, resp, headers) = api.post_with("/api/agent/map-to-code", b"[]".to_vec(), &[("x-request-id", "req-abc-123")]).await;
    assert_eq!((code, resp["error"]["requestId"].as_str(), headers["x-request-id"].to_str().unwrap()), (422, Some("req-abc-123"), "req-abc-123"));
}

#[tokio::test]
async fn a_queued_job_can_be_cancelled_and_resumed_and_another_process_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("p.db").display());
    // An API-only process takes the job; no worker runs it yet.
    let front = Server::start(&[("DATABASE_URL", &db), ("WORKERS", "0")]);
    let api = Api::new(&front, Some(ACME_KEY));
    let (_, sub) = api.post("/api/agent/map-to-code", &small_job()).await;
    let job = sub["jobId"].as_str().unwrap().to_string();
    assert_eq!(api.get(&format!("/api/agent/jobs/{job}")).await.1["status"], "queued");
    let (code, c) = api.post(&format!("/api/agent/jobs/{job}/cancel"), &json!({})).await;
    assert_eq!((code, c["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(api.post(&format!("/api/agent/jobs/{job}/cancel"), &json!({})).await.0, 409, "cannot cancel twice");
    let events = api.events(&job, None).await;
    assert_eq!(events.last().unwrap().2["status"], "cancelled", "the stream ends with the cancellation");
    let (code, r) = api.post(&format!("/api/agent/jobs/{job}/resume"), &json!({})).await;
    assert_eq!((code, r["status"].as_str()), (202, Some("queued")), "{r}");
    assert_eq!(api.post(&format!("/api/agent/jobs/{job}/resume"), &json!({})).await.0, 409, "a queued job is not resumable");
    // A worker process on the same store picks it up.
    let _worker = Server::start(&[("DATABASE_URL", &db), ("WORKERS", "1")]);
    let done = api.wait(&job, Duration::from_secs(120)).await;
    assert_eq!(done["status"], "completed", "{done}");
}

#[tokio::test]
async fn the_api_description_covers_every_route_and_the_snapshot_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("p.db").display());
    let server = Server::start(&[("DATABASE_URL", &db), ("WORKERS", "0")]);
    let api = Api::new(&server, Some(ACME_KEY));
    let (_, doc) = api.get("/api/agent/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let (_, sub) = api.post("/api/agent/map-to-code", &small_job()).await;
    let job = sub["jobId"].as_str().unwrap();
    let served = [
        ("post", "/api/agent/map-to-code"), ("get", "/api/agent/jobs"), ("get", "/api/agent/jobs/{id}"), ("get", "/api/agent/jobs/{id}/mappings"),
        ("get", "/api/agent/jobs/{id}/events"), ("post", "/api/agent/jobs/{id}/cancel"), ("post", "/api/agent/jobs/{id}/resume"), ("get", "/api/agent/graphs"),
        ("get", "/api/agent/plugins"), ("post", "/api/agent/mappings/{id}/feedback"), ("get", "/api/agent/experiments"), ("get", "/api/agent/health"), ("get", "/api/agent/ready"), ("get", "/api/agent/openapi.json"), ("get", "/metrics"),
    ];
    let documented: HashSet<(String, String)> = doc["paths"].as_object().unwrap().iter().flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone()))).collect();
    assert_eq!(documented, served.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect::<HashSet<_>>());
    // Every documented route is really served (not the fallback).
    for (method, p) in served.iter().filter(|(_, p)| !p.ends_with("/events")) {
        let p = p.replace("{id}", job);
        let (code, body) = if *method == "get" { api.get(&p).await } else { api.post(&p, &json!({})).await };
        assert!(!(code == 404 && body["error"]["message"].as_str().is_some_and(|m| m.contains("no such endpoint"))), "{method} {p} is not served");
    }
    let (_, plugins) = api.get("/api/agent/plugins").await;
    assert!(plugins["plugins"].as_array().unwrap().iter().all(|p| p["digest"].as_str().unwrap().starts_with("sha256:")));
    assert_eq!(plugins["reload"]["ok"], true);
    let (_, graphs) = api.get("/api/agent/graphs").await;
    assert!(graphs["graphs"].as_array().unwrap().iter().any(|g| g["name"] == "default"));
    let metrics = planmap::http::builder().build().unwrap().get(format!("{}/metrics", server.url)).send().await.unwrap().text().await.unwrap();
    for name in ["planmap_jobs_total", "planmap_queue_depth", "planmap_lease_takeovers_total", "planmap_reloads_total", "planmap_cache_requests_total", "planmap_llm_cost_usd_total", "planmap_http_requests_total"] {
        assert!(metrics.contains(name), "{name} not exported");
    }
    let _: Value = doc;
}

/// A multipart/form-data body: text fields, then the `plan` file part.
fn multipart(fields: &[(&str, &str)], file: &[u8]) -> (Vec<u8>, String) {
    let boundary = "planmap-test-boundary-7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"plan\"; filename=\"plan.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend(file);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

fn query(repo: &str, extra: &str) -> String {
    let mut q = form_urlencoded_pair("repoUrl", repo);
    if !extra.is_empty() {
        q.push('&');
        q.push_str(extra);
    }
    format!("/api/agent/map-to-code?{q}")
}

fn form_urlencoded_pair(k: &str, v: &str) -> String {
    let enc: String = v.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
    format!("{k}={enc}")
}

/// Plans as users have them: an event log of many executions uploaded as a file (as
/// it is, zstd; and plain with `Content-Encoding: gzip`), EXPLAIN text in a multipart
/// form; the response lists the executions when none was chosen, the job maps the
/// chosen one, and limits and misplaced tokens are refused in the API's words.
#[tokio::test]
async fn plans_are_accepted_as_uploaded_files_raw_compressed_or_multipart() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("u.db").display());
    let server = Server::start(&[("DATABASE_URL", &db), ("MAX_UPLOAD_BYTES", "1000000")]);
    let api = Api::new(&server, Some(ACME_KEY));
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let repo = fixtures.join("spark").display().to_string();
    let log_zstd = std::fs::read(fixtures.join("plans/generated/eventlog/local-run.zstd")).unwrap();

    // The compressed log as it is: every execution listed, the largest mapped.
    let (code, resp) = api.post_raw(&query(&repo, ""), log_zstd.clone(), &[("content-type", "application/octet-stream")]).await;
    assert_eq!(code, 202, "{resp}");
    let listed = resp["executions"].as_array().expect("the executions are listed");
    assert_eq!(listed.len(), 27, "{resp}");
    let largest = listed.iter().max_by_key(|e| (e["nodes"].as_u64().unwrap(), -e["id"].as_i64().unwrap())).unwrap();
    assert_eq!(resp["execution"]["id"], largest["id"], "the largest execution is mapped: {resp}");
    assert!(listed.iter().all(|e| e["callSite"].is_string() && e["description"].is_string()));
    let done = api.wait(resp["jobId"].as_str().unwrap(), Duration::from_secs(300)).await;
    assert_eq!(done["status"], "completed", "{done}");

    // The same log uncompressed, sent gzip-encoded, execution 7 chosen in the query:
    // no listing, and the job maps execution 7's sort-merge join to its line.
    let mut plain = Vec::new();
    zstd::stream::read::Decoder::new(&log_zstd[..]).unwrap().read_to_end(&mut plain).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let (code, resp) = api.post_raw(&query(&repo, "executionId=7"), gz, &[("content-type", "application/octet-stream"), ("content-encoding", "gzip")]).await;
    assert_eq!(code, 202, "{resp}");
    assert!(resp.get("executions").is_none(), "an execution was chosen: {resp}");
    assert_eq!(resp["execution"]["id"], 7);
    let job = resp["jobId"].as_str().unwrap().to_string();
    assert_eq!(api.wait(&job, Duration::from_secs(300)).await["status"], "completed");
    let (_, page) = api.get(&format!("/api/agent/jobs/{job}/mappings")).await;
    let smj = page["mappings"].as_array().unwrap().iter().find(|m| m["operator"] == "SortMergeJoin").expect("execution 7 has a sort-merge join");
    assert_eq!((smj["mappedCode"]["file"].as_str(), smj["mappedCode"]["lineStart"].as_u64()), (Some("generate_plans.py"), Some(100)), "{smj}");
    // An event log carries metrics: each stored mapping keeps its node's.
    let metrics = smj["metadata"]["cost"]["metrics"].as_array().unwrap_or_else(|| panic!("no cost on the stored mapping: {smj}"));
    assert!(metrics.iter().any(|m| m["name"] == "number of output rows" && m["unit"] == "count"), "{smj}");

    // EXPLAIN FORMATTED as a multipart file with the fields beside it.
    let plan = std::fs::read(fixtures.join("plans/generated/explain/union_distinct/formatted.txt")).unwrap();
    let (body, ct) = multipart(&[("repoUrl", &repo), ("analysisId", "from-a-form"), ("planFormat", "formatted")], &plan);
    let (code, resp) = api.post_raw("/api/agent/map-to-code", body, &[("content-type", &ct)]).await;
    assert_eq!(code, 202, "{resp}");
    let done = api.wait(resp["jobId"].as_str().unwrap(), Duration::from_secs(300)).await;
    assert_eq!((done["status"].as_str(), done["analysisId"].as_str()), (Some("completed"), Some("from-a-form")), "{done}");

    // Refusals name the limit, the field or the header to use.
    let (code, resp) = api.post_raw(&query(&repo, ""), plain.clone(), &[("content-type", "application/octet-stream")]).await;
    assert_eq!((code, resp["error"]["code"].as_str()), (413, Some("upload_too_large")), "the plain log (2.2 MB) is over the 1 MB limit: {resp}");
    assert!(resp["error"]["message"].as_str().unwrap().contains("MAX_UPLOAD_BYTES"), "{resp}");
    let (code, resp) = api.post_raw(&query(&repo, "token=ghp_secret"), plan.clone(), &[("content-type", "text/plain")]).await;
    assert_eq!(code, 400, "{resp}");
    assert!(resp["error"]["message"].as_str().unwrap().contains("X-Repo-Token") && !resp.to_string().contains("ghp_secret"), "{resp}");
    let (code, resp) = api.post_raw(&query(&repo, "executionId=99"), log_zstd.clone(), &[("content-type", "application/octet-stream")]).await;
    assert_eq!(code, 422, "{resp}");
    let msg = resp["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(msg.contains("executionId") && !msg.contains("--"), "API errors name fields, not flags: {resp}");
    let (code, resp) = api.post_raw(&query(&repo, ""), b"this is not any plan".to_vec(), &[("content-type", "text/plain")]).await;
    assert_eq!(code, 422, "{resp}");
    let msg = resp["error"]["fields"][0]["message"].as_str().unwrap();
    assert!(msg.contains("planFormat") && !msg.contains("--plan-format"), "{resp}");
    let (code, resp) = api.post_raw(&query(&repo, ""), plan.clone(), &[("content-type", "text/plain"), ("content-encoding", "br")]).await;
    assert_eq!((code, resp["error"]["code"].as_str()), (415, Some("unsupported_encoding")), "{resp}");
    let (body, ct) = multipart(&[("repoUrl", &repo), ("plan", "inline too")], &plan);
    let (code, resp) = api.post_raw("/api/agent/map-to-code", body, &[("content-type", &ct)]).await;
    assert_eq!(code, 400, "two plans: {resp}");
}
