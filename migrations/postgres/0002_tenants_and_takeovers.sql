-- The service: jobs belong to a tenant (from the caller's token) and are visible only to
-- it; a job submitted with a repository token is held for the process that holds the
-- token (tokens live only in that process's memory); a lease records whether it took
-- the job over from a worker whose lease ran out; mappings keep the node's family,
-- ownership and cause so results read back in the `planmap map --format json` shape.

ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN token_holder TEXT;
ALTER TABLE jobs ADD COLUMN lease_takeover INTEGER NOT NULL DEFAULT 0;
CREATE INDEX jobs_by_tenant ON jobs (tenant, created_at);
-- Submission order within one millisecond (SQLite uses its rowid for the same).
ALTER TABLE jobs ADD COLUMN seq BIGSERIAL;

ALTER TABLE code_mappings ADD COLUMN family TEXT NOT NULL DEFAULT '';
ALTER TABLE code_mappings ADD COLUMN ownership TEXT NOT NULL DEFAULT '';
ALTER TABLE code_mappings ADD COLUMN induced_by TEXT;
