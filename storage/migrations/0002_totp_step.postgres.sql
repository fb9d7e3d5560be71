-- Sallyport schema, version 2, PostgreSQL dialect. Keep in step with
-- 0002_totp_step.sqlite.sql.
--
-- The last TOTP time step a login was accepted with, so a one-time code is
-- accepted once across restarts and CA instances. NULL: none accepted since
-- the secret was set.

ALTER TABLE credentials ADD COLUMN last_totp_step BIGINT
  CHECK (last_totp_step >= 0);
