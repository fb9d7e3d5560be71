-- Sallyport schema, version 2, SQLite dialect. Keep in step with
-- 0002_totp_step.postgres.sql.
--
-- The last TOTP time step a login was accepted with, so a one-time code is
-- accepted once across restarts and CA instances. NULL: none accepted since
-- the secret was set.

ALTER TABLE credentials ADD COLUMN last_totp_step INTEGER
  CHECK (last_totp_step >= 0);
