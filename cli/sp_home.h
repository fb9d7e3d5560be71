// The files `sp` keeps under $SALLYPORT_HOME (default ~/.sallyport, mode
// 0700):
//   ca.pem           the pinned TLS certificate of the CA
//   state            "ca=HOST:PORT" and "user=NAME" lines
//   NAME, NAME.pub   the SSH key pair (openssh-key-v1, 0600)
//   NAME-cert.pub    the user certificate from the CA
//   tls.key, tls.crt the TLS client key (0600) and certificate for the CA
//   known_hosts      @cert-authority lines for the host CA
//   revoked_host_keys an OpenSSH KRL of the CA's revocations, for the
//                    RevokedHostKeys of the Host blocks in ssh_config
//   user_ca.pub      the user CA keys of the last login
//   ssh_config       a fragment to Include from ~/.ssh/config
#ifndef SALLYPORT_CLI_SP_HOME_H_
#define SALLYPORT_CLI_SP_HOME_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/files.h"

namespace sallyport::cli {

struct SpState {
  std::string ca;    // HOST:PORT of the CA
  std::string user;  // the user of the last login (kept after logout)
};

class SpHome {
 public:
  // $SALLYPORT_HOME, else $HOME/.sallyport. kFailedPrecondition when
  // neither variable is set.
  static absl::StatusOr<SpHome> FromEnvironment();
  explicit SpHome(std::string dir) : dir_(std::move(dir)) {}

  // Creates the directory (0700) when missing.
  absl::Status Ensure() const;

  const std::string& dir() const { return dir_; }
  std::string Path(std::string_view name) const;
  std::string ca_pem() const { return Path("ca.pem"); }
  std::string state() const { return Path("state"); }
  std::string key(std::string_view user) const { return Path(user); }
  std::string public_key(std::string_view user) const;
  std::string certificate(std::string_view user) const;
  std::string tls_key() const { return Path("tls.key"); }
  std::string tls_cert() const { return Path("tls.crt"); }
  std::string known_hosts() const { return Path("known_hosts"); }
  std::string revoked_host_keys() const { return Path("revoked_host_keys"); }
  // The user CA keys of the last login (to find our certificates in the
  // agent at the next login or logout).
  std::string user_ca() const { return Path("user_ca.pub"); }
  std::string ssh_config() const { return Path("ssh_config"); }

  // Missing file → empty state.
  absl::StatusOr<SpState> ReadState() const;
  absl::Status WriteState(const SpState& state) const;

 private:
  std::string dir_;
};

// Reads a whole regular file: kNotFound when it does not exist, and
// errors that name the file and say why (//base:files).
using base::ReadTextFile;
// Writes a file atomically (moved to //base:files).
using base::WriteFileAtomic;
// Removes a file; a missing file is not an error.
absl::Status RemoveFile(const std::string& path);

// OK when `home`'s directory can be written into an ssh_config as it is
// (the Include line, IdentityFile, CertificateFile, UserKnownHostsFile):
// an absolute path of only [A-Za-z0-9/._@+,-]. Anything else (a space, a
// quote, '%', '*' or '$', which ssh takes as separators, tokens, globs or
// variables) is kInvalidArgument naming the path, escaped, and the first
// such character, and saying to set SALLYPORT_HOME.
absl::Status CheckHomeForSsh(const SpHome& home);

// A user name we can use as a file name: non-empty, at most 64 bytes, only
// [A-Za-z0-9._@-], not starting with '.' or '-'. kInvalidArgument.
absl::Status CheckUserNameForFiles(std::string_view user);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SP_HOME_H_
