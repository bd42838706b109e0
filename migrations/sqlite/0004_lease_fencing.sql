-- Fencing: each lease of a job increments its epoch, and every write a worker makes
-- names the owner and epoch it holds, so a worker whose lease ran out can write
-- nothing more for the job. Lease times are taken from the database clock from now on.
-- (SQLite has no notifications: its event streams poll, one process owns the file.)

ALTER TABLE jobs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
