//! The job store on real Postgres (the machine's server, a fresh database per test)
//! and on SQLite files: migrations, idempotent submission, exclusive leasing under
//! concurrency, lease expiry and takeover, checkpoints, events, cancellation.

use planmap::jobs::{Finish, Store, StoreError};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

mod steps;

use crate::support::postgres::PgDb;
use planmap::jobs::store::{CheckpointWrite, Fence, NewJob};

/// A job to submit, with no tenant, budget or token.
fn new_job<'a>(spec: &serde_json::Value, hash: &'a str, key: Option<&'a str>) -> NewJob<'a> {
    NewJob { spec: spec.clone(), request_hash: hash, idempotency_key: key, ..Default::default() }
}

/// Run `check` on a migrated Postgres store and a migrated SQLite store.
async fn on_both<F, Fut>(check: F)
where
    F: Fn(Store, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = PgDb::new().await;
    let pg = Store::connect(&db.url).await.expect("connect to the test database");
    pg.migrate().await.expect("migrate postgres");
    check(pg, "postgres").await;
    let dir = tempfile::tempdir().unwrap();
    let lite = Store::connect(&dir.path().join("jobs.db").display().to_string()).await.expect("open a sqlite file");
    lite.migrate().await.expect("migrate sqlite");
    check(lite, "sqlite").await;
}

#[tokio::test]
async fn migrations_apply_once_and_report_their_versions() {
    on_both(|store, backend| async move {
        assert_eq!(store.backend(), backend);
        assert_eq!(store.migrate().await.unwrap(), vec![1, 2, 3, 4], "re-running applies nothing new");
    })
    .await;
}

#[tokio::test]
async fn the_same_idempotency_key_and_request_return_the_same_job() {
    on_both(|store, backend| async move {
        let spec = json!({"repoUrl": "https://example.com/r.git", "plan": "== Physical Plan =="});
        let a = store.submit(&new_job(&spec, "hash-1", Some("key-1"))).await.unwrap();
        assert!(a.created);
        assert_eq!((a.job.status.as_str(), a.job.spec.clone()), ("queued", spec.clone()));
        let b = store.submit(&new_job(&spec, "hash-1", Some("key-1"))).await.unwrap();
        assert!(!b.created, "{backend}");
        assert_eq!(a.job.id, b.job.id);
        let e = store.submit(&new_job(&json!({"other": true}), "hash-2", Some("key-1"))).await.unwrap_err();
        assert!(matches!(e, StoreError::IdempotencyConflict(_)) && e.to_string().contains("key-1"), "{e}");
        let c = store.submit(&new_job(&spec, "hash-1", None)).await.unwrap();
        assert!(c.created && c.job.id != a.job.id, "without a key every submission is a new job");
    })
    .await;
}

#[tokio::test]
async fn concurrent_workers_never_lease_the_same_job() {
    on_both(|store, backend| async move {
        let mut ids = HashSet::new();
        for i in 0..24 {
            ids.insert(store.submit(&new_job(&json!({"n": i}), &format!("h{i}"), None)).await.unwrap().job.id);
        }
        let mut tasks = Vec::new();
        for w in 0..4 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(job) = s.lease(&format!("worker-{w}"), Duration::from_secs(60)).await.unwrap() {
                    assert_eq!(job.lease_owner.as_deref(), Some(format!("worker-{w}").as_str()));
                    got.push(job.id);
                }
                got
            }));
        }
        let mut leased = Vec::new();
        for t in tasks {
            leased.extend(t.await.unwrap());
        }
        assert_eq!(leased.len(), 24, "{backend}: every job once");
        assert_eq!(leased.iter().cloned().collect::<HashSet<_>>(), ids, "{backend}: no job twice");
    })
    .await;
}

