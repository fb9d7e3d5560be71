-- Sallyport schema, version 10, PostgreSQL dialect. Keep in step with
-- 0010_session_open_bytes.sqlite.sql.
--
-- The bytes of an active session so far (`spctl sessions ls` showed 0 until
-- its channels closed: bytes_in/bytes_out add up the channel_close records
-- only). session_open_channels holds, per channel that has not closed yet,
-- the bytes of its data records stored so far, each way; a channel_close
-- deletes its row (its totals then reach bytes_in/bytes_out), the session's
-- end deletes the rest. sessions.open_bytes_in/open_bytes_out are their sum,
-- kept by every append, so a listing reads them from the row.
--
-- Sessions active at the upgrade get their open channels' bytes from the
-- data records stored after each channel's last close (once, here).

CREATE TABLE session_open_channels (
  session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  channel BIGINT NOT NULL CHECK (channel >= 0),
  bytes_in BIGINT NOT NULL CHECK (bytes_in >= 0),
  bytes_out BIGINT NOT NULL CHECK (bytes_out >= 0),
  PRIMARY KEY (session_id, channel)
);

ALTER TABLE sessions ADD COLUMN open_bytes_in BIGINT NOT NULL DEFAULT 0
  CHECK (open_bytes_in >= 0);
ALTER TABLE sessions ADD COLUMN open_bytes_out BIGINT NOT NULL DEFAULT 0
  CHECK (open_bytes_out >= 0);

INSERT INTO session_open_channels (session_id, channel, bytes_in, bytes_out)
  SELECT c.session_id, c.channel,
         SUM(CASE WHEN c.direction = 'input' THEN length(c.data) ELSE 0 END),
         SUM(CASE WHEN c.direction = 'output' THEN length(c.data) ELSE 0 END)
  FROM session_chunks c JOIN sessions s ON s.id = c.session_id
  WHERE s.status = 'active' AND c.kind = 'data'
    AND c.seq > COALESCE((SELECT MAX(x.seq) FROM session_chunks x
                          WHERE x.session_id = c.session_id
                            AND x.channel = c.channel
                            AND x.kind = 'channel_close'), 0)
  GROUP BY c.session_id, c.channel;

UPDATE sessions SET
  open_bytes_in = (SELECT COALESCE(SUM(o.bytes_in), 0)
                   FROM session_open_channels o
                   WHERE o.session_id = sessions.id),
  open_bytes_out = (SELECT COALESCE(SUM(o.bytes_out), 0)
                    FROM session_open_channels o
                    WHERE o.session_id = sessions.id)
  WHERE status = 'active';
