#include "tests/bench/ssh_bench_setup.h"

#include <algorithm>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "tests/bench/process_cpu.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
absl::StatusOr<BenchKeys> MakeBenchKeys(const TempDir& dir) {
  BenchKeys keys;
  ASSIGN_OR_RETURN(keys.user, GenerateKey(dir.path(), "user_key"));
  ASSIGN_OR_RETURN(keys.host, GenerateKey(dir.path(), "host_key"));
  keys.authorized_keys = dir.File("authorized_keys");
  RETURN_IF_ERROR(
      WriteFile(keys.authorized_keys, keys.user.public_line + "\n"));
  return keys;
}

absl::StatusOr<std::unique_ptr<ListeningProcess>> StartExampleServer(
    const TempDir& dir, const BenchKeys& keys,
    const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {RunfilePath("ssh/examples/example_server"),
                                   "--listen",
                                   "127.0.0.1:0",
                                   "--host-key",
                                   keys.host.private_path,
                                   "--authorized-keys",
                                   keys.authorized_keys};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return ListeningProcess::Start(argv, dir.File("server.log"));
}

absl::StatusOr<BenchSshd> StartBenchSshd(const SshdFixture::Options& options,
                                         const BenchKeys& keys) {
  BenchSshd result;
  ASSIGN_OR_RETURN(result.sshd, SshdFixture::Start(options));
  RETURN_IF_ERROR(WriteFile(result.sshd->authorized_keys_path(),
                            keys.user.public_line + "\n"));
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(
                            ReadFileOrEmpty(result.sshd->dir() + "/sshd.pid")),
                        &pid)) {
    return absl::InternalError("sshd wrote no sshd.pid");
  }
  result.pid = pid;
  return result;
}

absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartGatewayProcess(
    const std::vector<std::string>& argv, const std::string& log_path,
    uint16_t port) {
  BackgroundProcess::Options po;
  po.log_path = log_path;
  ASSIGN_OR_RETURN(std::unique_ptr<BackgroundProcess> proc,
                   BackgroundProcess::Start(argv, po));
  if (absl::Status st =
          WaitForTcpListener("127.0.0.1", port, absl::Seconds(60));
      !st.ok()) {
    return absl::UnavailableError(
        absl::StrCat(st.message(), "\n", ReadFileOrEmpty(log_path)));
  }
  return proc;
}

void Pull(const Path& path, uint64_t bytes, PathResult* out) {
  const std::vector<std::string> argv =
      path.argv(absl::StrCat("head -c ", bytes, " /dev/zero"));
  const double cpu_before =
      path.middle != 0 ? ProcessTreeCpuSeconds(path.middle) : 0;
  const double wait_before =
      path.middle != 0 ? ProcessRunQueueWaitSeconds(path.middle) : 0;
  const double reaped_before =
      path.middle != 0 ? ReapedChildrenCpuSeconds(path.middle) : 0;
  const absl::Time start = absl::Now();
  RunOptions run;
  run.timeout = absl::Minutes(20);
  absl::StatusOr<RunResult> r =
      RunCommand({"/bin/sh", "-c", ShellJoin(argv) + " > /dev/null"}, run);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // Before WaitForNoChildren: the pull's own wall time.
  const double cpu_after =
      path.middle != 0 ? ProcessTreeCpuSeconds(path.middle) : 0;
  const double wait_after =
      path.middle != 0 ? ProcessRunQueueWaitSeconds(path.middle) : 0;
  if (!r.ok() || !r->ok()) {
    std::cerr << path.name << ": pull failed: "
              << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
    return;
  }
  out->pulled = true;
  out->mb_per_s = static_cast<double>(bytes) / seconds / 1e6;
  if (path.middle != 0) {
    WaitForNoChildren(path.middle);
    out->middle_core_s_per_gb =
        (ProcessTreeCpuSeconds(path.middle) - cpu_before) /
        (static_cast<double>(bytes) / 1e9);
    // Only for a middle box that does the work in its own threads (the
    // gateway): a forking server's (sshd's) per-connection processes are
    // not among them, and their waits are gone once they are reaped.
    const bool forked = ReapedChildrenCpuSeconds(path.middle) > reaped_before;
    if (!forked && cpu_before >= 0 && wait_before >= 0 && wait_after >= 0) {
      out->middle_on_cpu = (cpu_after - cpu_before) / seconds;
      out->middle_waiting = (wait_after - wait_before) / seconds;
    }
  }
}

// The middle box's CPU while nothing goes through it (timers, the CA
// client's threads), in ms per second: on a loaded machine a connection
// takes seconds, so this is charged to every session too. Printed beside
// the per-session figure, which is also shown net of it.
double IdleCpuMsPerSecond(pid_t middle) {
  if (middle == 0) return -1;
  const double before = ProcessTreeCpuSeconds(middle);
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Seconds(10));
  return (ProcessTreeCpuSeconds(middle) - before) * 1000.0 /
         absl::ToDoubleSeconds(absl::Now() - start);
}

void Connects(const Path& path, int n, PathResult* out) {
  const std::vector<std::string> argv = path.argv("true");
  out->middle_idle_ms_per_s = IdleCpuMsPerSecond(path.middle);
  const absl::Time loop_start = absl::Now();
  const double cpu_before =
      path.middle != 0 ? ProcessTreeCpuSeconds(path.middle) : 0;
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<RunResult> r = RunCommand(argv);
    if (!r.ok() || !r->ok()) {
      std::cerr << path.name << ": connect " << i << " failed: "
                << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
      return;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  out->connected = true;
  out->connect_ms = ms[ms.size() / 2];
  if (path.middle != 0) {
    WaitForNoChildren(path.middle);
    const double cpu_ms =
        (ProcessTreeCpuSeconds(path.middle) - cpu_before) * 1000.0;
    out->middle_cpu_ms_per_session = cpu_ms / n;
    const double idle_ms = std::max(out->middle_idle_ms_per_s, 0.0) *
                           absl::ToDoubleSeconds(absl::Now() - loop_start);
    out->middle_net_ms_per_session = std::max(cpu_ms - idle_ms, 0.0) / n;
  }
}

}  // namespace sallyport::testing