#[tokio::test]
async fn an_expired_lease_moves_the_job_to_another_worker_which_sees_its_checkpoints() {
    on_both(|store, backend| async move {
        let id = store.submit(&new_job(&json!({}), "h", None)).await.unwrap().job.id;
        let first = store.lease("a", Duration::from_millis(1500)).await.unwrap().expect("a job to lease");
        assert_eq!((first.id.as_str(), first.attempts, first.lease_epoch), (id.as_str(), 1, 1));
        let a = first.fence().unwrap();
        let w = |site: i64| CheckpointWrite { node: "7".into(), pass: 1, state: json!({"site": site}), event: Some(("node-mapped".into(), json!({"dagNodeId": "7"}))) };
        store.save_checkpoints(&a, &[w(3)]).await.unwrap();
        store.save_checkpoints(&a, &[w(4)]).await.unwrap();
        assert!(store.lease("b", Duration::from_secs(60)).await.unwrap().is_none(), "{backend}: held while the lease lasts");
        // Long enough that a loaded machine does not expire the lease before the
        // checks above; then wait it out.
        tokio::time::sleep(Duration::from_millis(1700)).await;
        // Run out but not yet taken: still nothing is accepted from the old holder,
        // and its lease cannot be revived.
        let refused = store.save_checkpoints(&a, &[w(5)]).await;
        assert!(matches!(refused, Err(StoreError::LeaseLost { .. })), "{backend}: {refused:?}");
        assert!(!store.heartbeat(&a, Duration::from_secs(60)).await.unwrap(), "{backend}: an ended lease is not renewed");
        let second = store.lease("b", Duration::from_secs(60)).await.unwrap().expect("the expired job is claimable");
        assert_eq!((second.id.as_str(), second.attempts, second.lease_owner.as_deref(), second.lease_epoch), (id.as_str(), 2, Some("b"), 2));
        let b = second.fence().unwrap();
        // Every kind of write of the old holder is refused, and none leaves a trace.
        assert!(!store.heartbeat(&a, Duration::from_secs(60)).await.unwrap(), "{backend}: the old owner learns it lost the job");
        assert!(matches!(store.finish(&a, Finish::Failed { error: "late".into() }).await, Err(StoreError::LeaseLost { .. })));
        assert!(matches!(store.record(&a, "node-mapped", &json!({"dagNodeId": "8"})).await, Err(StoreError::LeaseLost { .. })));
        assert!(matches!(store.progress(&a, "map", 9, 10, None).await, Err(StoreError::LeaseLost { .. })));
        assert!(matches!(store.save_mappings(&a, &[json!({"dagNodeId": "7"})], &json!({})).await, Err(StoreError::LeaseLost { .. })));
        assert!(matches!(store.release(&a, "late").await, Err(StoreError::LeaseLost { .. })));
        // The same owner name with an old epoch is not the current lease either.
        let stale = Fence { owner: "b".into(), ..a.clone() };
        assert!(matches!(store.record(&stale, "x", &json!({})).await, Err(StoreError::LeaseLost { .. })), "{backend}: the epoch is checked");
        let cps = store.checkpoints(&id).await.unwrap();
        assert_eq!(cps.len(), 1, "one checkpoint per node and pass");
        assert_eq!((cps[0].node_id.as_str(), cps[0].pass, cps[0].state.clone()), ("7", 1, json!({"site": 4})));
        let events = store.events_after(&id, 0, 100).await.unwrap();
        assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["node-mapped", "node-mapped"], "{backend}: nothing after the lease ended");
        assert!(store.heartbeat(&b, Duration::from_secs(60)).await.unwrap());
        store.progress(&b, "mapping", 3, 10, None).await.unwrap();
        store.finish(&b, Finish::Completed { summary: json!({"nodes": 10}) }).await.unwrap();
        let done = store.job(&id).await.unwrap().unwrap();
        assert_eq!((done.status.as_str(), done.nodes_done, done.nodes_total, done.summary), ("completed", 3, 10, Some(json!({"nodes": 10}))));
        assert!(done.lease_owner.is_none());
        assert_eq!(store.events_after(&id, 0, 100).await.unwrap().last().map(|e| e.kind.clone()).as_deref(), Some("job-finished"), "{backend}: the ending and its event together");
        // After the ending, the finishing worker itself can write nothing more.
        assert!(matches!(store.record(&b, "late", &json!({})).await, Err(StoreError::LeaseLost { .. })), "{backend}");
    })
    .await;
}

#[tokio::test]
async fn released_jobs_are_leased_again_and_cancelled_ones_never() {
    on_both(|store, backend| async move {
        let a = store.submit(&new_job(&json!({"a": 1}), "a", None)).await.unwrap().job.id;
        let leased = store.lease("w", Duration::from_secs(60)).await.unwrap().unwrap();
        assert_eq!(leased.id, a);
        store.release(&leased.fence().unwrap(), "shutting down").await.expect("graceful shutdown hands the job back");
        assert_eq!(store.lease("v", Duration::from_secs(60)).await.unwrap().map(|j| j.id), Some(a.clone()), "{backend}");
        let b = store.submit(&new_job(&json!({"b": 1}), "b", None)).await.unwrap().job.id;
        assert!(store.cancel(&b).await.unwrap());
        assert!(!store.cancel(&b).await.unwrap(), "an ended job stays ended");
        assert!(store.lease("v", Duration::from_secs(60)).await.unwrap().is_none(), "{backend}: nothing left to lease");
        assert_eq!(store.job(&b).await.unwrap().unwrap().status, "cancelled");
    })
    .await;
}

