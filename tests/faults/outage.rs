//! A Postgres outage longer than the lease, with two replicas at work: every node of
//! every job is announced exactly once, every job ends exactly once and nothing of a
//! job is written after its ending. The outage is a cut proxy between the replicas
//! and the database (connections closed, new ones refused), 30 s against a 6 s lease;
//! a third replica that still reaches the database takes the jobs over meanwhile, so
//! the first two come back holding writes for jobs that are no longer theirs.

use crate::service::server::*;
use crate::support::postgres::{admin_url, PgDb};
use crate::support::proxy::Proxy;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Longer than the lease several times over, as in the report this reproduces.
const OUTAGE: Duration = Duration::from_secs(30);
const LEASE_SECONDS: &str = "6";
/// Jobs and their size: fewer jobs than the replicas have workers, so idle workers are
/// there to take over leases that ran out (what made the old code map nodes twice),
/// and long enough to be mid-job when the cut comes.
const JOBS: usize = 3;
const NODES: usize = 900;

/// The database server's address from the admin URL (`…@host:port/…`).
fn database_addr() -> std::net::SocketAddr {
    let url = admin_url();
    let hostport = url.rsplit('@').next().unwrap().split('/').next().unwrap();
    use std::net::ToSocketAddrs;
    hostport.to_socket_addrs().unwrap().next().unwrap()
}

// Several threads: the proxy's tasks run while the test thread waits on the servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_longer_than_the_lease_maps_every_node_exactly_once() {
    let db = PgDb::new().await;
    let proxy = Proxy::start(database_addr());
    let through_proxy = db.url.replace(&format!(":{}/", database_addr().port()), &format!(":{}/", proxy.port));
    assert_ne!(through_proxy, db.url);
    let settings = [("DATABASE_URL", through_proxy.as_str()), ("WORKERS", "2"), ("MAX_PARALLEL_NODES", "1"), ("JOB_LEASE_SECONDS", LEASE_SECONDS), ("RATE_LIMIT_PER_MINUTE", "0")];
    let (a, b) = (Server::start(&settings), Server::start(&settings));
    let apis = [Api::new(&a, Some(ACME_KEY)), Api::new(&b, Some(ACME_KEY))];
    let mut jobs = Vec::new();
    for i in 0..JOBS {
        let (code, sub) = apis[i % 2].post("/api/agent/map-to-code", &large_job(NODES)).await;
        assert_eq!(code, 202, "{sub}");
        jobs.push(sub["jobId"].as_str().unwrap().to_string());
    }
    // Cut once the jobs are mapping.
    let direct = sqlx::PgPool::connect(&db.url).await.unwrap();
    let t = Instant::now();
    loop {
        let mapping: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'running' AND stage = 'map' AND nodes_done > 0").fetch_one(&direct).await.unwrap();
        if mapping >= 2 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(300), "two jobs never mapped at once");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.off();
    // A third replica that still reaches the database (the first two are partitioned
    // from it): once their leases have run out it takes their jobs over, while they,
    // cut off, still hold checkpoints and events to write when the cut heals.
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS.parse::<u64>().unwrap() + 2)).await;
    let url = db.url.clone();
    let cut_at = Instant::now();
    let _c = tokio::task::spawn_blocking(move || Server::start(&[("DATABASE_URL", url.as_str()), ("WORKERS", "2"), ("MAX_PARALLEL_NODES", "1"), ("JOB_LEASE_SECONDS", LEASE_SECONDS), ("RATE_LIMIT_PER_MINUTE", "0")])).await.unwrap();
    tokio::time::sleep(OUTAGE.saturating_sub(Duration::from_secs(LEASE_SECONDS.parse::<u64>().unwrap() + 2)).saturating_sub(cut_at.elapsed())).await;
    proxy.on();

    for (i, job) in jobs.iter().enumerate() {
        let done = apis[i % 2].wait(job, Duration::from_secs(900)).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    let mut took_over = 0;
    for job in &jobs {
        let events: Vec<(i64, String, String)> = sqlx::query_as("SELECT id, kind, CAST(data AS TEXT) FROM job_events WHERE job_id = $1 ORDER BY id").bind(job).fetch_all(&direct).await.unwrap();
        let mut per_node: HashMap<String, usize> = HashMap::new();
        for (_, kind, data) in &events {
            if kind == "node-mapped" {
                let data: Value = serde_json::from_str(data).unwrap();
                *per_node.entry(data["dagNodeId"].as_str().unwrap().to_string()).or_default() += 1;
            }
        }
        let twice: Vec<_> = per_node.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "job {job}: nodes announced twice: {twice:?}");
        let owned: Vec<String> = sqlx::query_scalar("SELECT node_id FROM code_mappings WHERE job_id = $1 AND ownership = 'owned'").bind(job).fetch_all(&direct).await.unwrap();
        let missing: Vec<_> = owned.iter().filter(|n| !per_node.contains_key(*n)).collect();
        assert!(missing.is_empty() && per_node.len() == owned.len(), "job {job}: {} owned nodes, {} announced; never announced: {missing:?}", owned.len(), per_node.len());
        let endings: Vec<usize> = events.iter().enumerate().filter(|(_, (_, k, _))| k == "job-finished").map(|(i, _)| i).collect();
        assert_eq!(endings.len(), 1, "job {job} ended {} times", endings.len());
        assert_eq!(endings[0], events.len() - 1, "job {job}: events after its ending: {:?}", &events[endings[0]..]);
        let leases = events.iter().filter(|(_, k, _)| k == "job-leased").count();
        took_over += usize::from(leases > 1);
    }
    assert!(took_over > 0, "the outage outlasted the leases of the jobs in hand, so some job changed hands");
    eprintln!("outage {OUTAGE:?}, lease {LEASE_SECONDS} s: {JOBS} jobs complete, {took_over} taken over, no node twice, none missing");
}
