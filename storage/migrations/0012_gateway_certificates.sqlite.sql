-- Sallyport schema, version 12, SQLite dialect. Keep in step with
-- 0012_gateway_certificates.postgres.sql.
--
-- A certificate may also have the purpose 'gateway': a gateway's mTLS
-- identity (EnrollGateway, RenewGatewayIdentity), recorded as user
-- "gateway:NAME" so that `spctl certs ls` shows its serial (to revoke it)
-- and the CA knows which gateway names were enrolled. SQLite cannot change
-- a CHECK constraint in place: the table is rebuilt with every row
-- (nothing references it).

CREATE TABLE certificates_v12 (
  serial INTEGER NOT NULL PRIMARY KEY CHECK (serial > 0),
  key_id TEXT NOT NULL,
  user_name TEXT NOT NULL,
  principals TEXT NOT NULL,
  valid_after_us INTEGER NOT NULL,
  valid_before_us INTEGER NOT NULL,
  public_key_fingerprint TEXT NOT NULL,
  ca_key_fingerprint TEXT NOT NULL,
  purpose TEXT NOT NULL
    CHECK (purpose IN ('login', 'session', 'host', 'gateway')),
  issued_at_us INTEGER NOT NULL
) STRICT;
INSERT INTO certificates_v12 (serial, key_id, user_name, principals,
                              valid_after_us, valid_before_us,
                              public_key_fingerprint, ca_key_fingerprint,
                              purpose, issued_at_us)
  SELECT serial, key_id, user_name, principals, valid_after_us,
         valid_before_us, public_key_fingerprint, ca_key_fingerprint,
         purpose, issued_at_us FROM certificates;
DROP TABLE certificates;
ALTER TABLE certificates_v12 RENAME TO certificates;
CREATE INDEX certificates_by_user ON certificates (user_name, serial);
CREATE INDEX certificates_by_key ON certificates (public_key_fingerprint);
