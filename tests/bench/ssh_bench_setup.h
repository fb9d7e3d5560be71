// What the ssh_* and gateway benches share: what they set up the same way: a
// user key allowed to log in and a host key, example_server with them, and the
// harness's sshd accepting the same user key (with its listener's pid, to
// measure it).
#ifndef SALLYPORT_TESTS_BENCH_SSH_BENCH_SETUP_H_
#define SALLYPORT_TESTS_BENCH_SSH_BENCH_SETUP_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
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

// Starts a gateway process (argv[0] a path; argv makes it listen on
// 127.0.0.1:`port`) with output to `log_path`, and waits up to 60 s for
// the port to accept. Fails with its log when it does not.
absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartGatewayProcess(
    const std::vector<std::string>& argv, const std::string& log_path,
    uint16_t port);

// ---- Timing ssh command lines (gateway_bench, proxyjump_bench)

// One way to reach the target.
struct Path {
  std::string name;
  // The whole ssh command line that runs `command` on the target.
  std::function<std::vector<std::string>(const std::string&)> argv;
  // The middle box whose CPU is reported (0: none) and whether its reaped
  // children count (sshd).
  pid_t middle = 0;
};

// What Pull and Connects measured for a Path.
struct PathResult {
  double mb_per_s = 0;
  double middle_core_s_per_gb = -1;
  // During the pull, averaged over its wall time: the middle box's threads
  // on a CPU, and waiting for one (ProcessRunQueueWaitSeconds). A single
  // busy thread near 1 in all is the pipeline's critical path. -1 for a
  // middle box whose work ran in child processes it reaped (sshd).
  double middle_on_cpu = -1;
  double middle_waiting = -1;
  double connect_ms = 0;
  double middle_cpu_ms_per_session = -1;
  // Idle CPU rate of the middle box, and the per-session CPU without it.
  double middle_idle_ms_per_s = -1;
  double middle_net_ms_per_session = -1;
  bool pulled = false;
  bool connected = false;
};

// Runs `head -c BYTES /dev/zero` on the target through `path` (output to
// /dev/null): MB/s, and the middle box's core-s per GB.
void Pull(const Path& path, uint64_t bytes, PathResult* out);

// The middle box's CPU while nothing goes through it (timers, the CA
// client's threads), in ms per second over 10 s; -1 without a middle box.
double IdleCpuMsPerSecond(pid_t middle);

// `n` sequential `... true` through `path`: the median ms per connection,
// the middle box's CPU ms per session (also net of its idle rate,
// measured first).
void Connects(const Path& path, int n, PathResult* out);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_BENCH_SSH_BENCH_SETUP_H_
