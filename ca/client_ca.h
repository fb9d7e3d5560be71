// The CA's internal TLS CA (DESIGN.md §5 "gRPC security"): issues the
// short-lived X.509 client certificates that every RPC but Login requires,
// and turns a peer certificate back into an identity.
#ifndef SALLYPORT_CA_CLIENT_CA_H_
#define SALLYPORT_CA_CLIENT_CA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/openssl_handles.h"

namespace sallyport::ca {

struct ClientIdentity {
  enum class Kind { kUser, kGateway };
  Kind kind = Kind::kUser;
  std::string name;     // user or gateway name (the certificate's CN)
  uint64_t serial = 0;  // equals the SSH certificate's serial for users
  absl::Time not_after;
};

class ClientCertificateAuthority {
 public:
  // Reads the PEM certificate and private key. kFailedPrecondition when a
  // file cannot be read; kInvalidArgument when it does not parse or the key
  // does not belong to the certificate.
  static absl::StatusOr<std::unique_ptr<ClientCertificateAuthority>> Load(
      const std::string& cert_path, const std::string& key_path);
  static absl::StatusOr<std::unique_ptr<ClientCertificateAuthority>> FromPem(
      std::string_view cert_pem, std::string_view key_pem);

  // A client certificate (PEM) for the key in `tls_public_key_der` (DER
  // SubjectPublicKeyInfo, P-256 or Ed25519): CN = name, OU = "user" or
  // "gateway", the given serial and validity, extendedKeyUsage clientAuth.
  // kInvalidArgument for a bad key or name.
  absl::StatusOr<std::string> Issue(ClientIdentity::Kind kind,
                                    std::string_view name, uint64_t serial,
                                    absl::Time not_before, absl::Time not_after,
                                    std::string_view tls_public_key_der) const;

  // Checks a peer certificate (PEM, as the TLS layer reports it): issued by
  // this CA, valid at `now`, OU "user" or "gateway". kUnauthenticated
  // otherwise (the message says why, for logs).
  //
  // A connection presents the same certificate on every call, and parsing
  // it and checking its signature was a quarter of an issuance's CPU: a
  // certificate that verified is remembered by its exact PEM text (at most
  // kMaxVerifiedCertificates; the memory is emptied when full) and only its
  // validity is checked against `now` again. Certificates that fail are
  // never remembered.
  absl::StatusOr<ClientIdentity> Verify(std::string_view peer_pem,
                                        absl::Time now) const
      ABSL_LOCKS_EXCLUDED(verified_mu_);
  static constexpr size_t kMaxVerifiedCertificates = 1024;
  // For tests: how many verified certificates are remembered.
  size_t VerifiedCountForTest() const ABSL_LOCKS_EXCLUDED(verified_mu_);

  // The CA certificate, for the server's client-certificate trust.
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  ClientCertificateAuthority() = default;
  struct Verified {
    ClientIdentity id;
    absl::Time not_before;
  };
  absl::StatusOr<Verified> VerifyUncached(std::string_view peer_pem,
                                          absl::Time now) const;

  std::string ca_pem_;
  base::X509Ptr cert_;
  base::EvpPkeyPtr key_;
  mutable absl::Mutex verified_mu_;
  mutable absl::flat_hash_map<std::string, Verified> verified_
      ABSL_GUARDED_BY(verified_mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_CLIENT_CA_H_
