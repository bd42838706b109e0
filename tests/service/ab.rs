//! A/B testing on a running service: sticky variants recorded on every mapping, shadow
//! answers stored but never returned, feedback (API and CLI) flowing into per-variant
//! accuracy in the experiments report; and hot swap: a running job finishes on the old
//! plugin while the next uses the new one, and a broken plugin is refused and reported.

use super::server::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The example experiment's salt and split (graphs/scorer-experiment.toml).
const SALT: &str = "scorer-calibration-2026-11";

fn repo_graphs() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../graphs").display().to_string()
}

/// Owned mappings of a job.
async fn owned(api: &Api, job: &str) -> Vec<Value> {
    let (_, page) = api.get(&format!("/api/agent/jobs/{job}/mappings?limit=1000")).await;
    page["mappings"].as_array().unwrap().iter().filter(|m| m["ownership"] == "owned").cloned().collect()
}

#[tokio::test]
async fn feedback_flows_into_per_variant_accuracy_and_shadows_are_stored_not_returned() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    let db = format!("sqlite:{}", file.display());
    let server = Server::start(&[("DATABASE_URL", &db), ("PLANMAP_GRAPH_DIR", &repo_graphs())]);
    let api = Api::new(&server, Some(ACME_KEY));
    // Analysis ids that land on each variant (the split is 80 control / 20 challenger).
    let mut ids: Vec<(String, &str)> = Vec::new();
    for i in 0.. {
        let key = format!("ab-{i}");
        let variant = if planmap::pipeline::bucket(SALT, &key, 100) < 80 { "control" } else { "challenger" };
        if ids.iter().filter(|(_, v)| *v == variant).count() < 2 {
            ids.push((key, variant));
        }
        if ids.len() == 4 {
            break;
        }
    }
    let mut jobs = Vec::new();
    for (key, variant) in &ids {
        let mut body = small_job();
        body["graph"] = json!("scorer-experiment");
        body["analysisId"] = json!(key);
        let (code, sub) = api.post("/api/agent/map-to-code", &body).await;
        assert_eq!(code, 202, "{sub}");
        jobs.push((sub["jobId"].as_str().unwrap().to_string(), *variant));
    }
    let mut by_variant: Vec<(Value, &str)> = Vec::new();
    for (job, variant) in &jobs {
        assert_eq!(api.wait(job, Duration::from_secs(120)).await["status"], "completed");
        for m in owned(&api, job).await {
            let uses = m["metadata"]["plugins"].as_array().unwrap();
            let score = uses.iter().find(|u| u["graphNode"] == "score" && u.get("shadow").is_none()).expect("the live scorer is recorded");
            assert_eq!((score["experiment"].as_str(), score["variant"].as_str()), (Some("scorer-calibration"), Some(*variant)), "sticky by analysis id");
            assert!(uses.iter().any(|u| u["variant"] == "steep" && u["shadow"] == true), "the shadow ran: {uses:?}");
            assert!(m["metadata"].get("shadow").is_none() && m.get("shadows").is_none(), "shadow answers are never returned: {m}");
            by_variant.push((m, *variant));
        }
    }
    // ... but they are stored.
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT metadata FROM code_mappings").fetch_all(&pool).await.unwrap();
    assert!(stored.iter().any(|m| m.contains("\"shadow\"") && m.contains("\"steep\"")));
    pool.close().await;

    // Feedback: control's answers are right, the challenger's wrong (one corrected).
    let (mut ok, mut bad) = (0, 0);
    for (m, variant) in &by_variant {
        let id = m["mappingId"].as_i64().unwrap();
        let body = match (*variant, bad) {
            ("control", _) => json!({"verdict": "correct"}),
            (_, 0) => json!({"verdict": "corrected", "file": "generate_plans.py", "lines": "1-2", "note": "the right place"}),
            _ => json!({"verdict": "wrong"}),
        };
        let (code, r) = api.post(&format!("/api/agent/mappings/{id}/feedback"), &body).await;
        assert_eq!(code, 201, "{r}");
        if *variant == "control" { ok += 1 } else { bad += 1 }
    }
    let any = by_variant[0].0["mappingId"].as_i64().unwrap();
    let (code, r) = api.post(&format!("/api/agent/mappings/{any}/feedback"), &json!({"verdict": "maybe"})).await;
    assert_eq!((code, r["error"]["fields"][0]["path"].as_str()), (422, Some("verdict")));
    let (code, _) = api.post(&format!("/api/agent/mappings/{any}/feedback"), &json!({"verdict": "corrected"})).await;
    assert_eq!(code, 422, "corrected needs the right file");
    assert_eq!(Api::new(&server, Some(GLOBEX_KEY)).post(&format!("/api/agent/mappings/{any}/feedback"), &json!({"verdict": "wrong"})).await.0, 404);

    let (code, report) = api.get("/api/agent/experiments").await;
    assert_eq!(code, 200, "{report}");
    let exp = report["experiments"].as_array().unwrap().iter().find(|e| e["experiment"] == "scorer-calibration").expect("the experiment is reported").clone();
    let variant = |name: &str, shadow: bool| exp["variants"].as_array().unwrap().iter().find(|v| v["variant"] == name && v["shadow"] == shadow).unwrap_or_else(|| panic!("{name}: {exp}")).clone();
    let control = variant("control", false);
    assert_eq!((control["exposures"].as_i64(), control["feedbackCorrect"].as_i64(), control["feedbackWrong"].as_i64()), (Some(ok), Some(ok), Some(0)), "{control}");
    assert_eq!(control["accuracy"]["value"], 1.0);
    assert!(control["accuracy"]["low"].as_f64().unwrap() < 1.0, "an interval, not a point: {control}");
    assert!(control["latencyMsMean"].as_f64().unwrap() > 0.0 && control["statuses"].as_object().unwrap().values().map(|n| n.as_i64().unwrap()).sum::<i64>() == ok);
    let challenger = variant("challenger", false);
    assert_eq!((challenger["feedbackCorrect"].as_i64(), challenger["feedbackWrong"].as_i64()), (Some(0), Some(bad)), "{challenger}");
    let steep = variant("steep", true);
    assert_eq!(steep["exposures"].as_i64(), Some(ok + bad));
    assert!(steep["agreement"].as_f64().is_some());
    // Another tenant sees none of it.
    let (_, other) = Api::new(&server, Some(GLOBEX_KEY)).get("/api/agent/experiments").await;
    assert!(other["experiments"].as_array().unwrap().is_empty());

    // The command line reads the same store.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planmap")).args(["experiments", "--format", "json", "--database-url", &db]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(cli["experiments"].as_array().unwrap().iter().any(|e| e["experiment"] == "scorer-calibration"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planmap")).args(["feedback", "--mapping", &any.to_string(), "--verdict", "correct", "--database-url", &db]).output().unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("recorded"), "{}", String::from_utf8_lossy(&out.stderr));
}

