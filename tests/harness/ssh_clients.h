// The SSH clients besides OpenSSH that users bring (issue 12 "Other
// clients"): PuTTY's plink and pscp (Debian putty-tools 0.78, which takes
// OpenSSH certificates through a .ppk made by `puttygen --certificate`),
// paramiko and AsyncSSH (Debian python3-paramiko / python3-asyncssh, run by
// the scripts in tests/harness/clients/). Each runs one command or moves
// one file with a key + certificate and a host key it checks (never TOFU),
// so an interop matrix can drive them all the same way.
#ifndef SALLYPORT_TESTS_HARNESS_SSH_CLIENTS_H_
#define SALLYPORT_TESTS_HARNESS_SSH_CLIENTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

enum class SshClientKind { kPlink, kParamiko, kAsyncssh };
// "plink" (files: pscp), "paramiko", "asyncssh".
std::string SshClientName(SshClientKind kind);
inline constexpr SshClientKind kAllSshClients[] = {
    SshClientKind::kPlink, SshClientKind::kParamiko, SshClientKind::kAsyncssh};

struct SshEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 22;
  // The SSH user name ("root", or "root+web01" through the gateway).
  std::string user;
  // OpenSSH private key (unencrypted) and its certificate.
  std::string key;
  std::string certificate;
  // The server's host public key (OpenSSH line): plink and paramiko accept
  // only this key; AsyncSSH too when known_hosts is empty.
  std::string host_public_key;
  // Optional known_hosts for AsyncSSH (may hold @cert-authority lines).
  std::string known_hosts;
};

class SshClients {
 public:
  // kFailedPrecondition when a client is missing (deploy/bootstrap.sh
  // installs putty-tools, python3-paramiko, python3-asyncssh).
  static absl::StatusOr<std::unique_ptr<SshClients>> Create();

  // Runs `command` on the server; the result's exit code is the remote
  // command's (255 when the client failed).
  absl::StatusOr<RunResult> Exec(SshClientKind kind, const SshEndpoint& to,
                                 const std::string& command);
  // Copies a local file to the server (plink: pscp over SFTP; the Python
  // clients: their SFTP clients).
  absl::StatusOr<RunResult> Put(SshClientKind kind, const SshEndpoint& to,
                                const std::string& local,
                                const std::string& remote);
  // Copies a file from the server.
  absl::StatusOr<RunResult> Get(SshClientKind kind, const SshEndpoint& to,
                                const std::string& remote,
                                const std::string& local);
  // `count` sessions at once (AsyncSSH, clients/load_sessions.py), each its
  // own connection running `command`; succeeds (exit 0) only when every
  // session exits 0 with exactly `expect_bytes` of output. The output's
  // first line: "sessions N ok M failed F bytes X seconds S". `parallel`
  // caps how many connect at a time (0: all). `barrier` (gwfix): the
  // commands start only once all `count` are connected (the line then has
  // "connect_seconds C" before "seconds").
  absl::StatusOr<RunResult> ConcurrentSessions(const SshEndpoint& to, int count,
                                               const std::string& command,
                                               int64_t expect_bytes,
                                               int parallel = 0,
                                               bool barrier = false);
  // pscp with an explicit protocol: "-scp" or "-sftp"; `from`/`to` use
  // pscp's syntax with "HOST:" for the remote side ("127.0.0.1:/tmp/x").
  absl::StatusOr<RunResult> Pscp(const SshEndpoint& endpoint,
                                 const std::string& protocol,
                                 const std::string& from,
                                 const std::string& to);

 private:
  explicit SshClients(TempDir dir) : dir_(std::move(dir)) {}
  // The .ppk (key + certificate) for plink/pscp, made once per key.
  absl::StatusOr<std::string> PuttyKey(const SshEndpoint& to);
  absl::StatusOr<std::vector<std::string>> PuttyArgs(const SshEndpoint& to,
                                                     const std::string& tool);
  absl::StatusOr<RunResult> Python(SshClientKind kind, const SshEndpoint& to,
                                   const std::vector<std::string>& op);
  RunOptions Options() const;

  TempDir dir_;
  int ppk_count_ = 0;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_SSH_CLIENTS_H_
