// What gateway/serve*.cc share and nothing else uses.
#ifndef SALLYPORT_GATEWAY_SERVE_INTERNAL_H_
#define SALLYPORT_GATEWAY_SERVE_INTERNAL_H_

#include "absl/status/statusor.h"
#include "gateway/config.h"
#include "ssh/transport/host_key.h"

namespace sallyport::gateway::serve_internal {

// The SSH host key and (when the file exists) its certificate.
absl::StatusOr<ssh::transport::ServerHostKey> LoadHostKey(
    const GatewayFileSettings& files);

// The valid_before of `key`'s certificate (Unix seconds); 0 when it has
// none or one valid forever.
int64_t CertificateNotAfter(const ssh::transport::ServerHostKey& key);

}  // namespace sallyport::gateway::serve_internal

#endif  // SALLYPORT_GATEWAY_SERVE_INTERNAL_H_
