-- A statement-level trigger fires also for a statement that inserts no row:
-- every sweep that found nothing (its INSERT INTO events ... SELECT of no
-- rows) notified parkd_events, woke every instance, and so kept the
-- instances that wait for a change (jobs.Quiet) from ever waiting. Notify
-- only when the statement inserted events.
CREATE OR REPLACE FUNCTION parkd_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM inserted_events) THEN
        PERFORM pg_notify('parkd_events', '');
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER events_notify ON events;
CREATE TRIGGER events_notify AFTER INSERT ON events
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION parkd_events_notify();
