-- Sallyport schema, version 3, SQLite dialect. Keep in step with
-- 0003_unlocked_at.postgres.sql.
--
-- When an admin (or `sallyport-ca unlock` on the CA host) last unlocked the
-- user: the CA's in-memory lockouts of (user, source) pairs that began
-- before it no longer hold. NULL: never unlocked.

ALTER TABLE credentials ADD COLUMN unlocked_at_us INTEGER;
