-- Sallyport schema, version 8, SQLite dialect. Keep in step with
-- 0008_session_ca_keys.postgres.sql.
--
-- A CA key may also have the purpose 'session': the optional key that
-- signs only the gateway's per-session certificates, so that hosts can
-- trust it instead of the user CA (which also signs users' own 8-hour
-- certificates). SQLite cannot change a CHECK constraint in place: the
-- table is rebuilt with every row (nothing references it).

CREATE TABLE ca_keys_v8 (
  fingerprint TEXT NOT NULL PRIMARY KEY,
  purpose TEXT NOT NULL CHECK (purpose IN ('user', 'host', 'session')),
  public_key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
  created_at_us INTEGER NOT NULL,
  retired_at_us INTEGER
) STRICT;
INSERT INTO ca_keys_v8 (fingerprint, purpose, public_key, state,
                        created_at_us, retired_at_us)
  SELECT fingerprint, purpose, public_key, state, created_at_us,
         retired_at_us FROM ca_keys;
DROP TABLE ca_keys;
ALTER TABLE ca_keys_v8 RENAME TO ca_keys;
CREATE UNIQUE INDEX ca_keys_one_active ON ca_keys (purpose)
  WHERE state = 'active';
