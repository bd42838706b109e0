//! The job store over sqlx: Postgres when the URL is `postgres://…`, a SQLite file
//! otherwise. Leasing is what lets several `planmap serve` processes share one queue:
//! a job is claimed with a lease (Postgres `FOR UPDATE SKIP LOCKED`; SQLite serialises
//! writers), kept by heartbeats, and claimable again once the lease runs out, so a
//! crashed worker's job resumes elsewhere from its checkpoints. Times are Unix ms.

use serde_json::{json, Value};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::str::FromStr;
use std::time::Duration;

/// Connections per process: workers and API handlers share them; Postgres servers
/// are commonly capped at 100 connections across all replicas.
const MAX_CONNECTIONS: u32 = 10;
/// How long a statement may wait for a free connection before the call fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a queued job submitted with a repository token waits for the process that
/// holds the token before any worker may take it.
pub const TOKEN_HOLD: Duration = Duration::from_secs(300);

static PG_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// A store failure, naming the operation and the job.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("job store: cannot open {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error("job store: {op} failed{}: {cause}", job.as_deref().map(|j| format!(" for job {j}")).unwrap_or_default())]
    Query { op: &'static str, job: Option<String>, cause: String },
    #[error("idempotency key '{0}' was already used for a different request")]
    IdempotencyConflict(String),
    /// A worker's write was refused: its lease on the job ended (ran out, was taken
    /// over, or the job was cancelled). The worker must stop working on the job.
    #[error("job store: the lease on job {job} is no longer held by this worker; the write was refused")]
    LeaseLost { job: String },
}

impl StoreError {
    /// What failed, as a class for messages to callers (no database text).
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Connect { .. } => "the database is unreachable",
            StoreError::Query { op, .. } => op,
            StoreError::IdempotencyConflict(_) => "idempotency conflict",
            StoreError::LeaseLost { .. } => "lease lost",
        }
    }
}

fn query_error<'a>(op: &'static str, job: Option<&'a str>) -> impl Fn(sqlx::Error) -> StoreError + 'a {
    move |e| StoreError::Query { op, job: job.map(str::to_string), cause: e.to_string() }
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// One job as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobRow {
    pub id: String,
    pub idempotency_key: Option<String>,
    /// Hash of the submitted request, to tell a retry from a different request.
    #[serde(skip)]
    pub request_hash: String,
    pub status: String,
    pub stage: String,
    pub spec: Value,
    pub nodes_total: i64,
    pub nodes_done: i64,
    pub cost_usd: f64,
    /// The job's LLM budget (`MAX_JOB_COST_USD` when it was submitted).
    pub budget_usd: Option<f64>,
    pub summary: Option<Value>,
    pub graph_name: Option<String>,
    pub graph_version: Option<String>,
    pub repo_commit: Option<String>,
    pub error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    /// How many leases the job has had: the current lease's fencing epoch.
    pub lease_epoch: i64,
    pub attempts: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The tenant the job belongs to (from the caller's credentials; empty on the CLI).
    pub tenant: String,
    /// The process that holds the job's repository token in memory, if it was given one.
    pub token_holder: Option<String>,
    /// True when the current lease took the job over from a worker whose lease ran out.
    pub lease_takeover: bool,
}

impl JobRow {
    /// The fence of the lease this row was read under, when it is leased.
    pub fn fence(&self) -> Option<Fence> {
        Some(Fence { job: self.id.clone(), owner: self.lease_owner.clone()?, epoch: self.lease_epoch })
    }
}

/// A worker's hold on a job. Every write the worker makes names it, and the store
/// refuses the write ([`StoreError::LeaseLost`]) unless, in the same transaction, this
/// is still the job's current lease (same owner, same epoch) and has not run out by the
/// database's clock. A later lease increments the epoch, so a worker that lost its lease
/// during an outage cannot write a checkpoint, an event, a mapping or an ending when the
/// database comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub job: String,
    pub owner: String,
    pub epoch: i64,
}

/// A job to create.
#[derive(Debug, Clone, Default)]
pub struct NewJob<'a> {
    /// The request without secrets.
    pub spec: Value,
    /// Hash of the request (without secrets), to tell a retry from another request.
    pub request_hash: &'a str,
    /// Already scoped to the tenant by the caller.
    pub idempotency_key: Option<&'a str>,
    pub tenant: &'a str,
    pub budget_usd: Option<f64>,
    /// Set when the submission carried a repository token that only this process holds.
    pub token_holder: Option<&'a str>,
}

/// What `submit` did.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub job: JobRow,
    /// False when an earlier submission with the same idempotency key is returned.
    pub created: bool,
}

/// A progress event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub data: Value,
    pub created_at: i64,
}

/// A node's saved state after a pass.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub node_id: String,
    pub pass: i64,
    pub state: Value,
}

/// Checkpoint passes from this number up hold a node's walk between graph steps
/// (pass p's walk is saved as p + this); the pass's own checkpoint replaces them.
pub const STEP_PASS_OFFSET: i64 = 10;

/// One checkpoint to save, with the event that announces it, if any (kind, data).
#[derive(Debug, Clone)]
pub struct CheckpointWrite {
    pub node: String,
    pub pass: i64,
    pub state: Value,
    pub event: Option<(String, Value)>,
}

/// Which mappings of a job to read.
#[derive(Debug, Clone)]
pub struct MappingFilter {
    /// Any of these statuses; all when empty.
    pub statuses: Vec<String>,
    pub min_confidence: f64,
    pub offset: i64,
    pub limit: i64,
}