#[tokio::test]
async fn events_come_back_in_order_from_any_point() {
    on_both(|store, backend| async move {
        let id = store.submit(&new_job(&json!({}), "h", None)).await.unwrap().job.id;
        let mut seen = Vec::new();
        for i in 0..5 {
            seen.push(store.event(&id, "node-mapped", &json!({"node": i})).await.unwrap());
        }
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{backend}: ids increase");
        let all = store.events_after(&id, 0, 100).await.unwrap();
        assert_eq!(all.iter().map(|e| e.data["node"].as_i64().unwrap()).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        let rest = store.events_after(&id, seen[2], 100).await.unwrap();
        assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), seen[3..].to_vec(), "resume after the last id seen");
        assert_eq!(store.events_after(&id, 0, 2).await.unwrap().len(), 2, "bounded");
    })
    .await;
}

#[tokio::test]
async fn a_database_password_never_appears_in_errors() {
    let e = Store::connect("postgres://planmap:hunter2@127.0.0.1:1/planmap").await.err().expect("nothing listens on port 1");
    let text = e.to_string();
    assert!(!text.contains("hunter2") && text.contains("planmap:***@127.0.0.1:1"), "{text}");
}

/// A runner over `store` with the built-in plugins and graphs and embedded backends.
async fn runner(store: Store, clones: &std::path::Path) -> planmap::jobs::Runner {
    use planmap::capabilities::{BackendConfig, Backends};
    let registry = planmap::snapshot::Registry::open(crate::support::runtime(), planmap::snapshot::Sources::default()).expect("built-in plugins and graphs");
    planmap::jobs::Runner {
        store,
        registry: std::sync::Arc::new(registry),
        backends: std::sync::Arc::new(Backends::connect(&BackendConfig::default()).await),
        policy: planmap::repo::RepoPolicy::cli(),
        clone_dir: clones.to_path_buf(),
        owner: "test-worker".into(),
        lease: Duration::from_secs(30),
        parallel: 2,
        thresholds: Default::default(),
        retrieval_top_k: None,
        tokens: Default::default(),
    }
}

fn fixture(rel: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(rel).display().to_string()
}

#[tokio::test]
async fn a_leased_job_runs_to_completion_with_its_mappings_and_events_stored() {
    on_both(|store, backend| async move {
        let clones = tempfile::tempdir().unwrap();
        let plan = std::fs::read_to_string(fixture("plans/generated/explain/sort_merge_join/formatted.txt")).unwrap();
        let spec = json!({"repoUrl": fixture("spark"), "plan": plan, "analysisId": "a-1"});
        let id = store.submit(&new_job(&spec, "h", None)).await.unwrap().job.id;
        let r = runner(store.clone(), clones.path()).await;
        let done = r.run_once().await.unwrap().expect("the job was leased");
        assert_eq!((done.id.as_str(), done.status.as_str(), done.stage.as_str()), (id.as_str(), "completed", "finished"), "{backend}: {:?}", done.error);
        assert_eq!(done.graph_name.as_deref(), Some("default"));
        assert!(done.repo_commit.as_deref().is_some_and(|c| c.len() >= 7));
        assert_eq!(done.nodes_done, done.nodes_total);
        assert!(done.summary.as_ref().is_some_and(|s| s["nodes"].as_u64().unwrap() > 0));
        let mappings = store.mappings(&id, &Default::default()).await.unwrap().0;
        assert_eq!(mappings.len() as i64, done.nodes_total, "{backend}: one row per plan node");
        let smj = mappings.iter().find(|m| m["operator"] == "SortMergeJoin").expect("the join");
        assert_eq!((smj["mappedCode"]["file"].as_str(), smj["mappedCode"]["lineStart"].as_i64()), (Some("generate_plans.py"), Some(100)), "{backend}: {smj}");
        assert_eq!(smj["metadata"]["graph"]["name"], "default");
        let kinds: Vec<String> = store.events_after(&id, 0, 1000).await.unwrap().into_iter().map(|e| format!("{}:{}", e.kind, e.data["stage"].as_str().unwrap_or(""))).collect();
        for want in ["stage-started:plan", "stage-started:repo", "stage-started:map", "stage-started:save", "node-mapped:", "job-finished:"] {
            assert!(kinds.iter().any(|k| k == want), "{backend}: no {want} in {kinds:?}");
        }
        assert!(r.run_once().await.unwrap().is_none(), "nothing left");
    })
    .await;
}

