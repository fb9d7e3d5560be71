-- Sallyport schema, version 12, PostgreSQL dialect. Keep in step with
-- 0012_gateway_certificates.sqlite.sql.
--
-- A certificate may also have the purpose 'gateway': a gateway's mTLS
-- identity (EnrollGateway, RenewGatewayIdentity), recorded as user
-- "gateway:NAME" so that `spctl certs ls` shows its serial (to revoke it)
-- and the CA knows which gateway names were enrolled.

ALTER TABLE certificates DROP CONSTRAINT certificates_purpose_check;
ALTER TABLE certificates ADD CONSTRAINT certificates_purpose_check
  CHECK (purpose IN ('login', 'session', 'host', 'gateway'));
