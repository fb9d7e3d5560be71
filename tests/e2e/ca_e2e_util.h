// Helpers for end-to-end tests of sallyport-ca and sp: run the real
// binaries from the runfiles, `init` a CA, `serve` it, and call `sp`.
#ifndef SALLYPORT_TESTS_E2E_CA_E2E_UTIL_H_
#define SALLYPORT_TESTS_E2E_CA_E2E_UTIL_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::e2e {

// A CA initialised by `sallyport-ca init` and served by `sallyport-ca
// serve` on a free loopback port.
class RunningCa {
 public:
  // `store_url` empty: SQLite in the state directory. `admin` is the first
  // admin's name. `config_append` is added to ca.yaml before `serve`
  // (e.g. "gateway:\n  ssh_addresses: [...]\n").
  static absl::StatusOr<std::unique_ptr<RunningCa>> Start(
      const std::string& admin, const std::string& store_url = "",
      const std::vector<std::string>& extra_init_args = {},
      const std::string& config_append = "");

  const std::string& state_dir() const { return state_dir_; }
  std::string config_path() const { return state_dir_ + "/ca.yaml"; }
  std::string user_ca_pub() const { return state_dir_ + "/user_ca.pub"; }
  const std::string& password() const { return password_; }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& store_url() const { return store_url_; }
  std::string address() const;
  const std::string& init_output() const { return init_output_; }
  std::string Log() const { return server_ ? server_->Log() : ""; }
  // Sends SIGTERM and waits; returns the wait status.
  int Stop();
  // The `serve` process (e.g. to signal it or read /proc/PID).
  sallyport::testing::BackgroundProcess& process() {
    return server_->process();
  }

 private:
  RunningCa(sallyport::testing::TempDir dir) : dir_(std::move(dir)) {}
  sallyport::testing::TempDir dir_;
  std::string state_dir_;
  std::string password_;
  std::string fingerprint_;
  std::string store_url_;
  std::string init_output_;
  std::unique_ptr<sallyport::testing::ListeningProcess> server_;
};

// Runs `sp args...` with SALLYPORT_HOME=home and `stdin_data`, in a new
// session without a controlling terminal (so prompts fail instead of
// waiting), plus `env`.
absl::StatusOr<sallyport::testing::RunResult> RunSp(
    const std::string& home, const std::vector<std::string>& args,
    const std::string& stdin_data = "",
    const std::map<std::string, std::string>& env = {});

}  // namespace sallyport::e2e

#endif  // SALLYPORT_TESTS_E2E_CA_E2E_UTIL_H_
