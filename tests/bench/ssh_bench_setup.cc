#include "tests/bench/ssh_bench_setup.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "base/status_macros.h"
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

}  // namespace sallyport::testing
