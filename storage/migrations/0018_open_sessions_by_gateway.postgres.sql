-- Sallyport schema, version 18, PostgreSQL dialect. Keep in step with
-- 0018_open_sessions_by_gateway.sqlite.sql.
--
-- A gateway may have at most so many sessions open at the CA (CA config
-- gateway.max_open_sessions): before a gateway's upload opens a new
-- session the CA counts the gateway's open ones (Store::CountOpenSessions).
-- This partial index holds only the open (active) sessions, by gateway, so
-- the count reads the gateway's open sessions and none of the ended ones,
-- which grow for as long as the gateway records.

CREATE INDEX sessions_open_by_gateway ON sessions (gateway_id)
  WHERE status = 'active';
