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
// pulling --bytes (`head -c N /dev/zero` on the target, to /dev/null here)
// for the two gateway paths, and the gateway's CPU (core-s per GB, ms per
// connect). Goal: recorded ProxyJump within 10 % of LOGIN+HOST on connect
// time and throughput. A benchmark: it prints and asserts nothing.
//
//   bazel run --config=opt //tests/bench:proxyjump_bench --
//       --gateway=$PWD/bazel-bin/gateway/sallyport-gateway
//       [--bytes=2147483648] [--connects=200]
#include <algorithm>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/bench/process_cpu.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

constexpr char kCipher[] = "aes128-gcm@openssh.com";
constexpr char kUser[] = "alice";  // role dev: no proxyjump-passthrough

struct Row {
  std::string name;
  std::vector<std::string> prefix;  // ssh ... up to the command
  bool through_gateway = true;
  double connect_ms = -1, connect_cpu_ms = -1;
  double mb_per_s = -1, core_s_per_gb = -1;
};

std::string Quoted(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (const std::string& a : argv) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out.push_back(q + "'");
  }
  return absl::StrJoin(out, " ");
}

void Connects(Row& row, int n, pid_t gateway) {
  std::vector<std::string> argv = row.prefix;
  argv.push_back("true");
  const double cpu0 = row.through_gateway ? ProcessTreeCpuSeconds(gateway) : 0;
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    absl::StatusOr<RunResult> r = RunCommand(argv);
    if (!r.ok() || !r->ok()) {
      std::cerr << row.name << ": connect " << i << " failed: "
                << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
      return;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  std::sort(ms.begin(), ms.end());
  row.connect_ms = ms[ms.size() / 2];
  if (row.through_gateway) {
    row.connect_cpu_ms = (ProcessTreeCpuSeconds(gateway) - cpu0) * 1000.0 / n;
  }
}

void Pull(Row& row, uint64_t bytes, pid_t gateway) {
  std::vector<std::string> argv = row.prefix;
  argv.push_back(absl::StrCat("head -c ", bytes, " /dev/zero"));
  const double cpu0 = ProcessTreeCpuSeconds(gateway);
  const absl::Time start = absl::Now();
  RunOptions run;
  run.timeout = absl::Minutes(20);
  absl::StatusOr<RunResult> r =
      RunCommand({"/bin/sh", "-c", Quoted(argv) + " > /dev/null"}, run);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!r.ok() || !r->ok()) {
    std::cerr << row.name << ": pull failed: "
              << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
    return;
  }
  row.mb_per_s = static_cast<double>(bytes) / seconds / 1e6;
  row.core_s_per_gb = (ProcessTreeCpuSeconds(gateway) - cpu0) /
                      (static_cast<double>(bytes) / 1e9);
}

std::string Num(double v, int digits) {
  return v < 0 ? std::string("-") : absl::StrFormat("%.*f", digits, v);
}

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  int connects = 200;
  std::string gateway;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &bytes);
    } else if (absl::ConsumePrefix(&a, "--connects=")) {
      (void)absl::SimpleAtoi(a, &connects);
    } else if (absl::ConsumePrefix(&a, "--gateway=")) {
      gateway = std::string(a);
    } else {
      std::cerr << "usage: proxyjump_bench --gateway=BINARY [--bytes=N] "
                   "[--connects=N]\n";
      return 2;
    }
  }
  if (gateway.empty() || connects < 1) {
    std::cerr << "proxyjump_bench: --gateway=BINARY is required\n";
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
  auto with = [&ssh](std::vector<std::string> more) {
    std::vector<std::string> v = ssh;
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  std::vector<Row> rows = {
      {"direct", with({"web01"}), false},
      {"gateway LOGIN+HOST",
       with({"-l", fx.target_login() + "+web01", "gateway"})},
      // The inner connection names the inventory host, not 127.0.0.1.
      {"recorded ProxyJump",
       with({"-J", "gateway", "-o", "HostName=web01", "web01"})},
  };
  std::cout << absl::StrFormat(
      "proxyjump_bench: %s, user %s, median of %d sequential connects, "
      "pulling %d MiB through the gateway paths\n",
      kCipher, kUser, connects, bytes >> 20);
  for (Row& row : rows) {
    Connects(row, connects, gw);
    if (row.through_gateway) Pull(row, bytes, gw);
  }
  std::cout << absl::StrFormat("%-20s %11s %14s %9s %12s\n", "path",
                               "connect ms", "gw CPU ms/conn", "MB/s",
                               "gw core-s/GB");
  for (const Row& r : rows) {
    std::cout << absl::StrFormat("%-20s %11s %14s %9s %12s\n", r.name,
                                 Num(r.connect_ms, 1), Num(r.connect_cpu_ms, 2),
                                 Num(r.mb_per_s, 1), Num(r.core_s_per_gb, 3));
  }
  const Row& login_host = rows[1];
  const Row& jump = rows[2];
  if (login_host.connect_ms > 0 && jump.connect_ms > 0) {
    std::cout << absl::StrFormat(
        "recorded ProxyJump / LOGIN+HOST: connect %.3f (goal <= 1.10)",
        jump.connect_ms / login_host.connect_ms);
  }
  if (login_host.mb_per_s > 0 && jump.mb_per_s > 0) {
    std::cout << absl::StrFormat(", throughput %.3f (goal >= 0.90)",
                                 jump.mb_per_s / login_host.mb_per_s);
  }
  std::cout << "\n";
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) { return sallyport::testing::Main(argc, argv); }
