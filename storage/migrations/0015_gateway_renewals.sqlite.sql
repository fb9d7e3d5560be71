-- Sallyport schema, version 15, SQLite dialect. Keep in step with
-- 0015_gateway_renewals.postgres.sql.
--
-- A gateway identity renewed from another records that one's serial
-- (RenewGatewayIdentity), unique: each identity renews once, also when two
-- renewals of it reach the CA (or two CA instances) at the same moment.
-- Certificates recorded before have none.

ALTER TABLE certificates ADD COLUMN renews_serial INTEGER
  CHECK (renews_serial > 0);
CREATE UNIQUE INDEX certificates_by_renewed ON certificates (renews_serial);
