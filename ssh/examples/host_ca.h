// Host-CA trust for the example client.
#ifndef SALLYPORT_SSH_EXAMPLES_HOST_CA_H_
#define SALLYPORT_SSH_EXAMPLES_HOST_CA_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ssh/transport/host_key.h"

namespace sallyport::ssh::examples {

// A policy trusting host certificates signed by any key in `ca_file` (one
// public key per line) that list `host_name`.
absl::StatusOr<std::shared_ptr<transport::HostKeyPolicy>> MakeHostCaPolicy(
    const std::string& ca_file, const std::string& host_name);

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_HOST_CA_H_
