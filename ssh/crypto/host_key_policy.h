// The client's decision about a server's host key, as an interface below
// the transport: the transport asks it during key exchange, and
// implementations live where their knowledge is (pinned keys in
// //ssh/transport, host-CA certificates in //ssh/cert), so every layer
// points down (DESIGN.md §3).
#ifndef SALLYPORT_SSH_CRYPTO_HOST_KEY_POLICY_H_
#define SALLYPORT_SSH_CRYPTO_HOST_KEY_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::crypto {

class HostKeyPolicy {
 public:
  virtual ~HostKeyPolicy() = default;
  // Host key algorithms to offer, in preference order.
  virtual std::vector<std::string> Algorithms() const = 0;
  // Decides on the server's host key blob (plain key or certificate) for the
  // negotiated algorithm. Returns the public key whose signature over the
  // exchange hash must then verify, or kUnauthenticated/kPermissionDenied
  // with the reason to refuse the server.
  virtual absl::StatusOr<PublicKey> Check(std::string_view algorithm,
                                          wire::Bytes host_key_blob) = 0;
};

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_HOST_KEY_POLICY_H_
