-- Sallyport schema, version 7, SQLite dialect. Keep in step with
-- 0007_session_chunks.postgres.sql.
--
-- The records of a session recording live in `session_chunks`, the name
-- the design (DESIGN.md §8) and issue 14 give the table; version 5 named it
-- session_records. The table of that name until now, the raw output
-- chunks of version 1 that no component has written since the recorder
-- came (version 5), keeps its rows as legacy_session_chunks. Renames keep
-- every row, constraint and reference.

ALTER TABLE session_chunks RENAME TO legacy_session_chunks;
ALTER TABLE session_records RENAME TO session_chunks;
