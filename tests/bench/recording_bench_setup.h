// The deployment and the measuring aids of //tests/bench:recording_bench
// (issue 14; see recording_bench.cc for what is measured): the gateways
// under test (recording on, off, and an optional other build "on B"), the
// spool file watch, the spool writer alone, and `perf record` around rows.
#ifndef SALLYPORT_TESTS_BENCH_RECORDING_BENCH_SETUP_H_
#define SALLYPORT_TESTS_BENCH_RECORDING_BENCH_SETUP_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing::recbench {

inline constexpr char kCipher[] = "aes128-gcm@openssh.com";
inline constexpr char kUser[] = "olivia";

std::string Uptime();
// /proc/loadavg's 1 and 5 minute figures.
std::string LoadAverage();
// User + system CPU of this process, and of its reaped children (the ssh
// clients, `wc`), in seconds.
double SelfCpuSeconds();
double ChildrenCpuSeconds();

// Watches the one spool file a recorded session makes: keeps it open (so
// its final size is known after the shipper deleted it) and notes when it
// is gone.
class SpoolWatch {
 public:
  explicit SpoolWatch(std::string dir);
  ~SpoolWatch();
  // Waits (up to `timeout`) until the spool file was seen and deleted;
  // returns when it was deleted, or nullopt.
  std::optional<absl::Time> WaitShipped(absl::Duration timeout);
  uint64_t Bytes();

 private:
  void Run();
  const std::string dir_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::optional<absl::Time> shipped_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The spool writer alone (audit::SpoolRecorder in this process, one
// session, 32 KiB data records, at most a 2 MiB window unwritten as the
// gateway keeps it): prints its write rate and CPU per GB.
void SpoolOnly(const std::string& dir, uint64_t total);

// SHA-256 alone (audit::StreamHasher, in 32 KiB updates as the gateway
// hashes a stream's SSH data messages; this thread, hot in cache): prints
// its rate and CPU per GB, the least that recording adds to the gateway's
// CPU per GB of exec output past record_exec_output_limit (every byte of
// it is hashed on the session's I/O thread).
void HashOnly(uint64_t total);

// A gateway under test: recording off, on, or on with --gateway-b.
struct Variant {
  std::string name;
  uint16_t port = 0;
  pid_t pid = 0;
  std::string spool_dir;  // empty: recording off
};

// BastionFixture (real CA, `sp login`, sshd targets) with the real
// `sallyport-gateway serve` (recording on: spool recorder and shipper),
// this binary's --serve-null on the same gateway.yaml (recording off), and
// per binary in `gateway_b` that build of the gateway on a copy of the
// config with its own spool_dir ("on B", "on C", ...).
struct Deployment {
  std::unique_ptr<BastionFixture> fixture;
  std::unique_ptr<BackgroundProcess> off;
  std::vector<std::unique_ptr<BackgroundProcess>> gateway_b;
  std::vector<Variant> variants;  // off, on[, on B, on C, ...]
  ~Deployment();
};
absl::StatusOr<std::unique_ptr<Deployment>> StartDeployment(
    const std::vector<std::string>& gateway_b);

// `perf record -e cpu-clock -g -p PID -o DIR/NAME.perf` while it lives
// (nothing when `dir` is empty); stopped with SIGINT so perf writes its
// file.
class PerfRecord {
 public:
  PerfRecord(const std::string& dir, pid_t pid, const std::string& name);
  ~PerfRecord();

 private:
  std::unique_ptr<BackgroundProcess> perf_;
};

}  // namespace sallyport::testing::recbench

#endif  // SALLYPORT_TESTS_BENCH_RECORDING_BENCH_SETUP_H_
