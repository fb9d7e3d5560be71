// Recorded ProxyJump benchmark (issue 13) on a real deployment from
// BastionFixture (real CA, `sp login` certificates, sshd targets with host
// certificates, the real `sallyport-gateway` binary), over loopback with
// aes128-gcm, three paths:
//
//   direct              ssh web01 CMD
//   gateway LOGIN+HOST  ssh -l LOGIN+web01 gateway CMD
//   recorded ProxyJump  ssh -J gateway web01 CMD   (the gateway terminates
//                       the inner connection: user alice has no
//                       proxyjump-passthrough)
//
// Per path: the median of --connects sequential `ssh ... true` (ms), MB/s
// pulling --bytes (`head -c N /dev/zero` on the target, to /dev/null here),
// the gateway's CPU (core-s per GB, ms per session, also net of its idle
// rate) and the 1-minute load average when the row finished (on a shared
// machine the CPU figures are the ones to trust). The paths take turns
// (--rounds): each round runs every path's share of the connects, so a
// change in the machine's load falls on all of them alike. Goal: recorded
// ProxyJump within 10 % of LOGIN+HOST on connect time and throughput. A
// benchmark: it prints and asserts nothing. Pull, Connects: ssh_bench_setup.
//
//   bazel run --config=opt //tests/bench:proxyjump_bench --
//       [--bytes=2147483648] [--connects=200] [--rounds=4]
//       [--gateway=/abs/path/sallyport-gateway]
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "tests/bench/ssh_bench_setup.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

constexpr char kCipher[] = "aes128-gcm@openssh.com";
constexpr char kUser[] = "alice";  // role dev: no proxyjump-passthrough

std::string Num(double v, int digits) {
  return v < 0 ? std::string("-") : absl::StrFormat("%.*f", digits, v);
}

// The 1-minute load average.
std::string LoadAverage() {
  std::string s = ReadFileOrEmpty("/proc/loadavg");
  return s.substr(0, s.find(' '));
}

