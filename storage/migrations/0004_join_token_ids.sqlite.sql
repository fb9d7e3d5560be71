-- Sallyport schema, version 4, SQLite dialect. Keep in step with
-- 0004_join_token_ids.postgres.sql.
--
-- Join tokens get a public id (what `spctl tokens ls|revoke` show and take:
-- never the secret or its hash) and can be revoked before they are used.
-- New ids are max(id) + 1 under SQLite's write lock; existing tokens are
-- numbered in the order they were created.

ALTER TABLE join_tokens ADD COLUMN id INTEGER;
ALTER TABLE join_tokens ADD COLUMN revoked_at_us INTEGER;
UPDATE join_tokens SET id = (
  SELECT COUNT(*) FROM join_tokens AS older
  WHERE older.created_at_us < join_tokens.created_at_us
     OR (older.created_at_us = join_tokens.created_at_us
         AND older.token_hash <= join_tokens.token_hash));
CREATE UNIQUE INDEX join_tokens_id ON join_tokens (id);
