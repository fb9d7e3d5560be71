// A real sallyport-ca (SQLite) with its first admin logged in through the
// real `sp login`, and runners for `spctl` and `sp` against it: the
// fixture of the spctl end-to-end tests (issue 15).
#ifndef SALLYPORT_TESTS_E2E_SPCTL_E2E_UTIL_H_
#define SALLYPORT_TESTS_E2E_SPCTL_E2E_UTIL_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "tests/e2e/ca_e2e_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::e2e {

using sallyport::testing::RunResult;

class SpctlEnv {
 public:
  // The admin is the user running the tests (so sshd accepts its logins).
  // `store_url` empty: SQLite in the CA's state directory.
  // `ca_config_append`: see RunningCa::Start.
  static absl::StatusOr<std::unique_ptr<SpctlEnv>> Start(
      const std::string& store_url = "",
      const std::string& ca_config_append = "");

  RunningCa& ca() { return *ca_; }
  const std::string& admin() const { return admin_; }
  // $SALLYPORT_HOME of `who` ("admin" is the admin's).
  std::string Home(const std::string& who) const {
    return dir_.File("home-" + who);
  }
  // Writes `contents` to a file in the test's directory; returns its path.
  std::string WriteFile(const std::string& name, const std::string& contents);
  std::string Path(const std::string& name) const { return dir_.File(name); }

  // `spctl args...` as `who`, with `stdin_data` on its stdin.
  RunResult Spctl(const std::vector<std::string>& args,
                  const std::string& who = "admin",
                  const std::map<std::string, std::string>& env = {},
                  const std::string& stdin_data = "");
  // `sp login` as `user` with `password` into Home(user).
  RunResult Login(const std::string& user, const std::string& password,
                  const std::vector<std::string>& extra = {},
                  const std::map<std::string, std::string>& env = {});
  // `sp args...` with Home(who).
  RunResult Sp(const std::string& who, const std::vector<std::string>& args,
               const std::string& stdin_data = "",
               const std::map<std::string, std::string>& env = {});
  // Home(user)/user-cert.pub and the key beside it.
  std::string CertPath(const std::string& user) const {
    return Home(user) + "/" + user + "-cert.pub";
  }
  std::string KeyPath(const std::string& user) const {
    return Home(user) + "/" + user;
  }

  // A TLS channel to the CA (its certificate as pinned by the admin's
  // `sp login`), presenting `key_pem` + `cert_pem` when given (mutual TLS).
  std::shared_ptr<grpc::Channel> CaChannel(const std::string& key_pem = "",
                                           const std::string& cert_pem = "");
  // Enrols a gateway named `name` with a join token through the real
  // Gateway.EnrollGateway and returns a mutual-TLS channel with the
  // gateway's identity, or the RPC's error.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> EnrollGateway(
      const std::string& token, const std::string& name);

 private:
  explicit SpctlEnv(sallyport::testing::TempDir dir) : dir_(std::move(dir)) {}
  sallyport::testing::TempDir dir_;
  std::unique_ptr<RunningCa> ca_;
  std::string admin_;
};

// A test with a fresh SpctlEnv and a password file (kPassword) for the
// users it adds; prints the CA's log when the test failed.
class SpctlTestBase : public ::testing::Test {
 protected:
  static constexpr char kPassword[] = "correct horse battery";
  void SetUp() override;
  void TearDown() override;
  // `spctl users add USER --password-file ... --role ROLE`, asserting success.
  void AddUser(const std::string& user, const std::string& role);

  std::unique_ptr<SpctlEnv> env_;
  std::string pwfile_;
  // Set before SetUp: added to the CA's config (RunningCa::Start).
  std::string ca_config_append_;
  // The CA's store for SetUp (empty: SQLite).
  std::string store_url_;
};

// True when `text` parses as JSON (python3's json module, a real parser).
bool IsJson(const std::string& text);

}  // namespace sallyport::e2e

#endif  // SALLYPORT_TESTS_E2E_SPCTL_E2E_UTIL_H_
