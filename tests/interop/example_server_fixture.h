// A test base for interop tests against example_server: a temporary
// directory, a host key, a user key listed in --authorized-keys, the
// server on a free loopback port, and helpers to run the machine's real
// `ssh` (and scp, sftp, rsync through shell command lines) against it.
#ifndef SALLYPORT_TESTS_INTEROP_EXAMPLE_SERVER_FIXTURE_H_
#define SALLYPORT_TESTS_INTEROP_EXAMPLE_SERVER_FIXTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

// SHA-256 of a file as sha256sum prints it (hex), or "" on error.
std::string Sha256OfFile(const std::string& path);
// Writes `size` random bytes to `path` (head -c SIZE /dev/urandom).
void MakeRandomFile(const std::string& path, const std::string& size);
void ExpectContains(const std::string& haystack, const std::string& needle);

class ExampleServerTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Starts example_server with --authorized-keys (the user key) and
  // `extra` flags.
  void StartServer(const std::vector<std::string>& extra = {});

  // `ssh` options for 127.0.0.1:port (no destination, no command); the
  // identity defaults to the authorized user key.
  std::vector<std::string> SshArgs(const std::string& identity = "",
                                   const std::string& certificate = "") const;
  // "login@127.0.0.1".
  std::string Destination() const { return login_ + "@127.0.0.1"; }
  // Runs ssh [extra options] login@127.0.0.1 command.
  RunResult Ssh(const std::string& command,
                const std::vector<std::string>& options = {},
                const RunOptions& run = {}) const;
  // Runs /bin/sh -c script (for pipelines and redirections).
  RunResult Shell(const std::string& script,
                  absl::Duration timeout = absl::Seconds(120)) const;
  // Waits until the server's log contains `text`.
  bool WaitForLog(const std::string& text,
                  absl::Duration timeout = absl::Seconds(10)) const;
  std::string ServerLog() const { return server_ ? server_->Log() : ""; }

  std::unique_ptr<TempDir> dir_;
  KeyPair host_, user_;
  std::string login_;
  std::unique_ptr<ListeningProcess> server_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_INTEROP_EXAMPLE_SERVER_FIXTURE_H_
