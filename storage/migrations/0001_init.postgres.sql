-- Sallyport schema, version 1, PostgreSQL dialect. Keep in step with
-- 0001_init.sqlite.sql: same tables, columns, constraints and indexes.
-- Differences, all deliberate: BIGINT/BOOLEAN/BYTEA (SQLite: STRICT
-- INTEGER/BLOB), identity columns (SQLite: AUTOINCREMENT), a sequence for
-- certificate serials (SQLite: a one-row counter table), and a plpgsql
-- trigger function (SQLite: RAISE(ABORT) triggers).
--
-- Conventions: times are microseconds since the Unix epoch (*_us); lists and
-- RBAC selectors are JSON text (not jsonb: the store keeps the exact bytes);
-- secrets are BYTEA.

CREATE TABLE users (
  name TEXT NOT NULL PRIMARY KEY,
  display_name TEXT NOT NULL,
  disabled BOOLEAN NOT NULL,
  created_at_us BIGINT NOT NULL,
  updated_at_us BIGINT NOT NULL
);

CREATE TABLE credentials (
  user_name TEXT NOT NULL PRIMARY KEY
    REFERENCES users (name) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  totp_secret BYTEA NOT NULL,
  failed_attempts BIGINT NOT NULL CHECK (failed_attempts >= 0),
  last_failure_at_us BIGINT,
  locked_until_us BIGINT,
  updated_at_us BIGINT NOT NULL
);

CREATE TABLE roles (
  name TEXT NOT NULL PRIMARY KEY,
  description TEXT NOT NULL,
  spec TEXT NOT NULL,
  max_ttl_us BIGINT NOT NULL CHECK (max_ttl_us > 0),
  record TEXT NOT NULL CHECK (record IN ('always', 'never')),
  created_at_us BIGINT NOT NULL,
  updated_at_us BIGINT NOT NULL
);

CREATE TABLE role_bindings (
  user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
  role_name TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  created_at_us BIGINT NOT NULL,
  PRIMARY KEY (user_name, role_name)
);
CREATE INDEX role_bindings_by_role ON role_bindings (role_name);

CREATE TABLE hosts (
  name TEXT NOT NULL PRIMARY KEY,
  address TEXT NOT NULL,
  port BIGINT NOT NULL CHECK (port BETWEEN 1 AND 65535),
  trust TEXT NOT NULL CHECK (trust IN ('pinned-key', 'host-ca')),
  host_key TEXT NOT NULL,
  created_at_us BIGINT NOT NULL,
  updated_at_us BIGINT NOT NULL
);

CREATE TABLE host_labels (
  host_name TEXT NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (host_name, key)
);
CREATE INDEX host_labels_by_label ON host_labels (key, value);

CREATE SEQUENCE certificate_serials AS BIGINT MINVALUE 1 START WITH 1;

CREATE TABLE certificates (
  serial BIGINT NOT NULL PRIMARY KEY CHECK (serial > 0),
  key_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  principals TEXT NOT NULL,
  valid_after_us BIGINT NOT NULL,
  valid_before_us BIGINT NOT NULL,
  public_key_fingerprint TEXT NOT NULL,
  ca_key_fingerprint TEXT NOT NULL,
  purpose TEXT NOT NULL CHECK (purpose IN ('login', 'session', 'host')),
  issued_at_us BIGINT NOT NULL
);
CREATE INDEX certificates_by_user ON certificates (user_name, serial);
CREATE INDEX certificates_by_key ON certificates (public_key_fingerprint);

CREATE TABLE revocations (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  serial BIGINT UNIQUE CHECK (serial > 0),
  key_fingerprint TEXT UNIQUE,
  reason TEXT NOT NULL,
  revoked_by TEXT NOT NULL,
  revoked_at_us BIGINT NOT NULL,
  CHECK ((serial IS NULL) <> (key_fingerprint IS NULL))
);

CREATE TABLE audit_events (
  seq BIGINT NOT NULL PRIMARY KEY CHECK (seq > 0),
  time_us BIGINT NOT NULL,
  type TEXT NOT NULL,
  actor TEXT NOT NULL,
  payload TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE FUNCTION audit_events_append_only() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- The chain head: one row, locked by every append.
CREATE TABLE audit_head (
  id BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES
  (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE sessions (
  id TEXT NOT NULL PRIMARY KEY,
  user_name TEXT NOT NULL,
  login TEXT NOT NULL,
  host TEXT NOT NULL,
  started_at_us BIGINT NOT NULL,
  ended_at_us BIGINT,
  bytes_in BIGINT NOT NULL CHECK (bytes_in >= 0),
  bytes_out BIGINT NOT NULL CHECK (bytes_out >= 0),
  status TEXT NOT NULL CHECK (status IN ('active', 'ended', 'failed'))
);
CREATE INDEX sessions_by_start ON sessions (started_at_us);
CREATE INDEX sessions_by_user ON sessions (user_name, started_at_us);
CREATE INDEX sessions_by_host ON sessions (host, started_at_us);

CREATE TABLE session_chunks (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL CHECK (seq > 0),
  channel BIGINT NOT NULL CHECK (channel >= 0),
  offset_us BIGINT NOT NULL CHECK (offset_us >= 0),
  stream TEXT NOT NULL CHECK (stream IN ('output', 'input', 'error')),
  data BYTEA NOT NULL,
  PRIMARY KEY (session_id, seq)
);

CREATE TABLE join_tokens (
  token_hash TEXT NOT NULL PRIMARY KEY,
  purpose TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at_us BIGINT NOT NULL,
  expires_at_us BIGINT NOT NULL,
  used_at_us BIGINT
);

CREATE TABLE ca_keys (
  fingerprint TEXT NOT NULL PRIMARY KEY,
  purpose TEXT NOT NULL CHECK (purpose IN ('user', 'host')),
  public_key TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('active', 'retired')),
  created_at_us BIGINT NOT NULL,
  retired_at_us BIGINT
);
CREATE UNIQUE INDEX ca_keys_one_active ON ca_keys (purpose)
  WHERE state = 'active';
