-- Sallyport schema, version 5, PostgreSQL dialect. Keep in step with
-- 0005_session_recordings.sqlite.sql.
--
-- Session recordings (issue 14): a session belongs to the gateway that
-- recorded it, keeps the head of its record chain (last seq and hash) and
-- can be `interrupted` (its gateway died; the spool was shipped later).
-- session_records holds every record kind (data, requests, window
-- changes, channel open/close, stream summaries, the end), each with its
-- SHA-256 chain hash.

ALTER TABLE sessions DROP CONSTRAINT sessions_status_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_status_check
  CHECK (status IN ('active', 'ended', 'failed', 'interrupted'));
ALTER TABLE sessions ADD COLUMN gateway_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0
  CHECK (last_seq >= 0);
ALTER TABLE sessions ADD COLUMN chain_head TEXT NOT NULL DEFAULT
  '0000000000000000000000000000000000000000000000000000000000000000';
CREATE INDEX sessions_by_gateway ON sessions (gateway_id, started_at_us);

CREATE TABLE session_records (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq BIGINT NOT NULL CHECK (seq > 0),
  channel BIGINT NOT NULL CHECK (channel >= 0),
  offset_us BIGINT NOT NULL CHECK (offset_us >= 0),
  kind TEXT NOT NULL CHECK (kind IN ('data', 'request', 'window_change',
    'channel_open', 'channel_close', 'stream_summary', 'session_end')),
  direction TEXT NOT NULL CHECK (direction IN ('none', 'input', 'output')),
  stream BIGINT NOT NULL CHECK (stream >= 0),
  name TEXT NOT NULL,
  summary TEXT NOT NULL,
  value1 BIGINT NOT NULL,
  value2 BIGINT NOT NULL,
  data BYTEA NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (session_id, seq)
);
