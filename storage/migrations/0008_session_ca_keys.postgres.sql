-- Sallyport schema, version 8, PostgreSQL dialect. Keep in step with
-- 0008_session_ca_keys.sqlite.sql.
--
-- A CA key may also have the purpose 'session': the optional key that
-- signs only the gateway's per-session certificates, so that hosts can
-- trust it instead of the user CA (which also signs users' own 8-hour
-- certificates).

ALTER TABLE ca_keys DROP CONSTRAINT ca_keys_purpose_check;
ALTER TABLE ca_keys ADD CONSTRAINT ca_keys_purpose_check
  CHECK (purpose IN ('user', 'host', 'session'));
