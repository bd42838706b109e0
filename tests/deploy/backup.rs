//! The backup scripts for real: a Postgres store with a job, its events, checkpoints and
//! mappings is dumped with `pg-backup.sh`, wiped, restored with `pg-restore.sh`, and
//! everything is back; Chroma's data folder round-trips through its scripts.

use super::*;
use crate::support::postgres::PgDb;
use planmap::jobs::store::NewJob;
use planmap::jobs::{Finish, Store};
use serde_json::json;

#[tokio::test]
async fn a_postgres_backup_restores_every_job_and_mapping() {
    let db = PgDb::new().await;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let spec = json!({"repoUrl": "https://github.com/acme/etl", "plan": "== Physical Plan =="});
    let job = store.submit(&NewJob { spec, request_hash: "h", tenant: "acme", ..Default::default() }).await.unwrap().job.id;
    let fence = store.lease("w", std::time::Duration::from_secs(60)).await.unwrap().unwrap().fence().unwrap();
    store.event(&job, "stage-started", &json!({"stage": "map"})).await.unwrap();
    store.checkpoint(&job, "3", 2, &json!({"mapping": {"status": "confirmed"}})).await.unwrap();
    let mapping = json!({"dagNodeId": "3", "operator": "SortMergeJoin", "family": "join", "ownership": "owned", "status": "confirmed", "confidence": 0.93,
        "mappedCode": {"file": "etl/orders.py", "symbol": "build", "lines": "40-44", "lineStart": 40, "lineEnd": 44}, "explanation": "join keys match", "evidence": [], "alternatives": []});
    store.save_mappings(&fence, &[mapping], &json!({"graph": {"name": "default", "version": "2"}})).await.unwrap();
    store.finish(&fence, Finish::Completed { summary: json!({"nodes": 1}) }).await.unwrap();
    drop(store);

    let dir = tempfile::tempdir().unwrap();
    let dump = run_ok(Command::new("bash").arg(root().join("deploy/backup/pg-backup.sh")).env("DATABASE_URL", &db.url).env("BACKUP_DIR", dir.path()));
    let dump = dump.lines().last().unwrap().trim().to_string();
    assert!(dump.ends_with(".dump") && std::path::Path::new(&dump).is_file(), "{dump}");

    // Disaster: every table gone.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("DROP SCHEMA public CASCADE").execute(&pool).await.unwrap();
    sqlx::query("CREATE SCHEMA public").execute(&pool).await.unwrap();
    pool.close().await;
    let refused = Command::new("bash").arg(root().join("deploy/backup/pg-restore.sh")).arg(&dump).env("DATABASE_URL", &db.url).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "the restore asks for --yes");
    run_ok(Command::new("bash").arg(root().join("deploy/backup/pg-restore.sh")).arg(&dump).arg("--yes").env("DATABASE_URL", &db.url));

    let store = Store::connect(&db.url).await.unwrap();
    assert_eq!(store.migrate().await.unwrap(), vec![1, 2, 3, 4], "the migration history came back too: nothing re-applied");
    let restored = store.job_of(&job, "acme").await.unwrap().expect("the job is back");
    assert_eq!((restored.status.as_str(), restored.summary), ("completed", Some(json!({"nodes": 1}))));
    let (maps, total) = store.mappings(&job, &Default::default()).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(maps[0]["mappedCode"]["lines"], "40-44");
    assert_eq!(store.events_after(&job, 0, 100).await.unwrap()[0].kind, "stage-started");
    assert_eq!(store.checkpoints(&job).await.unwrap().len(), 1);
    // New work goes on after a restore (sequences restored past the old ids).
    store.event(&job, "after-restore", &json!({})).await.unwrap();
}

#[test]
fn chroma_data_round_trips_through_its_backup_scripts() {
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("collections/abc")).unwrap();
    std::fs::write(data.path().join("chroma.sqlite3"), b"vectors").unwrap();
    std::fs::write(data.path().join("collections/abc/index.bin"), b"hnsw").unwrap();
    let backups = tempfile::tempdir().unwrap();
    let out = run_ok(Command::new("bash").arg(root().join("deploy/backup/chroma-backup.sh")).env("CHROMA_DATA_DIR", data.path()).env("BACKUP_DIR", backups.path()));
    let archive = out.lines().last().unwrap().trim().to_string();
    std::fs::remove_file(data.path().join("chroma.sqlite3")).unwrap();
    std::fs::write(data.path().join("stray"), b"x").unwrap();
    run_ok(Command::new("bash").arg(root().join("deploy/backup/chroma-restore.sh")).arg(&archive).arg("--yes").env("CHROMA_DATA_DIR", data.path()));
    assert_eq!(std::fs::read(data.path().join("chroma.sqlite3")).unwrap(), b"vectors");
    assert_eq!(std::fs::read(data.path().join("collections/abc/index.bin")).unwrap(), b"hnsw");
    assert!(!data.path().join("stray").exists(), "the restore replaces the folder");
}
