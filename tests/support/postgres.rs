//! Throwaway databases on the machine's PostgreSQL server (trust auth on 127.0.0.1:5432,
//! or `PLANMAP_TEST_POSTGRES_URL`), one per test, dropped when the test ends.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The server the Postgres tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("PLANMAP_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database for one test, dropped when the test ends.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub async fn new() -> PgDb {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("planmap_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let admin = sqlx::PgPool::connect(&admin_url()).await.expect("the machine's Postgres answers (see docs/development.md)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create a test database");
        admin.close().await;
        let base = admin_url();
        let url = format!("{}/{name}", &base[..base.rfind('/').expect("a database in the admin URL")]);
        PgDb { name, url }
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside the test's runtime: use a small one of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let admin = sqlx::PgPool::connect(&admin_url()).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await.ok()
            })
        })
        .join();
    }
}

