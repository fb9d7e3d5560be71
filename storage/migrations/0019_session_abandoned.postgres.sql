-- Sallyport schema, version 19, PostgreSQL dialect. Keep in step with
-- 0019_session_abandoned.sqlite.sql.
--
-- A session whose gateway is gone for good (its machine and spool lost)
-- would stay active forever: nothing ships its end. An admin marks it
-- abandoned (`spctl sessions abandon ID --reason TEXT`, Store::
-- AbandonSession): when, by whom and why. The status stays 'active', so
-- a gateway that does come back still ships its records and its real end
-- (which then stands, with the mark kept as history); listings show it as
-- abandoned meanwhile, and it no longer counts against its gateway's
-- gateway.max_open_sessions. The count still reads the index of version
-- 18 (open sessions by gateway) and leaves the marked ones out as it
-- reads them; that index is kept as it is, so a CA still on version 18's
-- binary during a rolling upgrade counts over it as before.

ALTER TABLE sessions ADD COLUMN abandoned_at_us BIGINT;
ALTER TABLE sessions ADD COLUMN abandoned_by TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN abandon_reason TEXT NOT NULL DEFAULT '';
