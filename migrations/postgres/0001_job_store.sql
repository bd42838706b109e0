-- The job store: jobs and their leases, the progress events a client streams, per-node
-- checkpoints for resuming, the mappings a job produced, repository snapshots, and
-- feedback on mappings. Times are Unix milliseconds (the same in SQLite).

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    -- Same key + same request returns the same job; same key + another request is refused.
    idempotency_key  TEXT UNIQUE,
    request_hash     TEXT NOT NULL,
    -- queued | running | completed | failed | cancelled
    status           TEXT NOT NULL,
    stage            TEXT NOT NULL,
    -- The request as submitted, without secrets (tokens are never stored).
    spec             JSONB NOT NULL,
    nodes_total      INTEGER NOT NULL DEFAULT 0,
    nodes_done       INTEGER NOT NULL DEFAULT 0,
    cost_usd         DOUBLE PRECISION NOT NULL DEFAULT 0,
    budget_usd       DOUBLE PRECISION,
    summary          JSONB,
    graph_name       TEXT,
    graph_version    TEXT,
    repo_commit      TEXT,
    error            TEXT,
    -- The worker holding the job, until when; a lease that runs out makes the job
    -- available to another worker, which resumes from the checkpoints.
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT
);
CREATE INDEX jobs_claimable ON jobs (status, lease_expires_at, created_at);

CREATE TABLE job_events (
    id         BIGSERIAL PRIMARY KEY,
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    data       JSONB NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);

CREATE TABLE node_checkpoints (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    node_id    TEXT NOT NULL,
    pass       INTEGER NOT NULL,
    state      JSONB NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, node_id, pass)
);

CREATE TABLE code_mappings (
    id           BIGSERIAL PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL,
    operator     TEXT NOT NULL,
    status       TEXT NOT NULL,
    file         TEXT,
    symbol       TEXT,
    line_start   INTEGER,
    line_end     INTEGER,
    confidence   DOUBLE PRECISION NOT NULL,
    explanation  TEXT NOT NULL,
    evidence     JSONB NOT NULL,
    alternatives JSONB NOT NULL,
    -- graph name and version, plugin digests, experiment and variant (exposure).
    metadata     JSONB NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (job_id, node_id)
);

CREATE TABLE repo_snapshots (
    repo_url        TEXT NOT NULL,
    repo_commit     TEXT NOT NULL,
    indexer_version TEXT NOT NULL,
    sites           INTEGER NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (repo_url, repo_commit, indexer_version)
);

CREATE TABLE feedback (
    id              BIGSERIAL PRIMARY KEY,
    mapping_id      BIGINT NOT NULL REFERENCES code_mappings (id) ON DELETE CASCADE,
    -- correct | wrong | corrected
    verdict         TEXT NOT NULL,
    corrected_file  TEXT,
    corrected_lines TEXT,
    note            TEXT,
    created_at      BIGINT NOT NULL
);
