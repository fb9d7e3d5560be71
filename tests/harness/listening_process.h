// Starting the project's own daemons (example_server, sallyport-ca, ...)
// from a test: find the binary in the test's runfiles, start it, wait for
// the "listening on HOST:PORT" line it prints, and stop it at the end.
#ifndef SALLYPORT_TESTS_HARNESS_LISTENING_PROCESS_H_
#define SALLYPORT_TESTS_HARNESS_LISTENING_PROCESS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {

// Path of a file in the test's runfiles, given its workspace-relative path
// ("ssh/examples/example_server").
std::string RunfilePath(const std::string& workspace_relative);

class ListeningProcess {
 public:
  // Starts argv (argv[0] a path) with output to `log_path`, and waits until
  // the log contains "listening on HOST:PORT". On failure the error carries
  // the log.
  static absl::StatusOr<std::unique_ptr<ListeningProcess>> Start(
      const std::vector<std::string>& argv, const std::string& log_path,
      absl::Duration timeout = absl::Seconds(20));
  ~ListeningProcess();

  uint16_t port() const { return port_; }
  std::string Log() const { return ReadFileOrEmpty(log_path_); }
  bool Running() { return process_->Running(); }
  BackgroundProcess& process() { return *process_; }

 private:
  ListeningProcess() = default;
  std::unique_ptr<BackgroundProcess> process_;
  std::string log_path_;
  uint16_t port_ = 0;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_LISTENING_PROCESS_H_
