// The gateway's identity (DESIGN.md §5 "Gateway identity", issue 12):
// `sallyport-gateway enroll` turns a one-time join token into the files
// the gateway serves with, and RenewIdentity keeps its mTLS client
// certificate fresh.
//
// Enrolment: the CA's TLS certificate is fetched and must match the
// fingerprint the operator gave (the certificate is then pinned as the
// trust root of every later connection); an Ed25519 SSH host key and a
// P-256 TLS key are generated here and never leave the machine; the CA
// certifies both (Gateway.EnrollGateway); the keys (0600), the
// certificates, the CA certificate and STATE_DIR/gateway.yaml are written
// into the state directory (made 0700 when missing; an existing one keeps
// its mode), each file whole under a temporary name first, then renamed
// into place, gateway.yaml last (`enroll --force` never leaves a
// half-written file).
#ifndef SALLYPORT_GATEWAY_ENROLL_H_
#define SALLYPORT_GATEWAY_ENROLL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/config.h"

namespace sallyport::gateway {

// The DNS name in the CA's TLS certificate (the certificate itself is
// pinned; the name is a formality gRPC needs).
inline constexpr char kCaTlsName[] = "sallyport-ca";

struct EnrollOptions {
  std::string ca;              // HOST:PORT
  std::string ca_fingerprint;  // SHA256:<base64> or 64 hex digits
  std::string token;           // the join token; never logged
  // `enroll --token-file`: where RunEnrollCommand reads the token ("-":
  // stdin); Enroll itself uses `token` only.
  std::string token_file;
  std::string state_dir;
  // The gateway's name (CN of its client certificate, first principal of
  // its host certificate). Empty: the first label of this machine's host
  // name.
  std::string name;
  // More names clients reach the gateway by (host certificate principals).
  std::vector<std::string> principals;
  // Replace an existing identity in state_dir.
  bool force = false;
  // Bound on reaching the CA and on the RPC.
  absl::Duration timeout = absl::Seconds(30);
};

struct EnrollResult {
  std::string config_path;  // STATE_DIR/gateway.yaml
  std::string name;
  std::vector<std::string> host_principals;
  absl::Time tls_valid_before;
  absl::Time host_certificate_valid_before;
  // Said to the operator, the enrolment done: a state dir that group or
  // others may read.
  std::vector<std::string> warnings;
};

// Enrols. Errors (the message says what to do):
// - kInvalidArgument: a bad option (--ca, --ca-fingerprint, --name, an
//   empty token), or a CA answer that does not fit our keys;
// - kAlreadyExists: state_dir already holds an identity and !force;
// - kPermissionDenied "--state-dir DIR is owned by uid ..." or "... has
//   mode 0775: group or others may write to it ..." (with the chmod or
//   chown that fixes it) for an existing state_dir another user owns or
//   group or others may write to; nothing is sent to the CA;
// - kPermissionDenied "the CA at X presented a TLS certificate with
//   fingerprint A, not the expected B ..." (nothing is sent to it);
// - kUnauthenticated "join token refused: ..." (unknown, used, expired or
//   of another kind: the CA does not say which);
// - kUnavailable / kDeadlineExceeded: the CA cannot be reached;
// - the CA's other refusals with its message; file errors naming the path.
// On any error before the files are written, nothing is written.
absl::StatusOr<EnrollResult> Enroll(const EnrollOptions& options);

// A gRPC channel to the CA with the gateway's identity: TLS whose only
// trust root is the pinned CA certificate (files.ca_certificate) and the
// client key and certificate (files.tls_key, files.tls_certificate). The
// channel keeps the certificate it was created with: open a new one after
// RenewIdentity. Errors name the file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenCaChannel(
    const GatewaySettings& settings);

// The two key pairs of the identity: the SSH host key and its host
// certificate, the TLS key and its mTLS certificate.
enum class IdentityPair { kHost, kTls };

// The refusal of a private key that is not the key its certificate
// certifies, which `enroll --force` cut short between the key's rename and
// its certificate's, or a file copied from another identity, leaves:
// kFailedPrecondition, one line naming both files (with their config keys)
// and the way out (`sallyport-gateway enroll --force` again, with a join
// token for settings.name).
absl::Status KeyPairMismatch(const GatewaySettings& settings,
                             IdentityPair pair);

// Whether files.tls_certificate certifies the key in files.tls_key
// (comparing their public keys): KeyPairMismatch(kTls) when it does not;
// the read error of either file, or kFailedPrecondition "PATH: not a PEM
// ..." for one that does not parse.
absl::Status CheckTlsKeyPair(const GatewaySettings& settings);

// Renews the mTLS client certificate for the same TLS key
// (Gateway.RenewGatewayIdentity over `channel`, which must carry the
// current identity, e.g. from OpenCaChannel), checks that the new
// certificate is for our key, and replaces files.tls_certificate
// atomically (the key is unchanged, so key and certificate always match on
// disk). Returns the new certificate's expiry. Refused before any call,
// CheckTlsKeyPair's error when the key on disk is not the current
// certificate's (a key the CA never saw is not certified); kAborted,
// nothing written, when the key was replaced during the call. The CA's
// status on refusal (kUnauthenticated once the current certificate has
// expired: enrol again).
absl::StatusOr<absl::Time> RenewIdentity(
    const GatewaySettings& settings,
    const std::shared_ptr<grpc::Channel>& channel,
    absl::Duration timeout = absl::Seconds(30));

// The validity of the first certificate in a PEM file (the mTLS
// certificate), for deciding when to renew. Errors name the path.
struct CertificateLifetime {
  absl::Time not_before;
  absl::Time not_after;
  // When `fraction` (0..1) of the lifetime has passed.
  absl::Time At(double fraction) const {
    return not_before + (not_after - not_before) * fraction;
  }
};
absl::StatusOr<CertificateLifetime> ReadTlsCertificateLifetime(
    const std::string& path);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_ENROLL_H_
