// What the ssh_* benches set up the same way: a user key allowed to log
// in and a host key, example_server with them, and the harness's sshd
// accepting the same user key (with its listener's pid, to measure it).
#ifndef SALLYPORT_TESTS_BENCH_SSH_BENCH_SETUP_H_
#define SALLYPORT_TESTS_BENCH_SSH_BENCH_SETUP_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

struct BenchKeys {
  KeyPair user;
  KeyPair host;
  std::string authorized_keys;  // path: the user's public key
};

// Generates both keys in `dir` (ssh-keygen) and the authorized_keys file.
absl::StatusOr<BenchKeys> MakeBenchKeys(const TempDir& dir);

// example_server on a free loopback port with the host key, accepting the
// user key; `extra` flags appended. Logs to dir/server.log.
absl::StatusOr<std::unique_ptr<ListeningProcess>> StartExampleServer(
    const TempDir& dir, const BenchKeys& keys,
    const std::vector<std::string>& extra = {});

struct BenchSshd {
  std::unique_ptr<SshdFixture> sshd;
  pid_t pid = 0;  // the listener (from sshd.pid)
};

// The harness's sshd with `options`, accepting the user key.
absl::StatusOr<BenchSshd> StartBenchSshd(const SshdFixture::Options& options,
                                         const BenchKeys& keys);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_BENCH_SSH_BENCH_SETUP_H_
