-- Wakes idle workers without polling: every queued run that is inserted is announced on the
-- `verdict_runs` channel with its id as payload, delivered when the inserting transaction
-- commits. Workers still poll slowly for expired leases and for notifications they missed.
CREATE FUNCTION verdict_notify_queued_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('verdict_runs', NEW.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER operation_runs_notify_queued
    AFTER INSERT ON operation_runs
    FOR EACH ROW WHEN (NEW.status = 'queued')
    EXECUTE FUNCTION verdict_notify_queued_run();
