// Host keys: what a server presents and how a client decides to trust it.
#ifndef SALLYPORT_SSH_TRANSPORT_HOST_KEY_H_
#define SALLYPORT_SSH_TRANSPORT_HOST_KEY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ssh/crypto/host_key_policy.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::transport {

// A server host key, optionally with an OpenSSH host certificate for it.
struct ServerHostKey {
  crypto::PrivateKey key;
  // The certificate blob (wire format, *-cert-v01@openssh.com), or empty.
  std::vector<uint8_t> certificate;

  // Host key algorithms this key can serve, certificate first.
  std::vector<std::string> Algorithms() const;
};

// The client's decision about a server's host key (the interface lives in
// //ssh/crypto so that //ssh/cert can implement it without depending on
// the transport). Implementations: pinned keys (below), host-CA
// certificates (//ssh/cert:HostCertificatePolicy).
using crypto::HostKeyPolicy;

// Trusts exactly the given plain keys (refuses certificates and any other key).
class PinnedHostKeyPolicy : public HostKeyPolicy {
 public:
  explicit PinnedHostKeyPolicy(std::vector<crypto::PublicKey> keys)
      : keys_(std::move(keys)) {}
  std::vector<std::string> Algorithms() const override;
  absl::StatusOr<crypto::PublicKey> Check(std::string_view algorithm,
                                          wire::Bytes host_key_blob) override;

 private:
  std::vector<crypto::PublicKey> keys_;
};

// Plain host key algorithms that a key of this type can be used with.
std::vector<std::string> PlainHostKeyAlgorithms(crypto::KeyType type);

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_HOST_KEY_H_
