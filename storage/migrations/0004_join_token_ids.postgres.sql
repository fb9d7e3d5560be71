-- Sallyport schema, version 4, PostgreSQL dialect. Keep in step with
-- 0004_join_token_ids.sqlite.sql.
--
-- Join tokens get a public id (what `spctl tokens ls|revoke` show and take:
-- never the secret or its hash) and can be revoked before they are used.
-- New ids come from the column's sequence; existing tokens are numbered in
-- the order they were created.

ALTER TABLE join_tokens ADD COLUMN id BIGINT;
ALTER TABLE join_tokens ADD COLUMN revoked_at_us BIGINT;
UPDATE join_tokens SET id = numbered.n FROM (
  SELECT token_hash,
         ROW_NUMBER() OVER (ORDER BY created_at_us, token_hash COLLATE "C") AS n
  FROM join_tokens) AS numbered
WHERE join_tokens.token_hash = numbered.token_hash;
CREATE SEQUENCE join_tokens_id_seq OWNED BY join_tokens.id;
SELECT setval('join_tokens_id_seq', COALESCE(MAX(id), 0) + 1, false)
  FROM join_tokens;
ALTER TABLE join_tokens ALTER COLUMN id SET DEFAULT nextval('join_tokens_id_seq');
ALTER TABLE join_tokens ALTER COLUMN id SET NOT NULL;
CREATE UNIQUE INDEX join_tokens_id ON join_tokens (id);
