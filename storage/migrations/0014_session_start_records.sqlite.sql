-- Sallyport schema, version 14, SQLite dialect. Keep in step with
-- 0014_session_start_records.postgres.sql.
--
-- A recording's first record may be a 'session_start': the session's user,
-- login, host and start as the gateway recorded them, in the hash chain, so
-- that an edit of the session's row is detectable (audit/recording_record.h).
-- SQLite cannot change a CHECK constraint in place: session_chunks is
-- rebuilt with every row (nothing references it).

CREATE TABLE session_chunks_v14 (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL CHECK (seq > 0),
  channel INTEGER NOT NULL CHECK (channel >= 0),
  offset_us INTEGER NOT NULL CHECK (offset_us >= 0),
  kind TEXT NOT NULL CHECK (kind IN ('data', 'request', 'window_change',
    'channel_open', 'channel_close', 'stream_summary', 'session_end',
    'session_start')),
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
INSERT INTO session_chunks_v14 (session_id, seq, channel, offset_us, kind,
                                direction, stream, name, summary, value1,
                                value2, data, hash)
  SELECT session_id, seq, channel, offset_us, kind, direction, stream, name,
         summary, value1, value2, data, hash FROM session_chunks;
DROP TABLE session_chunks;
ALTER TABLE session_chunks_v14 RENAME TO session_chunks;
