// Shared bits of the example binaries: logging, flag tuning of transport
// options, certificate file loading.
#ifndef SALLYPORT_SSH_EXAMPLES_COMMON_H_
#define SALLYPORT_SSH_EXAMPLES_COMMON_H_

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ssh/crypto/keys.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::examples {

// Whole file contents, or "" when it cannot be read.
std::string ReadTextFile(const std::string& path);
// One line to stderr, prefixed with the program's name.
void Log(std::string_view line);
// Peer-supplied text made printable for a log line.
std::string SafeText(std::string_view s);
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

// RFC 4254 §6.10 signal names without "SIG" ("INT", "TERM", ...): the
// number, or 0 for a name we do not know.
int SignalNumber(std::string_view name);
// The RFC 4254 name of a signal, or "SIG@openssh.com" (what OpenSSH sends
// for signals without a standard name).
std::string SignalName(int signal_number);

// Reads a certificate file ("type base64 [comment]") and returns its blob.
// If `key` is given, the certificate must certify that key.
absl::StatusOr<std::vector<uint8_t>> LoadCertificateBlob(
    const std::string& path,
    const std::optional<crypto::PublicKey>& key = std::nullopt);

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_COMMON_H_
