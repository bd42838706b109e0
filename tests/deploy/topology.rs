//! The docker-compose topology without containers: two `planmap serve` processes with
//! the environment the compose file gives its planmap service (interpolated from
//! `.env.example`), pointed at this machine's Postgres, Redis and a Chroma server, run
//! jobs through both; one is killed mid-job and the other finishes its work.
//!
//! What differs from compose, and why: the service endpoints (compose's host names
//! `postgres`, `redis`, `chroma-auth` → the local servers), `BIND_ADDR` (a free port
//! each instead of one port per container), the plugin and graph folders (the
//! repository's `plugins/` and `graphs/`, which compose mounts at those paths), and
//! `REPO_ALLOW_LOCAL` (the test's repository is a local fixture).

use super::checks::env_file;
use super::*;
use crate::service::server::{large_job, small_job, Api, Server};
use crate::support::postgres::PgDb;
use std::collections::HashMap;
use std::time::Duration;

/// Resolve `${VAR}`, `${VAR:-default}` and `${VAR:?message}` from `vars`.
fn interpolate(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').expect("closed ${");
        let expr = &after[..end];
        let (name, default) = match (expr.find(":-"), expr.find(":?")) {
            (Some(j), _) => (&expr[..j], Some(&expr[j + 2..])),
            (None, Some(j)) => (&expr[..j], None),
            _ => (expr, None),
        };
        let value = vars.get(name).filter(|v| !v.is_empty()).cloned().or(default.map(str::to_string));
        let required = expr.contains(":?");
        assert!(!(required && value.is_none()), "compose requires {name}, which .env.example does not set");
        out.push_str(&value.unwrap_or_default());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn the_compose_topology_shares_work_and_survives_losing_a_replica() {
    let vars: HashMap<String, String> = env_file(&root().join("deploy/.env.example")).into_iter().collect();
    let compose = &yaml_docs(&root().join("deploy/docker-compose.yml"))[0];
    let mut env: Vec<(String, String)> = compose["services"]["planmap"]["environment"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), interpolate(v.as_str().unwrap_or(&v.to_string()), &vars))).collect();
    let replicas = compose["services"]["planmap"]["deploy"]["replicas"].as_u64().unwrap();
    assert!(replicas >= 2, "compose runs at least two replicas");
    let db = PgDb::new().await;
    let redis = crate::support::services::redis();
    let chroma = crate::support::services::chroma();
    let (plugins, graphs) = (root().join("plugins").display().to_string(), root().join("graphs").display().to_string());
    for (k, v) in env.iter_mut() {
        match k.as_str() {
            "DATABASE_URL" => *v = db.url.clone(),
            "REDIS_URL" => *v = redis.url.clone(),
            "CHROMA_URL" => *v = chroma.url.clone(),
            "BIND_ADDR" => *v = "127.0.0.1:0".into(),
            "PLANMAP_PLUGIN_DIR" => *v = plugins.clone(),
            "PLANMAP_GRAPH_DIR" => *v = graphs.clone(),
            _ => {}
        }
    }
    env.push(("REPO_ALLOW_LOCAL".into(), "true".into()));
    let settings: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let key = vars["API_KEYS"].split_once(':').unwrap().1.to_string();
    let mut servers = [Server::start(&settings), Server::start(&settings)];
    let apis: Vec<Api> = servers.iter().map(|s| Api::new(s, Some(&key))).collect();
    for api in &apis {
        let (code, ready) = api.get("/api/agent/ready").await;
        assert_eq!(code, 200, "{ready}");
        assert!(ready["backends"].as_array().unwrap().is_empty(), "Redis and Chroma are used, not degraded: {ready}");
    }
    // A long job and a few small ones, submitted through both replicas.
    let (_, long) = apis[0].post("/api/agent/map-to-code", &large_job(1500)).await;
    let long = long["jobId"].as_str().unwrap().to_string();
    let mut small = Vec::new();
    for i in 0..6 {
        let (code, sub) = apis[i % 2].post("/api/agent/map-to-code", &small_job()).await;
        assert_eq!(code, 202, "{sub}");
        small.push(sub["jobId"].as_str().unwrap().to_string());
    }
    // Kill the replica running the long job once it is mapping.
    loop {
        let (_, v) = apis[1].get(&format!("/api/agent/jobs/{long}")).await;
        if v["stage"] == "map" && v["progress"]["nodesDone"].as_i64().unwrap_or(0) > 0 {
            break;
        }
        assert_ne!(v["status"], "completed", "the long job ended before a replica could be killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Which process holds it: the lease owner is `host-pid`.
    let owner: String = {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query_scalar("SELECT lease_owner FROM jobs WHERE id = $1").bind(&long).fetch_one(&pool).await.unwrap()
    };
    let victim = servers.iter().position(|s| owner.ends_with(&format!("-{}", s.pid()))).expect("one of the replicas holds the job");
    servers[victim].kill9();
    let survivor = &apis[1 - victim];
    for job in small.iter().chain(std::iter::once(&long)) {
        let done = survivor.wait(job, Duration::from_secs(600)).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    let events = survivor.events(&long, None).await;
    let leases: Vec<_> = events.iter().filter(|(_, k, _)| k == "job-leased").collect();
    assert_eq!(leases.len(), 2, "the survivor took the long job over once");
    assert_eq!(leases[1].2["takeover"], true);
}
