-- Sallyport schema, version 17, SQLite dialect. Keep in step with
-- 0017_used_userauth_proofs.postgres.sql.
--
-- Finding B: a session certificate is issued on the user's userauth proof
-- (the data the user's client signed to log in to the gateway, and the
-- signature). The CA cannot check the SSH session identifier inside, so
-- each proof gets one session certificate: the SHA-256 of its signed data
-- (64 lowercase hex digits) is recorded in the certificate's transaction
-- (RecordSessionCertificate) with the session it was used for, and a
-- second use is refused. A row is kept until the user certificate the
-- proof is for expires (expires_at_us; after that the proof is worthless)
-- and is then deleted by a later issuance (a bounded prune, in
-- expires_at_us order).

CREATE TABLE used_userauth_proofs (
  proof_sha256 TEXT NOT NULL PRIMARY KEY CHECK (length(proof_sha256) = 64),
  session_id TEXT NOT NULL,
  expires_at_us INTEGER NOT NULL
) STRICT;
CREATE INDEX used_userauth_proofs_by_expiry
  ON used_userauth_proofs (expires_at_us);
