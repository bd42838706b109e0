-- Fencing: each lease of a job increments its epoch, and every write a worker makes
-- names the owner and epoch it holds, so a worker whose lease ran out (a database
-- outage longer than the lease, a frozen process) can write nothing more for the job.
-- Lease times are taken from the database clock from now on.

ALTER TABLE jobs ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;

-- Event streams are pushed: each committed event notifies the listeners of the
-- process that serves its stream (payload: the job id), instead of every stream
-- polling the table.
CREATE FUNCTION planmap_notify_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('planmap_job_events', NEW.job_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER job_events_notify AFTER INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION planmap_notify_job_event();
