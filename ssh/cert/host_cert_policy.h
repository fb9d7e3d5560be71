// Trusting servers by OpenSSH host certificates: our client side, checking
// internal hosts (SECURITY.md "Certificates": host certs).
#ifndef SALLYPORT_SSH_CERT_HOST_CERT_POLICY_H_
#define SALLYPORT_SSH_CERT_HOST_CERT_POLICY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/host_key_policy.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::cert {

// Accepts a server only if it presents a host certificate, signed by one of
// the trusted host CAs, listing the expected host name, valid now, with no
// critical options and not revoked. Plain host keys are never accepted.
class HostCertificatePolicy : public crypto::HostKeyPolicy {
 public:
  struct Options {
    // Host CA public keys (compared by full key blob).
    std::vector<crypto::PublicKey> trusted_cas;
    // The name the certificate must list as a principal, exactly.
    std::string host_name;
    // Source of "now"; nullptr means base::Clock::Real(). Must outlive the
    // policy.
    const base::Clock* clock = nullptr;
    // Optional; any error refuses the server.
    RevocationCheck revocation_check;
  };

  // kInvalidArgument if there is no trusted CA or the host name is empty or
  // contains ','.
  static absl::StatusOr<std::unique_ptr<HostCertificatePolicy>> Create(
      Options options);

  // Certificate algorithms only, in preference order:
  // ssh-ed25519-cert-v01@openssh.com, ecdsa-sha2-nistp256-cert-v01@openssh.com,
  // rsa-sha2-512-cert-v01@openssh.com, rsa-sha2-256-cert-v01@openssh.com.
  std::vector<std::string> Algorithms() const override;

  // Parses `host_key_blob` as a certificate whose type fits `algorithm`
  // (rsa-sha2-*-cert-v01 ↔ ssh-rsa-cert-v01 blobs), verifies it as a HOST
  // certificate for the host name, and returns the certified key, which
  // must then sign the exchange hash. kUnauthenticated for an algorithm we
  // did not offer, a blob that is not a certificate of that type, an
  // untrusted CA or a bad signature; kPermissionDenied for type, validity,
  // host name, critical options or revocation.
  absl::StatusOr<crypto::PublicKey> Check(std::string_view algorithm,
                                          wire::Bytes host_key_blob) override;

 private:
  explicit HostCertificatePolicy(Options options)
      : options_(std::move(options)) {}
  Options options_;
};

// The certificate blob type name a host key algorithm carries, or empty if
// it is not a certificate algorithm we support.
std::string_view CertTypeForHostKeyAlgorithm(std::string_view algorithm);

}  // namespace sallyport::ssh::cert

#endif  // SALLYPORT_SSH_CERT_HOST_CERT_POLICY_H_
