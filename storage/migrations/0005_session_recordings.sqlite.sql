-- Sallyport schema, version 5, SQLite dialect. Keep in step with
-- 0005_session_recordings.postgres.sql.
--
-- Session recordings (issue 14): a session belongs to the gateway that
-- recorded it, keeps the head of its record chain (last seq and hash) and
-- can be `interrupted` (its gateway died; the spool was shipped later).
-- session_records holds every record kind (data, requests, window
-- changes, channel open/close, stream summaries, the end), each with its
-- SHA-256 chain hash.
--
-- SQLite cannot change a CHECK constraint in place: sessions (and
-- session_chunks, which references it) are rebuilt and copied. Renaming a
-- table also renames the references to it, so the old child table is
-- dropped before the old parent.

ALTER TABLE session_chunks RENAME TO session_chunks_v4;
ALTER TABLE sessions RENAME TO sessions_v4;
DROP INDEX sessions_by_start;
DROP INDEX sessions_by_user;
DROP INDEX sessions_by_host;

CREATE TABLE sessions (
  id TEXT NOT NULL PRIMARY KEY,
  user_name TEXT NOT NULL,
  login TEXT NOT NULL,
  host TEXT NOT NULL,
  started_at_us INTEGER NOT NULL,
  ended_at_us INTEGER,
  bytes_in INTEGER NOT NULL CHECK (bytes_in >= 0),
  bytes_out INTEGER NOT NULL CHECK (bytes_out >= 0),
  status TEXT NOT NULL
    CHECK (status IN ('active', 'ended', 'failed', 'interrupted')),
  gateway_id TEXT NOT NULL DEFAULT '',
  last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  chain_head TEXT NOT NULL DEFAULT
    '0000000000000000000000000000000000000000000000000000000000000000'
) STRICT;
INSERT INTO sessions (id, user_name, login, host, started_at_us, ended_at_us,
                      bytes_in, bytes_out, status)
  SELECT id, user_name, login, host, started_at_us, ended_at_us, bytes_in,
         bytes_out, status FROM sessions_v4;

CREATE TABLE session_chunks (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq > 0),
  channel INTEGER NOT NULL CHECK (channel >= 0),
  offset_us INTEGER NOT NULL CHECK (offset_us >= 0),
  stream TEXT NOT NULL CHECK (stream IN ('output', 'input', 'error')),
  data BLOB NOT NULL,
  PRIMARY KEY (session_id, seq)
) STRICT;
INSERT INTO session_chunks SELECT session_id, seq, channel, offset_us, stream,
                                  data FROM session_chunks_v4;
DROP TABLE session_chunks_v4;
DROP TABLE sessions_v4;

CREATE INDEX sessions_by_start ON sessions (started_at_us);
CREATE INDEX sessions_by_user ON sessions (user_name, started_at_us);
CREATE INDEX sessions_by_host ON sessions (host, started_at_us);
CREATE INDEX sessions_by_gateway ON sessions (gateway_id, started_at_us);

CREATE TABLE session_records (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq > 0),
  channel INTEGER NOT NULL CHECK (channel >= 0),
  offset_us INTEGER NOT NULL CHECK (offset_us >= 0),
  kind TEXT NOT NULL CHECK (kind IN ('data', 'request', 'window_change',
    'channel_open', 'channel_close', 'stream_summary', 'session_end')),
  direction TEXT NOT NULL CHECK (direction IN ('none', 'input', 'output')),
  stream INTEGER NOT NULL CHECK (stream >= 0),
  name TEXT NOT NULL,
  summary TEXT NOT NULL,
  value1 INTEGER NOT NULL,
  value2 INTEGER NOT NULL,
  data BLOB NOT NULL,
  hash TEXT NOT NULL,
  PRIMARY KEY (session_id, seq)
) STRICT;
