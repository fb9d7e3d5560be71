// gwrest (issue 12): renewal of the gateway's own SSH host certificate
// (Gateway.RenewGatewayHostCertificate), which `serve` does before it
// expires and on SIGHUP (gateway/serve.cc), the way RenewIdentity keeps
// the mTLS certificate fresh.
#ifndef SALLYPORT_GATEWAY_RENEW_HOST_H_
#define SALLYPORT_GATEWAY_RENEW_HOST_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/config.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::gateway {

// The SSH host key in files.host_key and, when files.host_certificate is
// set and the file exists, the certificate in it, which must certify that
// key: KeyPairMismatch(kHost) (gateway/enroll.h) otherwise. Other errors
// name the file.
struct HostKeyPair {
  ssh::crypto::PrivateKey key;
  std::optional<ssh::cert::Certificate> certificate;
};
absl::StatusOr<HostKeyPair> ReadHostKeyPair(const GatewaySettings& settings);

// The host certificate in files.host_certificate, which must certify the
// key in files.host_key (ReadHostKeyPair; kNotFound naming the file when
// there is none).
absl::StatusOr<ssh::cert::Certificate> ReadHostCertificate(
    const GatewaySettings& settings);

// Sends the current host certificate to the CA over `channel` (which must
// carry the gateway's mTLS identity, e.g. from OpenCaChannel), checks that
// the answer is a host certificate for the same key and the same
// principals, and replaces files.host_certificate atomically. Returns the
// new certificate. ReadHostCertificate's error (a mismatched key and
// certificate are not renewed); kAborted, nothing written, when the host
// key was replaced during the call. The CA's status on refusal.
absl::StatusOr<ssh::cert::Certificate> RenewHostCertificate(
    const GatewaySettings& settings,
    const std::shared_ptr<grpc::Channel>& channel,
    absl::Duration timeout = absl::Seconds(30));

// When a certificate should be renewed: once `fraction` (0..1) of its life
// has passed. InfiniteFuture for one without an end.
absl::Time HostCertificateRenewalTime(const ssh::cert::Certificate& cert,
                                      double fraction);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_RENEW_HOST_H_
