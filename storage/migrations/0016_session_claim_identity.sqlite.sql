-- Sallyport schema, version 16, SQLite dialect. Keep in step with
-- 0016_session_claim_identity.postgres.sql.
--
-- Finding F: a session certificate binds its session to the user and login
-- it was issued for (and the host's inventory name), recorded with the
-- claim (RecordSessionCertificate), so the session's recording cannot name
-- another user or login (CreateSession refuses it). NULL: a claim made
-- without a certificate (an event, a recording) or before this version,
-- which binds nothing until a certificate of the session is recorded.

ALTER TABLE session_owners ADD COLUMN user_name TEXT;
ALTER TABLE session_owners ADD COLUMN login TEXT;
ALTER TABLE session_owners ADD COLUMN host TEXT;
