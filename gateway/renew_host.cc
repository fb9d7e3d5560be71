#include "gateway/renew_host.h"

#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "gateway/enroll.h"
#include "proto/gateway.grpc.pb.h"
#include "ssh/cert/certificate_file.h"
#include "ssh/crypto/keys.h"

namespace sallyport::gateway {

namespace v1 = ::sallyport::gateway::v1;

absl::StatusOr<HostKeyPair> ReadHostKeyPair(const GatewaySettings& settings) {
  absl::StatusOr<ssh::crypto::PrivateKey> key =
      ssh::crypto::PrivateKey::LoadFile(settings.files.host_key);
  if (!key.ok()) {
    return absl::Status(
        key.status().code(),
        absl::StrCat(settings.files.host_key, ": ", key.status().message()));
  }
  HostKeyPair pair{*std::move(key), std::nullopt};
  if (settings.files.host_certificate.empty()) return pair;
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::LoadCertificate(settings.files.host_certificate);
  if (absl::IsNotFound(cert.status())) return pair;
  if (!cert.ok()) {
    return absl::Status(cert.status().code(),
                        absl::StrCat(settings.files.host_certificate, ": ",
                                     cert.status().message()));
  }
  if (cert->key != pair.key.public_key()) {
    return KeyPairMismatch(settings, IdentityPair::kHost);
  }
  pair.certificate = *std::move(cert);
  return pair;
}

absl::StatusOr<ssh::cert::Certificate> ReadHostCertificate(
    const GatewaySettings& settings) {
  ASSIGN_OR_RETURN(HostKeyPair pair, ReadHostKeyPair(settings));
  if (!pair.certificate.has_value()) {
    return absl::NotFoundError(
        absl::StrCat(settings.files.host_certificate, ": no such file"));
  }
  return *std::move(pair.certificate);
}

absl::StatusOr<ssh::cert::Certificate> RenewHostCertificate(
    const GatewaySettings& settings,
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration timeout) {
  ASSIGN_OR_RETURN(ssh::cert::Certificate current,
                   ReadHostCertificate(settings));
  v1::RenewGatewayHostCertificateRequest request;
  request.set_host_certificate(current.ToLine(current.key_id));
  v1::RenewGatewayHostCertificateResponse response;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::Status st = v1::Gateway::NewStub(channel)->RenewGatewayHostCertificate(
      &ctx, request, &response);
  if (!st.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                        base::SafeText(st.error_message()));
  }
  const std::string& line = response.host_certificate().ssh_certificate();
  absl::StatusOr<ssh::cert::Certificate> renewed =
      ssh::cert::Certificate::FromLine(line);
  if (!renewed.ok() || renewed->type != ssh::cert::CertType::kHost ||
      renewed->key != current.key ||
      renewed->principals != current.principals) {
    return absl::InvalidArgumentError(
        "the CA returned a host certificate that is not for our host key "
        "and principals");
  }
  // A key replaced during the call (`enroll --force` meanwhile) keeps the
  // certificate written with it.
  absl::StatusOr<ssh::crypto::PrivateKey> key =
      ssh::crypto::PrivateKey::LoadFile(settings.files.host_key);
  if (!key.ok() || key->public_key() != current.key) {
    return absl::AbortedError(absl::StrCat(
        settings.files.host_key,
        " was replaced during the renewal; the renewed certificate, for the "
        "key it replaced, is not written"));
  }
  RETURN_IF_ERROR(base::WriteFileAtomic(settings.files.host_certificate,
                                        absl::StrCat(line, "\n"), 0644));
  return renewed;
}

absl::Time HostCertificateRenewalTime(const ssh::cert::Certificate& cert,
                                      double fraction) {
  if (cert.valid_before >= uint64_t{1} << 62) return absl::InfiniteFuture();
  const absl::Time after =
      absl::FromUnixSeconds(static_cast<int64_t>(cert.valid_after));
  const absl::Time before =
      absl::FromUnixSeconds(static_cast<int64_t>(cert.valid_before));
  return after + (before - after) * fraction;
}

}  // namespace sallyport::gateway
