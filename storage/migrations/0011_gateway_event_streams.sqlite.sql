-- Sallyport schema, version 11, SQLite dialect. Keep in step with
-- 0011_gateway_event_streams.postgres.sql.
--
-- A gateway's audit events sent again are not appended twice: its event
-- sender names each of its runs with a random stream and numbers the
-- run's events from 1 in the order sent; the CA appends a request's events
-- in one transaction with the highest number it stored for the stream,
-- and leaves out the events at or below it (a request sent again after a
-- failure or a lost answer). One row per run of a gateway's sender.

CREATE TABLE gateway_event_streams (
  gateway_id TEXT NOT NULL CHECK (gateway_id <> ''),
  stream TEXT NOT NULL CHECK (stream <> ''),
  last_number INTEGER NOT NULL CHECK (last_number >= 0),
  updated_at_us INTEGER NOT NULL,
  PRIMARY KEY (gateway_id, stream)
) STRICT;
