-- Every transaction that writes events notifies channel parkd_events when it
-- commits, so that instances LISTENing there (the live map, see listen.go)
-- need not poll the outbox. One notification per statement, with an empty
-- payload: PostgreSQL folds the identical notifications of one transaction
-- into one, and a listener only needs to know that it should read the outbox.
CREATE FUNCTION parkd_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('parkd_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION parkd_events_notify();
