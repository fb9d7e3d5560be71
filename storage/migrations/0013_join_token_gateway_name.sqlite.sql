-- Sallyport schema, version 13, SQLite dialect. Keep in step with
-- 0013_join_token_gateway_name.postgres.sql.
--
-- A gateway join token may name the gateway it is for (`spctl tokens
-- create --kind gateway --gateway-name NAME`): only that name enrols with
-- it, and only such a token enrols a name that already has a gateway
-- identity on record (re-enrolment, `sallyport-gateway enroll --force`).
-- '' (every token created before): any name not yet enrolled.

ALTER TABLE join_tokens ADD COLUMN gateway_name TEXT NOT NULL DEFAULT '';