// Accumulates the rounds of one path: connect times pooled for the median,
// CPU summed.
struct Totals {
  std::vector<double> connect_ms;  // per-round medians, weighted by count
  double cpu_ms = 0, net_cpu_ms = 0;
  int sessions = 0;
  bool failed = false;
};

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  int connects = 200;
  int rounds = 4;
  std::string gateway = RunfilePath("gateway/sallyport-gateway");
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &bytes);
    } else if (absl::ConsumePrefix(&a, "--connects=")) {
      (void)absl::SimpleAtoi(a, &connects);
    } else if (absl::ConsumePrefix(&a, "--rounds=")) {
      (void)absl::SimpleAtoi(a, &rounds);
    } else if (absl::ConsumePrefix(&a, "--gateway=")) {
      gateway = std::string(a);
    } else {
      std::cerr << "usage: proxyjump_bench [--bytes=N] [--connects=N] "
                   "[--rounds=N] [--gateway=BINARY]\n";
      return 2;
    }
  }
  if (connects < 0 || rounds < 1) {
    std::cerr << "proxyjump_bench: --connects >= 0, --rounds >= 1\n";
    return 2;
  }
  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.sshd_config["Ciphers"] = kCipher;
  options.sshd_config["LogLevel"] = "ERROR";
  options.sshd_config["SetEnv"] = "SHLVL=1";
  absl::StatusOr<std::unique_ptr<BastionFixture>> f =
      BastionFixture::Start(options);
  if (!f.ok()) {
    std::cerr << "fixture: " << f.status() << "\n";
    return 1;
  }
  BastionFixture& fx = **f;
  if (absl::Status st = fx.StartGateway(gateway); !st.ok()) {
    std::cerr << "gateway: " << st << "\n";
    return 1;
  }
  const pid_t gw = fx.gateway_process()->pid();
  const BastionFixture::User* user = *fx.user(kUser);
  const std::vector<std::string> ssh = {"ssh", "-F", user->ssh_config, "-c",
                                        kCipher};
  auto path = [&ssh](std::string name, std::vector<std::string> target,
                     pid_t middle) {
    Path p;
    p.name = std::move(name);
    p.middle = middle;
    p.argv = [ssh, target](const std::string& command) {
      std::vector<std::string> v = ssh;
      v.insert(v.end(), target.begin(), target.end());
      v.push_back(command);
      return v;
    };
    return p;
  };
  const std::vector<Path> paths = {
      path("direct", {"web01"}, 0),
      path("gateway LOGIN+HOST",
           {"-l", fx.target_login() + "+web01", "gateway"}, gw),
      // The inner connection names the inventory host, not 127.0.0.1.
      path("recorded ProxyJump",
           {"-J", "gateway", "-o", "HostName=web01", "web01"}, gw),
  };
  std::cout << absl::StrFormat(
      "proxyjump_bench: %s, user %s, %d sequential connects per path in %d "
      "alternating rounds, pulling %d MiB per path; load at start %s\n",
      kCipher, kUser, connects, rounds, bytes >> 20, LoadAverage());

  // Connects, in rounds that alternate the paths.
  std::vector<Totals> totals(paths.size());
  std::vector<std::string> connect_load(paths.size());
  for (int round = 0; round < rounds && connects > 0; ++round) {
    const int n = connects / rounds + (round < connects % rounds ? 1 : 0);
    if (n == 0) continue;
    for (size_t i = 0; i < paths.size(); ++i) {
      PathResult r;
      Connects(paths[i], n, &r);
      if (!r.connected) {
        totals[i].failed = true;
        continue;
      }
      for (int k = 0; k < n; ++k) totals[i].connect_ms.push_back(r.connect_ms);
      if (paths[i].middle != 0) {
        totals[i].cpu_ms += r.middle_cpu_ms_per_session * n;
        totals[i].net_cpu_ms += r.middle_net_ms_per_session * n;
      }
      totals[i].sessions += n;
      connect_load[i] = LoadAverage();
      std::cout << absl::StrFormat(
                       "  round %d %-20s median %8.1f ms (n=%d, load %s)\n",
                       round + 1, paths[i].name, r.connect_ms, n,
                       connect_load[i])
                << std::flush;
    }
  }
  // Bulk, one pull per path.
  std::vector<PathResult> pulls(paths.size());
  std::vector<std::string> pull_load(paths.size());
  for (size_t i = 0; i < paths.size() && bytes > 0; ++i) {
    Pull(paths[i], bytes, &pulls[i]);
    pull_load[i] = LoadAverage();
    std::cout << absl::StrFormat("  pull %-20s %8s MB/s (load %s)\n",
                                 paths[i].name, Num(pulls[i].mb_per_s, 1),
                                 pull_load[i])
              << std::flush;
  }

  std::cout << absl::StrFormat("%-20s %11s %14s %14s %9s %12s %6s %6s\n",
                               "path", "connect ms", "gw CPU ms/ses",
                               "net of idle", "MB/s", "gw core-s/GB", "load-c",
                               "load-p");
  std::vector<double> medians(paths.size(), -1);
  for (size_t i = 0; i < paths.size(); ++i) {
    Totals& t = totals[i];
    if (!t.failed && !t.connect_ms.empty()) {
      std::sort(t.connect_ms.begin(), t.connect_ms.end());
      medians[i] = t.connect_ms[t.connect_ms.size() / 2];
    }
    const bool middle = paths[i].middle != 0 && t.sessions > 0;
    std::cout << absl::StrFormat(
        "%-20s %11s %14s %14s %9s %12s %6s %6s\n", paths[i].name,
        Num(medians[i], 1), Num(middle ? t.cpu_ms / t.sessions : -1, 2),
        Num(middle ? t.net_cpu_ms / t.sessions : -1, 2),
        Num(pulls[i].pulled ? pulls[i].mb_per_s : -1, 1),
        Num(pulls[i].pulled ? pulls[i].middle_core_s_per_gb : -1, 3),
        connect_load[i].empty() ? "-" : connect_load[i],
        pull_load[i].empty() ? "-" : pull_load[i]);
  }
  if (medians[1] > 0 && medians[2] > 0) {
    std::cout << absl::StrFormat(
        "recorded ProxyJump / LOGIN+HOST: connect %.3f (goal <= 1.10)",
        medians[2] / medians[1]);
  }
  if (pulls[1].pulled && pulls[2].pulled) {
    std::cout << absl::StrFormat(", throughput %.3f (goal >= 0.90)",
                                 pulls[2].mb_per_s / pulls[1].mb_per_s);
  }
  std::cout << "\n";
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) { return sallyport::testing::Main(argc, argv); }