#[tokio::test]
async fn a_job_that_cannot_run_fails_with_a_reason_and_the_worker_goes_on() {
    on_both(|store, backend| async move {
        let clones = tempfile::tempdir().unwrap();
        let bad = store.submit(&new_job(&json!({"repoUrl": fixture("spark"), "plan": "this is not a plan"}), "b", None)).await.unwrap().job.id;
        let good = store.submit(&new_job(&json!({"repoUrl": fixture("spark"), "plan": std::fs::read_to_string(fixture("plans/generated/explain/union_distinct/formatted.txt")).unwrap()}), "g", None)).await.unwrap().job.id;
        let r = runner(store.clone(), clones.path()).await;
        let first = r.run_once().await.unwrap().unwrap();
        assert_eq!((first.id.as_str(), first.status.as_str()), (bad.as_str(), "failed"), "{backend}");
        assert!(first.error.as_deref().is_some_and(|e| e.starts_with("plan:")), "{backend}: {:?}", first.error);
        let second = r.run_once().await.unwrap().unwrap();
        assert_eq!((second.id.as_str(), second.status.as_str()), (good.as_str(), "completed"), "{backend}: {:?}", second.error);
    })
    .await;
}

#[tokio::test]
async fn an_interrupted_job_resumes_from_its_checkpoints_without_redoing_finished_nodes() {
    on_both(|store, backend| async move {
        let clones = tempfile::tempdir().unwrap();
        let plan = std::fs::read_to_string(fixture("plans/generated/explain/sort_merge_join/formatted.txt")).unwrap();
        let spec = json!({"repoUrl": fixture("spark"), "plan": plan});
        let r = runner(store.clone(), clones.path()).await;
        let a = store.submit(&new_job(&spec, "h", None)).await.unwrap().job.id;
        r.run_once().await.unwrap().unwrap();
        // Every code-owned node left a first-pass and a final checkpoint.
        let cps = store.checkpoints(&a).await.unwrap();
        let finals: Vec<_> = cps.iter().filter(|c| c.pass == 2).collect();
        assert!(!finals.is_empty() && finals.len() * 2 == cps.len(), "{backend}: {} checkpoints", cps.len());

        // A second run of the same job, interrupted after half its nodes were finished:
        // those come back from the checkpoints (marked here so we can tell), the rest are mapped.
        let b = store.submit(&new_job(&spec, "h2", None)).await.unwrap().job.id;
        let kept: Vec<String> = finals.iter().take(finals.len() / 2 + 1).map(|c| c.node_id.clone()).collect();
        for c in &cps {
            if c.pass == 1 || kept.contains(&c.node_id) {
                let mut state = c.state.clone();
                if c.pass == 2 {
                    state["mapping"]["explanation"] = json!("kept from the checkpoint");
                }
                store.checkpoint(&b, &c.node_id, c.pass, &state).await.unwrap();
            }
        }
        let done = r.run_once().await.unwrap().unwrap();
        assert_eq!((done.id.as_str(), done.status.as_str()), (b.as_str(), "completed"), "{backend}: {:?}", done.error);
        for m in store.mappings(&b, &Default::default()).await.unwrap().0 {
            let from_checkpoint = m["explanation"] == "kept from the checkpoint";
            let node = m["dagNodeId"].as_str().unwrap().to_string();
            assert_eq!(from_checkpoint, kept.contains(&node), "{backend}: node {node}: {}", m["explanation"]);
        }
        let resumed = store.events_after(&b, 0, 1000).await.unwrap().into_iter().find(|e| e.kind == "resumed").expect("a resumed event");
        assert_eq!(resumed.data["finished"].as_u64(), Some(kept.len() as u64));
    })
    .await;
}

#[tokio::test]
async fn a_completed_jobs_checkpoints_are_pruned_and_its_mappings_kept() {
    on_both(|store, backend| async move {
        let clones = tempfile::tempdir().unwrap();
        let plan = std::fs::read_to_string(fixture("plans/generated/explain/sort_merge_join/formatted.txt")).unwrap();
        let r = runner(store.clone(), clones.path()).await;
        let done = store.submit(&new_job(&json!({"repoUrl": fixture("spark"), "plan": plan}), "p", None)).await.unwrap().job.id;
        r.run_once().await.unwrap().unwrap();
        // A job that did not complete keeps its checkpoints for a resume.
        let open = store.submit(&new_job(&json!({"repoUrl": fixture("spark"), "plan": "x"}), "q", None)).await.unwrap().job.id;
        store.checkpoint(&open, "1", 1, &json!({"kept": true})).await.unwrap();
        assert!(!store.checkpoints(&done).await.unwrap().is_empty(), "{backend}");
        // Nothing finished before an hour ago: nothing goes.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        assert_eq!(store.prune_checkpoints(now - 3_600_000).await.unwrap(), 0, "{backend}");
        assert!(store.prune_checkpoints(now + 1).await.unwrap() > 0, "{backend}");
        assert!(store.checkpoints(&done).await.unwrap().is_empty(), "{backend}");
        assert_eq!(store.checkpoints(&open).await.unwrap().len(), 1, "{backend}");
        assert!(!store.mappings(&done, &Default::default()).await.unwrap().0.is_empty(), "{backend}: the mappings stay");
    })
    .await;
}
