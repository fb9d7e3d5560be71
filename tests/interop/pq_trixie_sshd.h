// OpenSSH 10's sshd from the Debian trixie root (tests/harness/trixie_root.h)
// on a free loopback port: its own directory inside the root, an ed25519
// host key made by the root's ssh-keygen, one authorized key, LogLevel
// DEBUG1 (the log names the negotiated kex), run through chroot. Used by the
// post-quantum interop test and the kex benchmark.
#ifndef SALLYPORT_TESTS_INTEROP_PQ_TRIXIE_SSHD_H_
#define SALLYPORT_TESTS_INTEROP_PQ_TRIXIE_SSHD_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/trixie_root.h"

namespace sallyport::testing {

class TrixieSshd {
 public:
  // Starts sshd (as root, logins as root allowed by key only) and waits until
  // it accepts connections. `extra_config` lines are appended to
  // sshd_config (e.g. "KexAlgorithms curve25519-sha256"). On failure the
  // error carries sshd's log.
  static absl::StatusOr<std::unique_ptr<TrixieSshd>> Start(
      const TrixieRoot& root, const std::string& authorized_key_line,
      const std::vector<std::string>& extra_config = {});
  // Stops sshd; the directory goes with the TempDir.
  ~TrixieSshd();

  uint16_t port() const { return port_; }
  // The listener's pid (chroot execs sshd, so it is sshd's).
  pid_t pid() const { return process_->pid(); }
  // Our view of the host public key file ("ssh-ed25519 AAAA... comment").
  std::string host_public_key_path() const {
    return dir_.outside.File("ssh_host_key.pub");
  }
  // A known_hosts file for [127.0.0.1]:port, as the root's programs see it.
  std::string known_hosts_inside() const {
    return dir_.inside + "/known_hosts";
  }
  const TrixieRoot::Dir& dir() const { return dir_; }
  std::string Log() const {
    return ReadFileOrEmpty(dir_.outside.File("sshd.log"));
  }

 private:
  explicit TrixieSshd(TrixieRoot::Dir dir) : dir_(std::move(dir)) {}
  TrixieRoot::Dir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_INTEROP_PQ_TRIXIE_SSHD_H_
