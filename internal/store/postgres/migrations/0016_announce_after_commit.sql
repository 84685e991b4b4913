-- The events trigger's NOTIFY ran inside each writing transaction. At commit,
-- NOTIFY takes PostgreSQL's one notify lock and holds it through the commit's
-- WAL flush (and its wait for a synchronous standby), so every commit that
-- wrote events waited in line for the one before it: under 16 drivers holding
-- spots, most backends waited on that lock (wait event Lock:object) and holds/s
-- halved (docs/benchmarks.md). parkd now announces after its commits instead,
-- in a transaction of its own that flushes nothing (postgres.Store.Announce).
DROP TRIGGER events_notify ON events;
DROP FUNCTION parkd_events_notify();
