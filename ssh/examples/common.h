// Shared bits of the example binaries: logging and flag tuning of
// transport options.
#ifndef SALLYPORT_SSH_EXAMPLES_COMMON_H_
#define SALLYPORT_SSH_EXAMPLES_COMMON_H_

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::examples {

// One line to stderr, prefixed with the program's name.
void Log(std::string_view line);
// "kex=curve25519-sha256 hostkey=ssh-ed25519 cipher=... strict-kex=yes".
std::string DescribeAlgorithms(const transport::Transport& t);

// Flags shared by server and client: --ciphers, --kex, --macs,
// --rekey-bytes, --rekey-seconds, --login-grace-seconds.
struct ServerTuning {
  std::string ciphers, kex, macs;
  uint64_t rekey_bytes = 0;
  int rekey_seconds = 0;
  int login_grace_seconds = 0;
  void AddFlags(CLI::App& app);
  absl::Status Apply(transport::TransportOptions& options) const;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_COMMON_H_
