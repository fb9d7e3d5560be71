// Recorded ProxyJump benchmark (issue 13) on a real deployment from
// BastionFixture (real CA, `sp login` certificates, sshd targets with host
// certificates, the real `sallyport-gateway` binary), over loopback with
// aes128-gcm on every hop, these paths:
//
//   direct              ssh web01 CMD
//   gateway LOGIN+HOST  ssh -l LOGIN+web01 gateway CMD
//   recorded ProxyJump  ssh -J gateway web01 CMD   (the gateway terminates
//                       the inner connection: user alice has no
//                       proxyjump-passthrough)
//   OpenSSH -J via sshd ssh -J web01 web01 CMD (stock OpenSSH's -J with
//                       web01's sshd as the jump host: what the client's
//                       -J plumbing costs without Sallyport, a reference;
//                       user olivia, whose certificate permits forwarding)
//
// and, with --shared-jump (the default):
//
//   recorded PJ, shared ssh -J gateway web01 CMD with ControlMaster auto,
//                       ControlPersist 60 for the gateway (a reference,
//                       not what `sp config` writes: through OpenSSH's
//                       mux a refused jump shows "Session open refused by
//                       peer" instead of the gateway's reason; one jump
//                       connection carries every run's inner connection)
//
// Per path: the median of --connects sequential `ssh ... true` (ms), MB/s
// pulling --bytes (`head -c N /dev/zero` on the target, to /dev/null here),
// the gateway's CPU (core-s per GB, ms per session, also net of its idle
// rate; during the pull also its threads on a CPU and waiting for one,
// averaged over the pull: on + waiting near 1 makes the gateway's I/O
// thread the pipeline's critical path), the CPU split per connect (the ssh
// client processes, including the `ssh -W` that -J starts, the gateway, the
// target's sshd, the CA) with the gateway's count of jump connections and
// target host certificates (issued by the CA, or cached; from its /metrics),
// and the 1-minute load average when the row finished (on a shared machine the
// CPU figures are the ones to trust). The paths take turns
// (--rounds): each round runs every path's share of the connects, so a
// change in the machine's load falls on all of them alike. Goal: recorded
// ProxyJump within 10 % of LOGIN+HOST on connect time and throughput. A
// benchmark: it prints and asserts nothing. Pull, Connects: ssh_bench_setup.
//
//   bazel run --config=opt //tests/bench:proxyjump_bench --
//       [--bytes=2147483648] [--connects=200] [--rounds=4]
//       [--gateway=/abs/path/sallyport-gateway] [--shared-jump=0|1]
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/bench/build_mode.h"
#include "tests/bench/process_cpu.h"
#include "tests/bench/ssh_bench_setup.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/net_util.h"
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

