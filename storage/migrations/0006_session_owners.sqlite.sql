-- Sallyport schema, version 6, SQLite dialect. Keep in step with
-- 0006_session_owners.postgres.sql.
--
-- Session owners (issue 14: a gateway writes events and recordings of its
-- own sessions only): the gateway that first wrote anything of a session
-- (an audit event or a recording) owns its id, before the session has a
-- row in `sessions` (events arrive before the recording is shipped, and
-- some sessions are never recorded). A claim is never changed or deleted.
-- Sessions recorded at version 5 are owned by their recording's gateway.

CREATE TABLE session_owners (
  session_id TEXT NOT NULL PRIMARY KEY,
  gateway_id TEXT NOT NULL CHECK (gateway_id <> ''),
  claimed_at_us INTEGER NOT NULL
) STRICT;
INSERT INTO session_owners (session_id, gateway_id, claimed_at_us)
  SELECT id, gateway_id, started_at_us FROM sessions WHERE gateway_id <> '';
