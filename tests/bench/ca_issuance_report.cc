#include "tests/bench/ca_issuance_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ssh/crypto/keys.h"
#include "tests/bench/process_cpu.h"
#include "tests/harness/subprocess.h"

namespace sallyport::ca::bench {

std::string LoadAverage() {
  std::vector<std::string> f =
      absl::StrSplit(testing::ReadFileOrEmpty("/proc/loadavg"), ' ');
  return f.size() >= 3 ? absl::StrCat(f[0], " ", f[1], " ", f[2]) : "?";
}

double ReferenceSignMicros() {
  auto key = ssh::crypto::PrivateKey::GenerateEd25519();
  const std::vector<uint8_t> data(200, 0x5a);
  std::vector<double> runs;
  for (int r = 0; r < 5; ++r) {
    const double t0 = testing::ThreadCpuSeconds();
    for (int i = 0; i < 100; ++i) (void)key->Sign(data);
    runs.push_back((testing::ThreadCpuSeconds() - t0) * 1e6 / 100);
  }
  std::sort(runs.begin(), runs.end());
  return runs[2];
}

void PrintSyncFloor(const std::string& dir, int calls) {
  const std::string path = absl::StrCat(dir, "/sync-probe");
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
  if (fd < 0) return;
  const std::string page(4096, 'x');
  constexpr int kPages = 64;
  for (int i = 0; i < kPages; ++i) {
    (void)!pwrite(fd, page.data(), page.size(), i * 4096L);
  }
  (void)fsync(fd);
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
    const absl::Time start = absl::Now();
    if (pwrite(fd, page.data(), page.size(), (i % kPages) * 4096L) < 0 ||
        fdatasync(fd) != 0) {
      break;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  close(fd);
  unlink(path.c_str());
  if (ms.empty()) return;
  std::sort(ms.begin(), ms.end());
  printf(
      "reference backend=sqlite: fdatasync of a 4 KiB overwrite in %s: p50 "
      "%.2f ms, p99 %.2f ms (%zu calls; load %s): one sync per idle "
      "durable commit\n",
      dir.c_str(), ms[ms.size() / 2],
      ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], ms.size(),
      LoadAverage().c_str());
  fflush(stdout);
}

void PrintRate(const std::string& backend, const std::string& rpc, int n,
               const Result& r) {
  const auto rate_for = [](double us) { return 2e6 / std::max(1.0, us); };
  printf(
      "%-7s backend=%s clients=%d: %.0f certificates/s (%lld ok, %lld "
      "failed; load %s)\n"
      "        CPU per certificate: CA %.0f us, clients %.0f us => on 2 idle "
      "cores <= %.0f/s (CA alone), %.0f/s (CA + these clients); goal "
      ">= 5000 on SQLite\n"
      "        reference: one Ed25519 signature took %.1f us CPU just before "
      "(~50 idle); CA CPU per certificate = %.1f signatures\n",
      rpc.c_str(), backend.c_str(), n, r.rate, static_cast<long long>(r.ok),
      static_cast<long long>(r.failed), LoadAverage().c_str(), r.ca_cpu_us,
      r.client_cpu_us, rate_for(r.ca_cpu_us),
      rate_for(r.ca_cpu_us + r.client_cpu_us), r.sign_us,
      r.ca_cpu_us / std::max(0.1, r.sign_us));
  fflush(stdout);
}

void PrintPeak(const std::string& backend, const std::string& rpc, double peak,
               int clients, double idle_p99_ms) {
  const bool sqlite = backend == "sqlite";
  printf(
      "peak    backend=%s %s: %.0f certificates/s (clients=%d)%s; idle p99 "
      "%.2f ms (goal <= 5 ms: %s)\n",
      backend.c_str(), rpc.c_str(), peak, clients,
      sqlite
          ? (peak >= 5000 ? " (goal >= 5000: met)" : " (goal >= 5000: NOT met)")
          : "",
      idle_p99_ms, idle_p99_ms <= 5 ? "met" : "NOT met");
  fflush(stdout);
}

}  // namespace sallyport::ca::bench