fn swap_graph(plugin: &str) -> String {
    format!(
        "name = \"swap\"\nentry = \"retrieve\"\n[nodes.retrieve]\nkind = \"retriever\"\nplugin = \"lexical-retriever\"\ncapabilities = [\"code-search\"]\n\
         [nodes.score]\nkind = \"scorer\"\nplugin = \"{plugin}\"\ntimeout_ms = 60000\n[nodes.score.config]\nmode = \"busy\"\nms = 4\nconfidence = 0.9\n\
         [[edges]]\nfrom = \"retrieve\"\nto = \"score\"\n[[edges]]\nfrom = \"score\"\nto = \"finish\"\n"
    )
}

fn digest_of(m: &Value) -> String {
    m["metadata"]["plugins"].as_array().unwrap().iter().find(|u| u["graphNode"] == "score").unwrap()["digest"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_new_plugin_is_used_by_the_next_job_while_the_running_one_finishes_on_the_old() {
    use crate::support::{new_version, publish, wasm};
    let dir = tempfile::tempdir().unwrap();
    let (plugins, graphs) = (dir.path().join("plugins"), dir.path().join("graphs"));
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&graphs).unwrap();
    let v1 = wasm("chaos_scorer");
    let v2 = new_version(&v1, "v2");
    publish(&plugins, "my-scorer.wasm", &v1);
    std::fs::write(graphs.join("swap.toml"), swap_graph("my-scorer")).unwrap();
    let db = format!("sqlite:{}", dir.path().join("p.db").display());
    let server = Server::start(&[("DATABASE_URL", &db), ("PLANMAP_PLUGIN_DIR", &plugins.display().to_string()), ("PLANMAP_GRAPH_DIR", &graphs.display().to_string()), ("WORKERS", "2")]);
    let api = Api::new(&server, Some(ACME_KEY));
    let mut long = large_job(300);
    long["graph"] = json!("swap");
    let (_, sub) = api.post("/api/agent/map-to-code", &long).await;
    let running = sub["jobId"].as_str().unwrap().to_string();
    loop {
        let (_, v) = api.get(&format!("/api/agent/jobs/{running}")).await;
        if v["stage"] == "map" {
            break;
        }
        assert_ne!(v["status"], "completed", "the job ended before the swap");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A team drops a new scorer and routes the graph to it, while the job runs.
    publish(&plugins, "my-scorer-v2.wasm", &v2);
    let tmp = graphs.join(".swap.toml.tmp");
    std::fs::write(&tmp, swap_graph("my-scorer-v2")).unwrap();
    std::fs::rename(&tmp, graphs.join("swap.toml")).unwrap();
    let t = std::time::Instant::now();
    loop {
        let (_, p) = api.get("/api/agent/plugins").await;
        if p["plugins"].as_array().unwrap().iter().any(|x| x["name"] == "my-scorer-v2") && p["reload"]["ok"] == true {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the new plugin was not loaded: {p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, sub) = api.post("/api/agent/map-to-code", &{
        let mut b = small_job();
        b["graph"] = json!("swap");
        b
    }).await;
    let next = sub["jobId"].as_str().unwrap().to_string();
    for job in [&running, &next] {
        assert_eq!(api.wait(job, Duration::from_secs(300)).await["status"], "completed");
    }
    let d1 = planmap::runtime::plugin::digest(&v1);
    let d2 = planmap::runtime::plugin::digest(&v2);
    let old: Vec<String> = owned(&api, &running).await.iter().map(digest_of).collect();
    assert!(!old.is_empty() && old.iter().all(|d| *d == d1), "the running job finished on the snapshot it started with");
    let new: Vec<String> = owned(&api, &next).await.iter().map(digest_of).collect();
    assert!(!new.is_empty() && new.iter().all(|d| *d == d2), "the next job used the new plugin");

    // A broken plugin is refused and reported; the service goes on with the last good one.
    // First let the swap's file events settle: a late reload of the same good files
    // would otherwise count as a new generation in between.
    let mut before = api.get("/api/agent/plugins").await.1;
    let settled = std::time::Instant::now();
    loop {
        tokio::time::sleep(planmap::snapshot::DEBOUNCE * 4).await;
        let (_, now) = api.get("/api/agent/plugins").await;
        if now["generation"] == before["generation"] {
            break;
        }
        assert!(settled.elapsed() < Duration::from_secs(30), "reloads never settled: {now}");
        before = now;
    }
    publish(&plugins, "broken.wasm", b"\0asm not really");
    let t = std::time::Instant::now();
    let report = loop {
        let (_, p) = api.get("/api/agent/plugins").await;
        if p["reload"]["ok"] == false {
            break p;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the broken plugin was not noticed: {p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(report["reload"]["errors"].to_string().contains("broken.wasm"), "{report}");
    assert_eq!(report["generation"], before["generation"], "the last good snapshot keeps serving");
    let (_, sub) = api.post("/api/agent/map-to-code", &{
        let mut b = small_job();
        b["graph"] = json!("swap");
        b
    }).await;
    let after = sub["jobId"].as_str().unwrap().to_string();
    assert_eq!(api.wait(&after, Duration::from_secs(120)).await["status"], "completed");
    assert!(owned(&api, &after).await.iter().all(|m| digest_of(m) == d2));
}