impl Default for MappingFilter {
    fn default() -> Self {
        MappingFilter { statuses: vec![], min_confidence: 0.0, offset: 0, limit: i64::MAX }
    }
}

/// How a job ended.
#[derive(Debug, Clone)]
pub enum Finish {
    Completed { summary: Value },
    Failed { error: String },
}

/// The job store.
#[derive(Clone)]
pub enum Store {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

const JOB_COLUMNS: &str = "id, idempotency_key, request_hash, status, stage, CAST(spec AS TEXT) AS spec, CAST(nodes_total AS BIGINT) AS nodes_total, CAST(nodes_done AS BIGINT) AS nodes_done, cost_usd, budget_usd, CAST(summary AS TEXT) AS summary, graph_name, graph_version, repo_commit, error, lease_owner, lease_expires_at, CAST(lease_epoch AS BIGINT) AS lease_epoch, CAST(attempts AS BIGINT) AS attempts, created_at, updated_at, tenant, token_holder, CAST(lease_takeover AS BIGINT) AS lease_takeover";

fn json_text(v: Option<String>) -> Option<Value> {
    v.and_then(|t| serde_json::from_str(&t).ok())
}

macro_rules! job_from_row {
    ($r:expr) => {{
        let r = $r;
        JobRow {
            id: r.try_get("id")?,
            idempotency_key: r.try_get("idempotency_key")?,
            request_hash: r.try_get("request_hash")?,
            status: r.try_get("status")?,
            stage: r.try_get("stage")?,
            spec: json_text(r.try_get("spec")?).unwrap_or(Value::Null),
            nodes_total: r.try_get("nodes_total")?,
            nodes_done: r.try_get("nodes_done")?,
            cost_usd: r.try_get("cost_usd")?,
            budget_usd: r.try_get("budget_usd")?,
            summary: json_text(r.try_get("summary")?),
            graph_name: r.try_get("graph_name")?,
            graph_version: r.try_get("graph_version")?,
            repo_commit: r.try_get("repo_commit")?,
            error: r.try_get("error")?,
            lease_owner: r.try_get("lease_owner")?,
            lease_expires_at: r.try_get("lease_expires_at")?,
            lease_epoch: r.try_get("lease_epoch")?,
            attempts: r.try_get("attempts")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            tenant: r.try_get("tenant")?,
            token_holder: r.try_get("token_holder")?,
            lease_takeover: r.try_get::<i64, _>("lease_takeover")? != 0,
        }
    }};
}

/// Run `$body` with `$q` bound to the right pool, mapping rows with `job_from_row!`.
macro_rules! on_pool {
    ($self:expr, |$pool:ident| $body:expr) => {
        match $self {
            Store::Postgres($pool) => $body,
            Store::Sqlite($pool) => $body,
        }
    };
}

/// Run a query that returns at most one job row.
macro_rules! optional_job {
    ($self:expr, $sql:expr $(, $b:expr)*) => {
        on_pool!($self, |p| {
            match sqlx::query(sqlx::AssertSqlSafe($sql))$(.bind($b))*.fetch_optional(p).await {
                Ok(Some(r)) => (|| -> Result<_, sqlx::Error> { Ok(Some(job_from_row!(&r))) })(),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            }
        })
    };
}

/// Run a query and map every row with `$map` (a `|r| -> Result<T, sqlx::Error>`).
macro_rules! all_rows {
    ($self:expr, $sql:expr, $map:expr $(, $b:expr)*) => {
        on_pool!($self, |p| match sqlx::query(sqlx::AssertSqlSafe($sql))$(.bind($b))*.fetch_all(p).await {
            Ok(rows) => rows.iter().map($map).collect::<Result<Vec<_>, sqlx::Error>>(),
            Err(e) => Err(e),
        })
    };
}

/// Run a statement; the number of rows it changed.
macro_rules! execute {
    ($self:expr, $sql:expr $(, $b:expr)*) => {
        on_pool!($self, |p| sqlx::query(sqlx::AssertSqlSafe($sql))$(.bind($b))*.execute(p).await.map(|r| r.rows_affected()))
    };
}

/// Run `$body` in a transaction that first proves `$fence` still holds the job: the
/// statement `$guard` (binding $1 job, $2 owner, $3 epoch, then `$extra`) must return a
/// row, and it locks the job's row until commit, so no new lease can slip in between
/// the check and the writes. Without the hold nothing is written and the result is
/// `StoreError::LeaseLost`.
macro_rules! fenced {
    ($self:expr, $fence:expr, $op:expr, $guard:expr, [$($extra:expr),*], |$tx:ident| $body:block) => {{
        let fence: &Fence = $fence;
        let guard: String = $guard;
        let r: Result<bool, sqlx::Error> = on_pool!($self, |p| async {
            let mut $tx = p.begin().await?;
            let held = sqlx::query(sqlx::AssertSqlSafe(guard.as_str())).bind(fence.job.as_str()).bind(fence.owner.as_str()).bind(fence.epoch)$(.bind($extra))*.fetch_optional(&mut *$tx).await?.is_some();
            if !held {
                return Ok(false);
            }
            $body
            $tx.commit().await?;
            Ok(true)
        }
        .await);
        match r {
            Ok(true) => Ok(()),
            Ok(false) => Err(StoreError::LeaseLost { job: fence.job.clone() }),
            Err(e) => Err(query_error($op, Some(&fence.job))(e)),
        }
    }};
}

impl Store {
    /// Open the store at `url`: `postgres://…` or `postgresql://…` for Postgres,
    /// `sqlite:PATH`, `sqlite::memory:` or a plain file path for SQLite (created if
    /// missing). The URL's password never appears in errors.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let shown = redact(url);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // One direct connection first: a pool only reports "timed out" after its
            // acquire timeout, while this says what is wrong (refused, auth, no database).
            use sqlx::Connection;
            let probe = sqlx::postgres::PgConnection::connect(url).await.map_err(|e| StoreError::Connect { target: shown.clone(), cause: redact(&e.to_string()) })?;
            let _ = probe.close().await;
            let pool = PgPoolOptions::new().max_connections(MAX_CONNECTIONS).acquire_timeout(ACQUIRE_TIMEOUT).connect(url).await.map_err(|e| StoreError::Connect { target: shown.clone(), cause: redact(&e.to_string()) })?;
            return Ok(Store::Postgres(pool));
        }
        let spec = if url.starts_with("sqlite:") { url.to_string() } else { format!("sqlite://{url}") };
        let opts = SqliteConnectOptions::from_str(&spec)
            .map_err(|e| StoreError::Connect { target: shown.clone(), cause: e.to_string() })?
            .create_if_missing(true)
            // Writers queue instead of failing while another holds the lock.
            .busy_timeout(ACQUIRE_TIMEOUT)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(MAX_CONNECTIONS).acquire_timeout(ACQUIRE_TIMEOUT).connect_with(opts).await.map_err(|e| StoreError::Connect { target: shown, cause: e.to_string() })?;
        Ok(Store::Sqlite(pool))
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Sqlite(_) => "sqlite",
        }
    }

    /// Apply pending migrations; returns the versions now applied, in order.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let err = |e: sqlx::migrate::MigrateError| StoreError::Query { op: "migrate", job: None, cause: e.to_string() };
        match self {
            Store::Postgres(p) => PG_MIGRATIONS.run(p).await.map_err(err)?,
            Store::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await.map_err(err)?,
        }
        let versions: Vec<i64> = on_pool!(self, |p| sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version").fetch_all(p).await)
            .map_err(query_error("migrate", None))?;
        Ok(versions)
    }

    /// The database's clock in Unix ms, as an SQL expression: lease times come from it,
    /// so replicas with skewed clocks agree on when a lease runs out.
    fn db_now(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Store::Sqlite(_) => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        }
    }

    /// The condition that the lease ($1 job, $2 owner, $3 epoch) is the job's current
    /// one and has not run out.
    fn held(&self) -> String {
        format!("id = $1 AND lease_owner = $2 AND lease_epoch = $3 AND status = 'running' AND lease_expires_at > {}", self.db_now())
    }

    /// The guard of a fenced write that changes nothing itself: it locks the job's row
    /// (Postgres `FOR UPDATE`; in SQLite a no-op update takes the write lock at once).
    fn hold(&self) -> String {
        match self {
            Store::Postgres(_) => format!("SELECT id FROM jobs WHERE {} FOR UPDATE", self.held()),
            Store::Sqlite(_) => format!("UPDATE jobs SET lease_epoch = lease_epoch WHERE {} RETURNING id", self.held()),
        }
    }

    /// JSON parameter `$n`: JSONB in Postgres, text in SQLite.
    fn json(&self, n: usize) -> String {
        match self {
            Store::Postgres(_) => format!("CAST(${n} AS JSONB)"),
            Store::Sqlite(_) => format!("${n}"),
        }
    }

    /// Upsert of one node's checkpoint ($1 job, $2 node, $3 pass, $4 state, $5 time).
    fn checkpoint_sql(&self) -> String {
        format!(
            "INSERT INTO node_checkpoints (job_id, node_id, pass, state, updated_at) VALUES ($1, $2, $3, {}, $5) \
             ON CONFLICT (job_id, node_id, pass) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            self.json(4)
        )
    }

    /// Insert of one event ($1 job, $2 kind, $3 data, $4 time).
    fn event_sql(&self) -> String {
        format!("INSERT INTO job_events (job_id, kind, data, created_at) VALUES ($1, $2, {}, $4)", self.json(3))
    }

    /// Persist a new job (status `queued`). With an idempotency key already used for
    /// the same request (same `request_hash`), the earlier job is returned instead.
    pub async fn submit(&self, new: &NewJob<'_>) -> Result<Submitted, StoreError> {
        let (request_hash, idempotency_key) = (new.request_hash, new.idempotency_key);
        if let Some(key) = idempotency_key
            && let Some(job) = self.by_idempotency_key(key).await? {
                if job.request_hash != request_hash {
                    return Err(StoreError::IdempotencyConflict(key.to_string()));
                }
                return Ok(Submitted { job, created: false });
            }
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let sql = format!(
            "INSERT INTO jobs (id, idempotency_key, request_hash, status, stage, spec, created_at, updated_at, tenant, budget_usd, token_holder) VALUES ($1, $2, $3, 'queued', 'queued', {}, $5, $5, $6, $7, $8)",
            self.json(4)
        );
        let res = execute!(self, sql.as_str(), &id, idempotency_key, request_hash, new.spec.to_string(), now, new.tenant, new.budget_usd, new.token_holder);
        if let Err(e) = res {
            // Two submissions with one key raced: the other insert won.
            if let (Some(key), true) = (idempotency_key, e.as_database_error().is_some_and(|d| d.is_unique_violation())) {
                return match self.by_idempotency_key(key).await? {
                    Some(job) if job.request_hash == request_hash => Ok(Submitted { job, created: false }),
                    _ => Err(StoreError::IdempotencyConflict(key.to_string())),
                };
            }
            return Err(query_error("submit", Some(&id))(e));
        }
        let job = self.job(&id).await?.ok_or_else(|| StoreError::Query { op: "submit", job: Some(id.clone()), cause: "the new row is not readable".into() })?;
        Ok(Submitted { job, created: true })
    }

    /// Keep a submitted plan file; its id is a digest of the tenant and the content,
    /// so the same file sent again by the same tenant is one row.
    pub async fn save_upload(&self, tenant: &str, content: &[u8], bytes: u64) -> Result<String, StoreError> {
        let mut h = Sha256::new();
        h.update(tenant.len().to_le_bytes());
        h.update(tenant.as_bytes());
        h.update(content);
        let id = format!("up-{}", hex::encode(&h.finalize()[..16]));
        let sql = "INSERT INTO plan_uploads (id, tenant, content, bytes, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING";
        execute!(self, sql, &id, tenant, content, bytes as i64, now_ms()).map_err(query_error("save plan upload", None))?;
        Ok(id)
    }

    /// A submitted plan file's stored content.
    pub async fn upload(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        on_pool!(self, |p| sqlx::query_scalar::<_, Vec<u8>>("SELECT content FROM plan_uploads WHERE id = $1").bind(id).fetch_optional(p).await).map_err(query_error("read plan upload", None))
    }

    async fn by_idempotency_key(&self, key: &str) -> Result<Option<JobRow>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE idempotency_key = $1");
        let row: Result<Option<JobRow>, sqlx::Error> = optional_job!(self, sql.as_str(), key);
        row.map_err(query_error("look up idempotency key", None))
    }

    /// A job by id.
    pub async fn job(&self, id: &str) -> Result<Option<JobRow>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row: Result<Option<JobRow>, sqlx::Error> = optional_job!(self, sql.as_str(), id);
        row.map_err(query_error("read job", Some(id)))
    }

    /// A job by id if it belongs to `tenant` (another tenant's job reads as missing).
    pub async fn job_of(&self, id: &str, tenant: &str) -> Result<Option<JobRow>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant = $2");
        let row: Result<Option<JobRow>, sqlx::Error> = optional_job!(self, sql.as_str(), id, tenant);
        row.map_err(query_error("read job", Some(id)))
    }

    /// A tenant's most recent jobs, newest first.
    pub async fn jobs_of(&self, tenant: &str, limit: i64) -> Result<Vec<JobRow>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant = $1 ORDER BY created_at DESC, id LIMIT $2");
        let rows = all_rows!(self, sql.as_str(), |r| -> Result<JobRow, sqlx::Error> { Ok(job_from_row!(r)) }, tenant, limit);
        rows.map_err(query_error("list jobs", None))
    }

    /// Jobs waiting to be leased.
    pub async fn queued(&self) -> Result<i64, StoreError> {
        on_pool!(self, |p| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs WHERE status = 'queued'").fetch_one(p).await).map_err(query_error("count queued jobs", None))
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |p| sqlx::query_scalar::<_, i64>("SELECT CAST(1 AS BIGINT)").fetch_one(p).await).map(|_| ()).map_err(query_error("ping", None))
    }

    /// Claim the oldest claimable job for `owner` for `ttl`: a queued job, or a running
    /// one whose lease ran out (its worker died). No two callers get the same job. The
    /// lease's end is computed by the database when the row is claimed (never before a
    /// wait for a connection, so a lease is never granted already over) and the epoch
    /// goes up by one: the returned row's [`JobRow::fence`] is the only key to the job.
    pub async fn lease(&self, owner: &str, ttl: Duration) -> Result<Option<JobRow>, StoreError> {
        let now = now_ms();
        let db_now = self.db_now();
        // A queued job whose token another process holds waits for that process, for
        // TOKEN_HOLD at most (then the holder is presumed gone and anyone may try; a
        // private repository then fails with a message asking for the token again).
        let cond = format!("status = 'queued' AND (token_holder IS NULL OR token_holder = $1 OR updated_at < $4) OR (status = 'running' AND lease_expires_at < {db_now})");
        let pick = match self {
            // Oldest first; submissions within one millisecond in the order they arrived.
            Store::Postgres(_) => format!("SELECT id FROM jobs WHERE {cond} ORDER BY created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED"),
            Store::Sqlite(_) => format!("SELECT id FROM jobs WHERE {cond} ORDER BY created_at, rowid LIMIT 1"),
        };
        // SET expressions read the row as it was: `status = 'running'` here means the
        // previous holder's lease ran out.
        let sql = format!(
            "UPDATE jobs SET lease_takeover = CASE WHEN status = 'running' THEN 1 ELSE 0 END, status = 'running', lease_owner = $1, lease_expires_at = {db_now} + $2, \
             lease_epoch = lease_epoch + 1, attempts = attempts + 1, updated_at = $3, started_at = COALESCE(started_at, $3) WHERE id = ({pick}) RETURNING {JOB_COLUMNS}"
        );
        let row: Result<Option<JobRow>, sqlx::Error> = optional_job!(self, sql.as_str(), owner, ttl.as_millis() as i64, now, now - TOKEN_HOLD.as_millis() as i64);
        row.map_err(query_error("lease a job", None))
    }

    /// Extend a lease by `ttl` from now (database clock); false when it was lost
    /// (taken over, cancelled, or already run out: an ended lease is never revived), in
    /// which case the worker must stop working on the job.
    pub async fn heartbeat(&self, fence: &Fence, ttl: Duration) -> Result<bool, StoreError> {
        let sql = format!("UPDATE jobs SET lease_expires_at = {} + $4, updated_at = $5 WHERE {}", self.db_now(), self.held());
        let n = execute!(self, sql.as_str(), fence.job.as_str(), fence.owner.as_str(), fence.epoch, ttl.as_millis() as i64, now_ms())
            .map_err(query_error("heartbeat", Some(&fence.job)))?;
        Ok(n == 1)
    }

    /// Give a job back (graceful shutdown, or a store failure mid-run): queued again,
    /// kept checkpoints, with the event saying why, in one transaction. The token leaves
    /// with the process, so any worker may take the job at once.
    pub async fn release(&self, fence: &Fence, reason: &str) -> Result<(), StoreError> {
        let now = now_ms();
        let guard = format!("UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, token_holder = NULL, updated_at = $4 WHERE {} RETURNING id", self.held());
        let (ev, data) = (self.event_sql(), json!({"reason": reason}).to_string());
        fenced!(self, fence, "release", guard, [now], |tx| {
            sqlx::query(sqlx::AssertSqlSafe(ev.as_str())).bind(fence.job.as_str()).bind("released").bind(data.as_str()).bind(now).execute(&mut *tx).await?;
        })
    }

    /// Record the stage and node counts of a running job, with the event announcing it
    /// if any (kind, data), in one fenced transaction.
    pub async fn progress(&self, fence: &Fence, stage: &str, done: i64, total: i64, event: Option<(&str, &Value)>) -> Result<(), StoreError> {
        let now = now_ms();
        let sql = "UPDATE jobs SET stage = $2, nodes_done = $3, nodes_total = $4, updated_at = $5 WHERE id = $1";
        let ev = self.event_sql();
        let event = event.map(|(k, d)| (k, d.to_string()));
        fenced!(self, fence, "record progress", self.hold(), [], |tx| {
            sqlx::query(sql).bind(fence.job.as_str()).bind(stage).bind(done as i32).bind(total as i32).bind(now).execute(&mut *tx).await?;
            if let Some((kind, data)) = &event {
                sqlx::query(sqlx::AssertSqlSafe(ev.as_str())).bind(fence.job.as_str()).bind(*kind).bind(data.as_str()).bind(now).execute(&mut *tx).await?;
            }
        })
    }

    /// Save a node's state after a pass outside any lease (tools and tests that prepare
    /// a job's checkpoints before a worker resumes it). Workers use `save_checkpoints`.
    pub async fn checkpoint(&self, id: &str, node_id: &str, pass: i64, state: &Value) -> Result<(), StoreError> {
        let sql = self.checkpoint_sql();
        execute!(self, sql.as_str(), id, node_id, pass as i32, state.to_string(), now_ms()).map_err(query_error("checkpoint", Some(id)))?;
        Ok(())
    }

    /// Every checkpoint of a job, by node and pass.
    pub async fn checkpoints(&self, id: &str) -> Result<Vec<Checkpoint>, StoreError> {
        let sql = "SELECT node_id, CAST(pass AS BIGINT) AS pass, CAST(state AS TEXT) AS state FROM node_checkpoints WHERE job_id = $1 ORDER BY node_id, pass";
        let rows = all_rows!(self, sql, |r| -> Result<Checkpoint, sqlx::Error> { Ok(Checkpoint { node_id: r.try_get("node_id")?, pass: r.try_get("pass")?, state: json_text(r.try_get("state")?).unwrap_or(Value::Null) }) }, id);
        rows.map_err(query_error("read checkpoints", Some(id)))
    }

    /// Append an event written by the API (submission, cancellation, resume): outside
    /// any lease. Returns its id (increasing per store, so clients resume a stream from
    /// the last id they saw).
    pub async fn event(&self, id: &str, kind: &str, data: &Value) -> Result<i64, StoreError> {
        let sql = format!("{} RETURNING id", self.event_sql());
        on_pool!(self, |p| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str())).bind(id).bind(kind).bind(data.to_string()).bind(now_ms()).fetch_one(p).await)
            .map_err(query_error("append event", Some(id)))
    }

    /// Append an event a worker writes for the job it holds: refused once the lease is lost.
    pub async fn record(&self, fence: &Fence, kind: &str, data: &Value) -> Result<(), StoreError> {
        let (ev, data, now) = (self.event_sql(), data.to_string(), now_ms());
        fenced!(self, fence, "append event", self.hold(), [], |tx| {
            sqlx::query(sqlx::AssertSqlSafe(ev.as_str())).bind(fence.job.as_str()).bind(kind).bind(data.as_str()).bind(now).execute(&mut *tx).await?;
        })
    }

    /// The id of a job's newest event (0 when it has none).
    pub async fn last_event_id(&self, id: &str) -> Result<i64, StoreError> {
        let sql = "SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM job_events WHERE job_id = $1";
        on_pool!(self, |p| sqlx::query_scalar::<_, i64>(sql).bind(id).fetch_one(p).await).map_err(query_error("read events", Some(id)))
    }

    /// Events of a job after `after` (0 for all), oldest first, at most `limit`.
    pub async fn events_after(&self, id: &str, after: i64, limit: i64) -> Result<Vec<Event>, StoreError> {
        let sql = "SELECT id, kind, CAST(data AS TEXT) AS data, created_at FROM job_events WHERE job_id = $1 AND id > $2 ORDER BY id LIMIT $3";
        let rows = all_rows!(self, sql, |r| -> Result<Event, sqlx::Error> { Ok(Event { id: r.try_get("id")?, kind: r.try_get("kind")?, data: json_text(r.try_get("data")?).unwrap_or(Value::Null), created_at: r.try_get("created_at")? }) }, id, after, limit);
        rows.map_err(query_error("read events", Some(id)))
    }

    /// End a job: its status and the `job-finished` event in one transaction, only
    /// while `fence` holds it (a worker whose lease ended cannot end the job, and no
    /// write of that worker follows the ending: the ending clears the lease).
    pub async fn finish(&self, fence: &Fence, how: Finish) -> Result<(), StoreError> {
        let now = now_ms();
        let (status, summary, error, data) = match how {
            Finish::Completed { summary } => ("completed", Some(summary.to_string()), None, json!({"status": "completed", "summary": summary})),
            Finish::Failed { error } => ("failed", None, Some(error.clone()), json!({"status": "failed", "error": error})),
        };
        let guard = format!(
            "UPDATE jobs SET status = $4, stage = 'finished', summary = {}, error = $6, lease_owner = NULL, lease_expires_at = NULL, updated_at = $7, finished_at = $7 WHERE {} RETURNING id",
            self.json(5),
            self.held()
        );
        let (ev, data) = (self.event_sql(), data.to_string());
        fenced!(self, fence, "finish", guard, [status, summary.as_deref(), error.as_deref(), now], |tx| {
            sqlx::query(sqlx::AssertSqlSafe(ev.as_str())).bind(fence.job.as_str()).bind("job-finished").bind(data.as_str()).bind(now).execute(&mut *tx).await?;
        })
    }

    /// Delete the checkpoints of jobs that completed before `before` (Unix ms): their
    /// mappings are saved and nothing resumes them. Failed and cancelled jobs keep theirs
    /// for a resume. Returns how many rows went.
    pub async fn prune_checkpoints(&self, before: i64) -> Result<u64, StoreError> {
        let sql = "DELETE FROM node_checkpoints WHERE job_id IN (SELECT id FROM jobs WHERE status = 'completed' AND finished_at < $1)";
        execute!(self, sql, before).map_err(query_error("prune checkpoints", None))
    }

    /// Record what the job has spent on the model so far (US dollars).
    pub async fn set_cost(&self, fence: &Fence, usd: f64) -> Result<(), StoreError> {
        let now = now_ms();
        fenced!(self, fence, "record cost", self.hold(), [], |tx| {
            sqlx::query("UPDATE jobs SET cost_usd = $2, updated_at = $3 WHERE id = $1").bind(fence.job.as_str()).bind(usd).bind(now).execute(&mut *tx).await?;
        })
    }

    /// Record the outcome of the job's graph and repository (shown with its status).
    pub async fn describe(&self, fence: &Fence, graph_name: &str, graph_version: &str, repo_commit: &str) -> Result<(), StoreError> {
        let sql = "UPDATE jobs SET graph_name = $2, graph_version = $3, repo_commit = $4, updated_at = $5 WHERE id = $1";
        let now = now_ms();
        fenced!(self, fence, "describe", self.hold(), [], |tx| {
            sqlx::query(sql).bind(fence.job.as_str()).bind(graph_name).bind(graph_version).bind(repo_commit).bind(now).execute(&mut *tx).await?;
        })
    }

    /// Save a job's mappings in one transaction (a re-run replaces them). Each is a
    /// `planmap map --format json` element; `metadata` holds graph version, plugin
    /// digests and variant.
    pub async fn save_mappings(&self, fence: &Fence, mappings: &[Value], metadata: &Value) -> Result<(), StoreError> {
        let id = fence.job.as_str();
        let sql = format!(
            "INSERT INTO code_mappings (job_id, node_id, operator, status, file, symbol, line_start, line_end, confidence, explanation, evidence, alternatives, metadata, created_at, family, ownership, induced_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {}, {}, {}, $14, $15, $16, $17) \
             ON CONFLICT (job_id, node_id) DO UPDATE SET operator = excluded.operator, status = excluded.status, file = excluded.file, symbol = excluded.symbol, \
             line_start = excluded.line_start, line_end = excluded.line_end, confidence = excluded.confidence, explanation = excluded.explanation, \
             evidence = excluded.evidence, alternatives = excluded.alternatives, metadata = excluded.metadata, created_at = excluded.created_at, \
             family = excluded.family, ownership = excluded.ownership, induced_by = excluded.induced_by",
            self.json(11), self.json(12), self.json(13)
        );
        let text = |v: &Value| v.as_str().map(str::to_string);
        let int = |v: &Value| v.as_i64().map(|n| n as i32);
        let now = now_ms();
        // The job's metadata plus each node's own exposure record (plugins, variants),
        // its cost (metrics and estimated time, where the plan had them) and shadow
        // answers (kept for experiment reports, never returned as results).
        let meta = |m: &Value| {
            let mut md = metadata.clone();
            for (from, to) in [("plugins", "plugins"), ("cost", "cost"), ("shadows", "shadow")] {
                if let Some(v) = m.get(from) {
                    md[to] = v.clone();
                }
            }
            md.to_string()
        };
        fenced!(self, fence, "save mappings", self.hold(), [], |tx| {
            for m in mappings {
                let code = &m["mappedCode"];
                sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(id)
                    .bind(text(&m["dagNodeId"]).unwrap_or_default())
                    .bind(text(&m["operator"]).unwrap_or_default())
                    .bind(text(&m["status"]).unwrap_or_default())
                    .bind(text(&code["file"]))
                    .bind(text(&code["symbol"]))
                    .bind(int(&code["lineStart"]))
                    .bind(int(&code["lineEnd"]))
                    .bind(m["confidence"].as_f64().unwrap_or(0.0))
                    .bind(text(&m["explanation"]).unwrap_or_default())
                    .bind(m["evidence"].to_string())
                    .bind(m["alternatives"].to_string())
                    .bind(meta(m))
                    .bind(now)
                    .bind(text(&m["family"]).unwrap_or_default())
                    .bind(text(&m["ownership"]).unwrap_or_default())
                    .bind(text(&m["inducedBy"]))
                    .execute(&mut *tx)
                    .await?;
            }
        })
    }

    /// A page of a job's mappings in the `planmap map --format json` shape (plus
    /// `mappingId` and `metadata`), in plan order, filtered by status (any of
    /// `statuses`; all when empty) and minimum confidence; with the filtered total.
    pub async fn mappings(&self, id: &str, filter: &MappingFilter) -> Result<(Vec<Value>, i64), StoreError> {
        let statuses = filter.statuses.join(",");
        let cond = "job_id = $1 AND ($2 = '' OR (',' || $2 || ',') LIKE ('%,' || status || ',%')) AND confidence >= $3";
        let total = on_pool!(self, |p| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM code_mappings WHERE {cond}"))).bind(id).bind(&statuses).bind(filter.min_confidence).fetch_one(p).await)
            .map_err(query_error("count mappings", Some(id)))?;
        let sql = format!(
            "SELECT id, node_id, operator, family, ownership, induced_by, status, file, symbol, CAST(line_start AS BIGINT) AS line_start, CAST(line_end AS BIGINT) AS line_end, confidence, explanation, \
             CAST(evidence AS TEXT) AS evidence, CAST(alternatives AS TEXT) AS alternatives, CAST(metadata AS TEXT) AS metadata FROM code_mappings WHERE {cond} ORDER BY id LIMIT $4 OFFSET $5"
        );
        let rows = all_rows!(
            self,
            sql.as_str(),
            |r| -> Result<Value, sqlx::Error> {
                let file: Option<String> = r.try_get("file")?;
                let (start, end): (Option<i64>, Option<i64>) = (r.try_get("line_start")?, r.try_get("line_end")?);
                let code = match (file, start, end) {
                    (Some(file), Some(s), Some(e)) => serde_json::json!({
                        "file": file, "symbol": r.try_get::<Option<String>, _>("symbol")?.unwrap_or_default(),
                        "lines": if s == e { s.to_string() } else { format!("{s}-{e}") }, "lineStart": s, "lineEnd": e,
                    }),
                    _ => Value::Null,
                };
                let induced: Option<String> = r.try_get("induced_by")?;
                let mut m = serde_json::json!({
                    "mappingId": r.try_get::<i64, _>("id")?,
                    "dagNodeId": r.try_get::<String, _>("node_id")?,
                    "operator": r.try_get::<String, _>("operator")?,
                    "family": r.try_get::<String, _>("family")?,
                    "status": r.try_get::<String, _>("status")?,
                    "ownership": r.try_get::<String, _>("ownership")?,
                    "mappedCode": code,
                    "confidence": r.try_get::<f64, _>("confidence")?,
                    "explanation": r.try_get::<String, _>("explanation")?,
                    "evidence": json_text(r.try_get("evidence")?).unwrap_or(Value::Array(vec![])),
                    "alternatives": json_text(r.try_get("alternatives")?).unwrap_or(Value::Array(vec![])),
                    "metadata": json_text(r.try_get("metadata")?).map(|mut md| {
                        // Shadow answers are for experiment reports, not results.
                        if let Some(o) = md.as_object_mut() {
                            o.remove("shadow");
                        }
                        md
                    }),
                });
                if let Some(by) = induced {
                    m["inducedBy"] = Value::String(by);
                }
                Ok(m)
            },
            id,
            &statuses,
            filter.min_confidence,
            filter.limit,
            filter.offset
        );
        Ok((rows.map_err(query_error("read mappings", Some(id)))?, total))
    }

    /// The job id and tenant a mapping belongs to.
    pub async fn mapping_owner(&self, mapping_id: i64) -> Result<Option<(String, String)>, StoreError> {
        let sql = "SELECT m.job_id AS job_id, j.tenant AS tenant FROM code_mappings m JOIN jobs j ON j.id = m.job_id WHERE m.id = $1";
        let rows = all_rows!(self, sql, |r| -> Result<(String, String), sqlx::Error> { Ok((r.try_get("job_id")?, r.try_get("tenant")?)) }, mapping_id);
        Ok(rows.map_err(query_error("find mapping", None))?.into_iter().next())
    }

    /// Record feedback on a mapping; returns its id.
    pub async fn add_feedback(&self, mapping_id: i64, verdict: &str, file: Option<&str>, lines: Option<&str>, note: Option<&str>) -> Result<i64, StoreError> {
        let sql = "INSERT INTO feedback (mapping_id, verdict, corrected_file, corrected_lines, note, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        on_pool!(self, |p| sqlx::query_scalar::<_, i64>(sql).bind(mapping_id).bind(verdict).bind(file).bind(lines).bind(note).bind(now_ms()).fetch_one(p).await)
            .map_err(query_error("record feedback", None))
    }

    /// Mappings that took part in experiments (their metadata names a variant), newest
    /// first, with their latest feedback, for `tenant` (all tenants when `None`), made
    /// after `since` (Unix ms), at most `limit`.
    pub async fn experiment_rows(&self, tenant: Option<&str>, since: i64, limit: i64) -> Result<Vec<super::experiments::Row>, StoreError> {
        use super::experiments::{Feedback, Row};
        let sql = "SELECT m.status AS status, m.confidence AS confidence, CAST(m.metadata AS TEXT) AS metadata, m.file AS file, CAST(m.line_start AS BIGINT) AS line_start, CAST(m.line_end AS BIGINT) AS line_end, \
                   f.verdict AS verdict, f.corrected_file AS corrected_file, f.corrected_lines AS corrected_lines \
                   FROM code_mappings m JOIN jobs j ON j.id = m.job_id \
                   LEFT JOIN feedback f ON f.id = (SELECT MAX(f2.id) FROM feedback f2 WHERE f2.mapping_id = m.id) \
                   WHERE ($1 = '' OR j.tenant = $1) AND m.created_at >= $2 AND CAST(m.metadata AS TEXT) LIKE '%\"variant\"%' ORDER BY m.id DESC LIMIT $3";
        let rows = all_rows!(
            self,
            sql,
            |r| -> Result<Row, sqlx::Error> {
                let file: Option<String> = r.try_get("file")?;
                let (a, b): (Option<i64>, Option<i64>) = (r.try_get("line_start")?, r.try_get("line_end")?);
                let verdict: Option<String> = r.try_get("verdict")?;
                let lines: Option<String> = r.try_get("corrected_lines")?;
                Ok(Row {
                    status: r.try_get("status")?,
                    confidence: r.try_get("confidence")?,
                    metadata: json_text(r.try_get("metadata")?).unwrap_or(Value::Null),
                    at: match (file, a, b) {
                        (Some(f), Some(a), Some(b)) => Some((f, a, b)),
                        _ => None,
                    },
                    feedback: verdict.map(|verdict| Feedback { verdict, file: r.try_get("corrected_file").ok().flatten(), lines: lines.as_deref().and_then(parse_lines) }),
                })
            },
            tenant.unwrap_or(""),
            since,
            limit
        );
        rows.map_err(query_error("read experiment exposures", None))
    }

    /// Save checkpoints, each with the event announcing it if any, in one transaction
    /// (so a crash never leaves a checkpoint without its event, or the reverse). A
    /// pass's own checkpoint removes the node's step states (`STEP_PASS_OFFSET`).
    pub async fn save_checkpoints(&self, fence: &Fence, writes: &[CheckpointWrite]) -> Result<(), StoreError> {
        let id = fence.job.as_str();
        if writes.is_empty() {
            return Ok(());
        }
        let (cp, ev) = (self.checkpoint_sql(), self.event_sql());
        let clear = "DELETE FROM node_checkpoints WHERE job_id = $1 AND node_id = $2 AND pass >= $3";
        let now = now_ms();
        let texts: Vec<(String, Option<String>)> = writes.iter().map(|w| (w.state.to_string(), w.event.as_ref().map(|(_, d)| d.to_string()))).collect();
        // Step states only: committed without waiting for the disk. Losing the last of
        // them in a crash costs a step or two of work again; a pass's checkpoint and its
        // event stay durable.
        let relaxed = matches!(self, Store::Postgres(_)) && writes.iter().all(|w| w.pass >= STEP_PASS_OFFSET);
        fenced!(self, fence, "checkpoint", self.hold(), [], |tx| {
            if relaxed {
                sqlx::query("SET LOCAL synchronous_commit TO OFF").execute(&mut *tx).await?;
            }
            for (w, (state, data)) in writes.iter().zip(&texts) {
                if w.pass < STEP_PASS_OFFSET {
                    sqlx::query(clear).bind(id).bind(w.node.as_str()).bind(STEP_PASS_OFFSET as i32).execute(&mut *tx).await?;
                }
                sqlx::query(sqlx::AssertSqlSafe(cp.as_str())).bind(id).bind(w.node.as_str()).bind(w.pass as i32).bind(state.as_str()).bind(now).execute(&mut *tx).await?;
                if let (Some((kind, _)), Some(data)) = (&w.event, data) {
                    sqlx::query(sqlx::AssertSqlSafe(ev.as_str())).bind(id).bind(kind.as_str()).bind(data.as_str()).bind(now).execute(&mut *tx).await?;
                }
            }
        })
    }

    /// Queue a failed or cancelled job again; it resumes from its checkpoints. False
    /// when the job is not in one of those states. `token_holder` is this process when
    /// the resume request carried a repository token.
    pub async fn resume(&self, id: &str, token_holder: Option<&str>) -> Result<bool, StoreError> {
        let sql = "UPDATE jobs SET status = 'queued', stage = 'queued', error = NULL, finished_at = NULL, lease_owner = NULL, lease_expires_at = NULL, token_holder = $2, updated_at = $3 WHERE id = $1 AND status IN ('failed', 'cancelled')";
        let n = execute!(self, sql, id, token_holder, now_ms()).map_err(query_error("resume", Some(id)))?;
        Ok(n == 1)
    }

    /// Cancel a queued or running job; false when it had already ended.
    pub async fn cancel(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let sql = "UPDATE jobs SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, updated_at = $2, finished_at = $2 WHERE id = $1 AND status IN ('queued', 'running')";
        let n = execute!(self, sql, id, now)
            .map_err(query_error("cancel", Some(id)))?;
        Ok(n == 1)
    }
}

/// `"40-44"` or `"40"` as a line range.
pub fn parse_lines(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b) = (a.trim().parse::<i64>().ok()?, b.trim().parse::<i64>().ok()?);
    (a >= 1 && a <= b).then_some((a, b))
}

/// A database URL with its password replaced, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("postgres://planmap:s3cret@db:5432/planmap"), "postgres://planmap:***@db:5432/planmap");
        assert_eq!(redact("postgres://planmap@db/planmap"), "postgres://planmap@db/planmap");
        assert_eq!(redact("planmap.db"), "planmap.db");
    }
}

