-- Plans submitted as files (event logs of hundreds of MB): kept apart from the job's
-- spec, which names the upload. The id is a digest of the tenant and the content, so
-- a retried upload is stored once. A plain event log is kept zstd-compressed (planmap
-- reads compressed logs as they are); other plans are kept as sent.

CREATE TABLE plan_uploads (
    id         TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    content    BYTEA NOT NULL,
    -- The size of the file as submitted, after any Content-Encoding was removed.
    bytes      BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
