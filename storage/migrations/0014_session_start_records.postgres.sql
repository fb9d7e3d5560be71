-- Sallyport schema, version 14, PostgreSQL dialect. Keep in step with
-- 0014_session_start_records.sqlite.sql.
--
-- A recording's first record may be a 'session_start': the session's user,
-- login, host and start as the gateway recorded them, in the hash chain, so
-- that an edit of the session's row is detectable (audit/recording_record.h).
-- The constraint kept the name it got in version 5, when the table was
-- session_records.

ALTER TABLE session_chunks DROP CONSTRAINT session_records_kind_check;
ALTER TABLE session_chunks ADD CONSTRAINT session_chunks_kind_check
  CHECK (kind IN ('data', 'request', 'window_change', 'channel_open',
    'channel_close', 'stream_summary', 'session_end', 'session_start'));
