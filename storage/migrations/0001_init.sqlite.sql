-- Sallyport schema, version 1, SQLite dialect. Keep in step with
-- 0001_init.postgres.sql: same tables, columns, constraints and indexes.
-- Differences, all deliberate: STRICT tables with INTEGER/BLOB (PostgreSQL:
-- BIGINT/BOOLEAN/BYTEA), AUTOINCREMENT (PostgreSQL: identity), a one-row
-- counter table for certificate serials (PostgreSQL: a sequence), and
-- RAISE(ABORT) triggers (PostgreSQL: a plpgsql trigger function).
--
-- Conventions: times are microseconds since the Unix epoch (*_us); flags are
-- 0/1; lists and RBAC selectors are JSON text; secrets are BLOBs.

CREATE TABLE users (
  name TEXT NOT NULL PRIMARY KEY,
  display_name TEXT NOT NULL,
  disabled INTEGER NOT NULL CHECK (disabled IN (0, 1)),
  created_at_us INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
) STRICT;

CREATE TABLE credentials (
  user_name TEXT NOT NULL PRIMARY KEY
    REFERENCES users (name) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  totp_secret BLOB NOT NULL,
  failed_attempts INTEGER NOT NULL CHECK (failed_attempts >= 0),
  last_failure_at_us INTEGER,
  locked_until_us INTEGER,
  updated_at_us INTEGER NOT NULL
) STRICT;

CREATE TABLE roles (
  name TEXT NOT NULL PRIMARY KEY,
  description TEXT NOT NULL,
  spec TEXT NOT NULL,
  max_ttl_us INTEGER NOT NULL CHECK (max_ttl_us > 0),
  record TEXT NOT NULL CHECK (record IN ('always', 'never')),
  created_at_us INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
) STRICT;

CREATE TABLE role_bindings (
  user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  created_at_us INTEGER NOT NULL,
  PRIMARY KEY (user_name, role_name)
) STRICT;
CREATE INDEX role_bindings_by_role ON role_bindings (role_name);

CREATE TABLE hosts (
  name TEXT NOT NULL PRIMARY KEY,
  address TEXT NOT NULL,
  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  trust TEXT NOT NULL CHECK (trust IN ('pinned-key', 'host-ca')),
  host_key TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  updated_at_us INTEGER NOT NULL
) STRICT;

CREATE TABLE host_labels (
  host_name TEXT NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (host_name, key)
) STRICT;
CREATE INDEX host_labels_by_label ON host_labels (key, value);

CREATE TABLE serial_counter (
  id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
  next INTEGER NOT NULL CHECK (next > 0)
) STRICT;
INSERT INTO serial_counter (id, next) VALUES (1, 1);

CREATE TABLE certificates (
  serial INTEGER NOT NULL PRIMARY KEY CHECK (serial > 0),
  key_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  principals TEXT NOT NULL,
  valid_after_us INTEGER NOT NULL,
  valid_before_us INTEGER NOT NULL,
  public_key_fingerprint TEXT NOT NULL,
  ca_key_fingerprint TEXT NOT NULL,
  purpose TEXT NOT NULL CHECK (purpose IN ('login', 'session', 'host')),
  issued_at_us INTEGER NOT NULL
) STRICT;
CREATE INDEX certificates_by_user ON certificates (user_name, serial);
CREATE INDEX certificates_by_key ON certificates (public_key_fingerprint);

CREATE TABLE revocations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  serial INTEGER UNIQUE CHECK (serial > 0),
  key_fingerprint TEXT UNIQUE,
  reason TEXT NOT NULL,
  revoked_by TEXT NOT NULL,
  revoked_at_us INTEGER NOT NULL,
  CHECK ((serial IS NULL) <> (key_fingerprint IS NULL))
) STRICT;

CREATE TABLE audit_events (
  seq INTEGER NOT NULL PRIMARY KEY CHECK (seq > 0),
  time_us INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- The chain head: one row, locked by every append.
CREATE TABLE audit_head (
  id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES
  (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE sessions (
  id TEXT NOT NULL PRIMARY KEY,
  user_name TEXT NOT NULL,
  login TEXT NOT NULL,
  host TEXT NOT NULL,
  started_at_us INTEGER NOT NULL,
  ended_at_us INTEGER,
  bytes_in INTEGER NOT NULL CHECK (bytes_in >= 0),
  bytes_out INTEGER NOT NULL CHECK (bytes_out >= 0),
  status TEXT NOT NULL CHECK (status IN ('active', 'ended', 'failed'))
) STRICT;
CREATE INDEX sessions_by_start ON sessions (started_at_us);
CREATE INDEX sessions_by_user ON sessions (user_name, started_at_us);
CREATE INDEX sessions_by_host ON sessions (host, started_at_us);

CREATE TABLE session_chunks (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq > 0),
  channel INTEGER NOT NULL CHECK (channel >= 0),
  offset_us INTEGER NOT NULL CHECK (offset_us >= 0),
  stream TEXT NOT NULL CHECK (stream IN ('output', 'input', 'error')),
  data BLOB NOT NULL,
  PRIMARY KEY (session_id, seq)
) STRICT;

CREATE TABLE join_tokens (
  token_hash TEXT NOT NULL PRIMARY KEY,
  purpose TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  expires_at_us INTEGER NOT NULL,
  used_at_us INTEGER
) STRICT;

CREATE TABLE ca_keys (
  fingerprint TEXT NOT NULL PRIMARY KEY,
  purpose TEXT NOT NULL CHECK (purpose IN ('user', 'host')),
  public_key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
  created_at_us INTEGER NOT NULL,
  retired_at_us INTEGER
) STRICT;
CREATE UNIQUE INDEX ca_keys_one_active ON ca_keys (purpose)
  WHERE state = 'active';
