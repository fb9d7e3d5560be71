// What gateway/serve*.cc share and nothing else uses.
#ifndef SALLYPORT_GATEWAY_SERVE_INTERNAL_H_
#define SALLYPORT_GATEWAY_SERVE_INTERNAL_H_

#include "absl/status/statusor.h"
#include "gateway/config.h"
#include "ssh/transport/host_key.h"

namespace sallyport::gateway::serve_internal {

// The SSH host key and (when the file exists) its certificate
// (ReadHostKeyPair): KeyPairMismatch(kHost) as it is, other errors
// kInvalidArgument "host key: PATH: ...".
absl::StatusOr<ssh::transport::ServerHostKey> LoadHostKey(
    const GatewaySettings& settings);

// What Start and Reload read of the identity before anything else:
// CheckKeyFiles, LoadHostKey, CheckTlsKeyPair (gateway/enroll.h); the
// host key and its certificate.
absl::StatusOr<ssh::transport::ServerHostKey> LoadIdentity(
    const GatewaySettings& settings);

// The valid_before of `key`'s certificate (Unix seconds); 0 when it has
// none or one valid forever.
int64_t CertificateNotAfter(const ssh::transport::ServerHostKey& key);

}  // namespace sallyport::gateway::serve_internal

#endif  // SALLYPORT_GATEWAY_SERVE_INTERNAL_H_