// CPU seconds of our reaped children (the ssh clients; with
// PR_SET_CHILD_SUBREAPER also the `ssh -W` processes -J starts, which
// outlive their parent).
double ChildrenCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Whether one of our children is an ssh still running (an `ssh -W` that
// -J started, orphaned to us when its ssh exited).
bool SshChildRunning() {
  const std::string self = absl::StrCat(getpid());
  for (absl::string_view pid :
       absl::StrSplit(ReadFileOrEmpty(absl::StrCat("/proc/", self, "/task/",
                                                   self, "/children")),
                      ' ', absl::SkipEmpty())) {
    std::string comm = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/comm"));
    if (absl::StripAsciiWhitespace(comm) == "ssh") return true;
  }
  return false;
}

// Reaps the orphaned ssh processes that finished (up to ~5 s for those
// still exiting), so their CPU lands in ChildrenCpuSeconds. The fixture's
// daemons keep running and are never reaped here.
void ReapOrphans() {
  for (int i = 0; i < 500; ++i) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!SshChildRunning()) return;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

// CPU seconds of each party, read before and after a measurement.
struct CpuSplit {
  double client = 0, gateway = 0, sshd = 0, ca = 0;
};

struct Parties {
  pid_t gateway = 0, sshd = 0, ca = 0;
  CpuSplit Read() const {
    ReapOrphans();
    WaitForNoChildren(sshd);
    CpuSplit c;
    c.client = ChildrenCpuSeconds();
    c.gateway = ProcessTreeCpuSeconds(gateway);
    c.sshd = ProcessTreeCpuSeconds(sshd);
    c.ca = ProcessTreeCpuSeconds(ca);
    return c;
  }
};

// The gateway's own counts of the ProxyJump work, from its /metrics.
struct GatewayCounts {
  double jump_connections = 0;  // jump-only logins
  double certs_issued = 0;      // target host certificates from the CA
  double certs_cached = 0;      // ... from the gateway's cache
  bool known = true;            // every scrape answered
};

GatewayCounts ScrapeGateway(uint16_t metrics_port) {
  const auto [code, text] = HttpGet(metrics_port, "/metrics");
  GatewayCounts c;
  c.jump_connections =
      MetricValue(text, "sallyport_gateway_jump_connections_total");
  c.certs_issued = MetricValue(
      text,
      "sallyport_gateway_jump_host_certificates_total{source=\"issued\"}");
  c.certs_cached = MetricValue(
      text,
      "sallyport_gateway_jump_host_certificates_total{source=\"cached\"}");
  c.known = code == 200 && c.jump_connections >= 0 && c.certs_issued >= 0 &&
            c.certs_cached >= 0;
  return c;
}

void Add(GatewayCounts* to, const GatewayCounts& after,
         const GatewayCounts& before) {
  to->known = to->known && after.known && before.known;
  to->jump_connections += after.jump_connections - before.jump_connections;
  to->certs_issued += after.certs_issued - before.certs_issued;
  to->certs_cached += after.certs_cached - before.certs_cached;
}

// Accumulates the rounds of one path: connect times pooled for the median,
// CPU summed.
struct Totals {
  std::vector<double> connect_ms;  // per-round medians, weighted by count
  double cpu_ms = 0, net_cpu_ms = 0;
  CpuSplit split_s;  // CPU seconds per party over all connects
  int sessions = 0;
  GatewayCounts gateway;  // what the gateway counted during the connects
  bool failed = false;
};

// `after - before`, per connect, in ms.
std::string SplitLine(const CpuSplit& s, double n) {
  return absl::StrFormat("client %7.1f  gateway %7.1f  sshd %7.1f  CA %6.1f",
                         s.client * 1000 / n, s.gateway * 1000 / n,
                         s.sshd * 1000 / n, s.ca * 1000 / n);
}

void Add(CpuSplit* to, const CpuSplit& after, const CpuSplit& before) {
  to->client += after.client - before.client;
  to->gateway += after.gateway - before.gateway;
  to->sshd += after.sshd - before.sshd;
  to->ca += after.ca - before.ca;
}

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  int connects = 200;
  int rounds = 4;
  bool shared_jump = true;
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
    } else if (absl::ConsumePrefix(&a, "--shared-jump=")) {
      shared_jump = a != "0";
    } else {
      std::cerr << "usage: proxyjump_bench [--bytes=N] [--connects=N] "
                   "[--rounds=N] [--gateway=BINARY] [--shared-jump=0|1]\n";
      return 2;
    }
  }
  if (connects < 0 || rounds < 1) {
    std::cerr << "proxyjump_bench: --connects >= 0, --rounds >= 1\n";
    return 2;
  }
  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.gateway_log_level = "info";  // the default, not the tests' trace
  options.sshd_config["Ciphers"] = kCipher;
  options.sshd_config["LogLevel"] = "ERROR";
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
  // The `ssh -W` processes -J starts outlive their ssh: they come to us,
  // to be reaped and counted.
  (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
  const pid_t gw = fx.gateway_process()->pid();
  const uint16_t metrics_port = fx.gateway_metrics_port();
  Parties parties;
  parties.gateway = gw;
  parties.ca = fx.ca_process().pid();
  {
    int pid = 0;
    (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFileOrEmpty(
                               fx.target("web01")->sshd->dir() + "/sshd.pid")),
                           &pid);
    parties.sshd = pid;
  }
  const BastionFixture::User* user = *fx.user(kUser);
  // The user's configuration with kCipher for every hop: `-c` does not
  // reach the `ssh -W` that -J starts, which would otherwise pick
  // chacha20-poly1305 for the jump connection. And one key exchange for
  // every hop: OpenSSH 9.2 picks sntrup761x25519 with sshd (~60 ms per
  // connection here) but curve25519 with the gateway.
  const std::string every_hop = absl::StrCat(
      "Host *\n  Ciphers ", kCipher, "\n  KexAlgorithms curve25519-sha256\n");
  const std::string config = user->ssh_config + "-bench";
  // The same with connection sharing for the jump hop (the first value of
  // an option wins: this block comes before the user's).
  const std::string shared_config = user->ssh_config + "-shared";
  const std::string control_dir = user->ssh_config + "-cm";
  (void)mkdir(control_dir.c_str(), 0700);
  const std::string base =
      absl::StrCat(every_hop, ReadFileOrEmpty(user->ssh_config));
  if (absl::Status st = WriteFile(config, base); !st.ok()) {
    std::cerr << "config: " << st << "\n";
    return 1;
  }
  if (absl::Status st = WriteFile(
          shared_config,
          absl::StrCat("Host gateway\n  ControlMaster auto\n  ControlPath ",
                       control_dir, "/%C\n  ControlPersist 60\n", base));
      !st.ok()) {
    std::cerr << "shared config: " << st << "\n";
    return 1;
  }
  const std::vector<std::string> ssh = {"ssh", "-F", config, "-c", kCipher};
  // The stock -J reference needs a certificate with permit-port-forwarding
  // for web01's sshd: olivia's (role ops).
  const std::string forward_config =
      (*fx.user("olivia"))->ssh_config + "-bench";
  if (absl::Status st = WriteFile(
          forward_config,
          absl::StrCat(every_hop,
                       ReadFileOrEmpty((*fx.user("olivia"))->ssh_config)));
      !st.ok()) {
    std::cerr << "config: " << st << "\n";
    return 1;
  }
  auto path = [&ssh](std::string name, std::vector<std::string> target,
                     pid_t middle, std::string config = "") {
    Path p;
    p.name = std::move(name);
    p.middle = middle;
    std::vector<std::string> base = ssh;
    if (!config.empty()) base[2] = config;
    p.argv = [base, target](const std::string& command) {
      std::vector<std::string> v = base;
      v.insert(v.end(), target.begin(), target.end());
      v.push_back(command);
      return v;
    };
    return p;
  };
  std::vector<Path> paths = {
      path("direct", {"web01"}, 0),
      path("gateway LOGIN+HOST",
           {"-l", fx.target_login() + "+web01", "gateway"}, gw),
      // The inner connection names the inventory host, not 127.0.0.1.
      path("recorded ProxyJump",
           {"-J", "gateway", "-o", "HostName=web01", "web01"}, gw),
  };
  // Stock OpenSSH's own -J, with web01's sshd as the jump host: what the
  // client's -J plumbing (a second ssh, `ssh -W` piping the inner
  // connection to it) costs without Sallyport.
  paths.push_back(
      path("OpenSSH -J via sshd", {"-J", "web01", "web01"}, 0, forward_config));
  if (shared_jump) {
    paths.push_back(path("recorded PJ, shared",
                         {"-J", "gateway", "-o", "HostName=web01", "web01"}, gw,
                         shared_config));
  }
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
      // The scrapes outside the CPU window.
      const GatewayCounts counts_before = ScrapeGateway(metrics_port);
      const CpuSplit before = parties.Read();
      Connects(paths[i], n, &r);
      Add(&totals[i].split_s, parties.Read(), before);
      Add(&totals[i].gateway, ScrapeGateway(metrics_port), counts_before);
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
    const CpuSplit before = parties.Read();
    Pull(paths[i], bytes, &pulls[i]);
    CpuSplit used;
    Add(&used, parties.Read(), before);
    pull_load[i] = LoadAverage();
    const double gb = static_cast<double>(bytes) / 1e9;
    std::cout << absl::StrFormat(
                     "  pull %-20s %8s MB/s (load %s); core-s/GB: client "
                     "%.2f gateway %.2f sshd %.2f%s\n",
                     paths[i].name, Num(pulls[i].mb_per_s, 1), pull_load[i],
                     used.client / gb, used.gateway / gb, used.sshd / gb,
                     pulls[i].middle_on_cpu < 0
                         ? ""
                         : absl::StrFormat(
                               "; gateway threads on a CPU %.2f, waiting "
                               "for one %.2f",
                               pulls[i].middle_on_cpu, pulls[i].middle_waiting))
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
  if (connects > 0) std::cout << "CPU per connect, ms:\n";
  for (size_t i = 0; i < paths.size(); ++i) {
    if (totals[i].sessions == 0) continue;
    const GatewayCounts& g = totals[i].gateway;
    std::cout << absl::StrFormat(
        "  %-20s %s  (gateway: %s jump connections, %s host certificates "
        "from the CA, %s from its cache)\n",
        paths[i].name, SplitLine(totals[i].split_s, totals[i].sessions),
        Num(g.known ? g.jump_connections : -1, 0),
        Num(g.known ? g.certs_issued : -1, 0),
        Num(g.known ? g.certs_cached : -1, 0));
  }
  // Each path against LOGIN+HOST (index 1); the goal is for index 2.
  for (size_t i = 2; i < paths.size(); ++i) {
    std::string line;
    if (medians[1] > 0 && medians[i] > 0) {
      absl::StrAppend(
          &line, absl::StrFormat(" connect %.3f%s", medians[i] / medians[1],
                                 i == 2 ? " (goal <= 1.10)" : ""));
    }
    if (pulls[1].pulled && pulls[i].pulled) {
      absl::StrAppend(&line,
                      absl::StrFormat(" throughput %.3f%s",
                                      pulls[i].mb_per_s / pulls[1].mb_per_s,
                                      i == 2 ? " (goal >= 0.90)" : ""));
    }
    if (!line.empty()) {
      std::cout << paths[i].name << " / LOGIN+HOST:" << line << "\n";
    }
  }
  if (shared_jump) {
    // The persisted master goes now.
    (void)RunCommand({"ssh", "-F", shared_config, "-O", "exit", "gateway"});
    ReapOrphans();
  }
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) {
  sallyport::testing::PrintBuildMode();
  return sallyport::testing::Main(argc, argv);
}
