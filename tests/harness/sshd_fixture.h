// SshdFixture runs the machine's real OpenSSH sshd on a free loopback port,
// with its own directory, host key, sshd_config and log file.
#ifndef SALLYPORT_TESTS_HARNESS_SSHD_FIXTURE_H_
#define SALLYPORT_TESTS_HARNESS_SSHD_FIXTURE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

class SshdFixture {
 public:
  struct Options {
    // sshd_config options; they replace the fixture's defaults of the same
    // name (e.g. "TrustedUserCAKeys", "AuthorizedPrincipalsFile",
    // "Ciphers", "LogLevel"). Values may mention "%DIR%", replaced by dir().
    std::map<std::string, std::string> config;
    // Lines appended verbatim at the end (e.g. a "Match" block).
    std::vector<std::string> extra_lines;
    // Host key type for ssh-keygen -t ("ed25519", "ecdsa", "rsa").
    std::string host_key_type = "ed25519";
  };

  // Starts sshd and waits until it accepts connections. On failure the
  // error carries sshd's log.
  static absl::StatusOr<std::unique_ptr<SshdFixture>> Start(Options options);
  static absl::StatusOr<std::unique_ptr<SshdFixture>> Start() {
    return Start(Options());
  }
  // Stops sshd and deletes its directory. If the current GoogleTest test
  // has failed, prints sshd's log first.
  ~SshdFixture();

  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  std::string host_key_path() const { return dir_.File("ssh_host_key"); }
  // The host public key line ("ssh-ed25519 AAAA... comment").
  const std::string& host_public_key() const { return host_public_key_; }
  // A known_hosts file pinning this sshd's host key for [127.0.0.1]:port.
  std::string known_hosts_path() const { return dir_.File("known_hosts"); }
  std::string log_path() const { return dir_.File("sshd.log"); }
  std::string Log() const { return ReadFileOrEmpty(log_path()); }
  // Where authorized keys are read from ("%DIR%/authorized_keys" unless the
  // options changed AuthorizedKeysFile).
  std::string authorized_keys_path() const {
    return dir_.File("authorized_keys");
  }
  bool Running() { return process_ && process_->Running(); }

 private:
  SshdFixture(TempDir dir) : dir_(std::move(dir)) {}
  TempDir dir_;
  uint16_t port_ = 0;
  std::string host_public_key_;
  std::unique_ptr<BackgroundProcess> process_;
};

// ssh client arguments for talking to 127.0.0.1:port with no user config:
// "-F /dev/null", batch mode, the given known_hosts and identity, only that
// identity. Append "user@127.0.0.1" (or "-l user 127.0.0.1") and a command.
std::vector<std::string> SshClientArgs(uint16_t port,
                                       const std::string& known_hosts,
                                       const std::string& identity,
                                       const std::string& certificate = "");

struct KeyPair {
  std::string private_path;
  std::string public_path;  // private_path + ".pub"
  std::string public_line;  // contents of the .pub file, trimmed
};

// Runs `ssh-keygen -t type -N "" -f dir/name`.
absl::StatusOr<KeyPair> GenerateKey(const std::string& dir,
                                    const std::string& name,
                                    const std::string& type = "ed25519");

// Runs `ssh-keygen -s ca -I key_id -n principals -V validity [-h] pub` and
// returns the certificate path (pub without ".pub" + "-cert.pub").
absl::StatusOr<std::string> SignWithSshKeygen(
    const std::string& ca_private_path, const std::string& public_path,
    const std::string& key_id, const std::string& principals,
    const std::string& validity = "-5m:+1h", bool host = false,
    const std::vector<std::string>& extra_args = {});

// The name of the user running the tests (the login user for sshd).
std::string CurrentUserName();

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_SSHD_FIXTURE_H_
