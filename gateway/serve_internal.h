// What gateway/serve*.cc share and nothing else uses.
#ifndef SALLYPORT_GATEWAY_SERVE_INTERNAL_H_
#define SALLYPORT_GATEWAY_SERVE_INTERNAL_H_

#include "absl/status/statusor.h"
#include "gateway/ca_client.h"
#include "gateway/config.h"
#include "ssh/transport/host_key.h"

namespace sallyport::gateway::serve_internal {

// The SSH host key and (when the file exists) its certificate
// (ReadHostKeyPair): KeyPairMismatch(kHost) as it is, other errors
// kInvalidArgument "host key: PATH: ...".
absl::StatusOr<ssh::transport::ServerHostKey> LoadHostKey(
    const GatewaySettings& settings);

// What Start and Reload read of the identity before anything else:
// CheckKeyFiles, LoadHostKey; the host key and its certificate. The TLS
// key and certificate are checked as the CA channel reads them
// (ReadCaIdentity with ChannelOptionsFor's KeyPairMismatch).
absl::StatusOr<ssh::transport::ServerHostKey> LoadIdentity(
    const GatewaySettings& settings);

// The CA channel's options from the settings; a TLS key and certificate
// that do not make a pair are refused with KeyPairMismatch(kTls)
// (gateway/enroll.h), or "PATH: ..." naming the one that does not parse.
CaChannelOptions ChannelOptionsFor(const GatewaySettings& settings);

// The valid_before of `key`'s certificate (Unix seconds); 0 when it has
// none or one valid forever.
int64_t CertificateNotAfter(const ssh::transport::ServerHostKey& key);

}  // namespace sallyport::gateway::serve_internal

#endif  // SALLYPORT_GATEWAY_SERVE_INTERNAL_H_
