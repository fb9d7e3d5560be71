// The gateway benchmark of issue 12 and its OpenSSH baselines, on a real
// deployment from BastionFixture (real CA, `sp login` certificates, sshd
// targets with host certificates), all over loopback with aes128-gcm:
//
//   direct               ssh web01 CMD
//   openssh -J           ssh -J bastion web01 CMD   (ProxyJump via a 2nd sshd)
//   openssh terminating  ssh bastion "ssh web01 CMD" (a bastion sshd that
//                        runs ssh to the target: two full SSH legs)
//   gateway null-rec     ssh -l LOGIN+web01 gateway CMD, the gateway with a
//                        NullRecorder (issue 12's figures): this binary as
//                        a child (--serve-null, tests/bench/null_gateway.h)
//   gateway recorded     ssh -l LOGIN+web01 gateway CMD, the real
//                        sallyport-gateway (spool recorder, shipper)
//   gateway passthrough  ssh -J gateway web01 CMD
//
// Per path: MB/s pulling --bytes (`head -c N /dev/zero` on the target, to
// /dev/null here), the ratio to direct and to the terminating bastion, and
// --connects sequential `ssh ... true` (ms per connection). "middle" is the
// box in between: the bastion sshd's process tree (its reaped per-connection
// children and, for the terminating path, the inner ssh) or the gateway
// process (/proc/PID/stat utime+stime): its core-s per GB and CPU ms per
// session. Idle sessions: --idle AsyncSSH sessions (one connection + one
// `cat` channel each) held open straight to sshd (Pss of its process tree
// per session) and through the gateway (gateway RSS and
// Pss per idle proxied session). Every row prints the load average
// (/proc/loadavg) seen when it finished: on a shared machine the CPU-time
// figures are the ones to trust, wall time moves with the load. They come
// in clock ticks (10 ms): with --connects=N the per-session figure moves in
// steps of 10/N ms, so compare A/B rows with N well above 10.
//
//   bazel run --config=opt //tests/bench:gateway_bench --
//       [--bytes=2147483648] [--connects=200] [--idle=1000]
//       [--paths=direct,terminating,recorded,...] (substrings; default all)
//       [--gateway=/abs/path/sallyport-gateway | --gateway=none]
//       [--gateway-arg=ARG]... [--gateway-b=/abs/path/other-gateway]
//       [--null-b=/abs/path/other-gateway_bench] [--rounds=N]
//
// --gateway-b (an A/B run) starts a second gateway binary from the same
// enrolled state (own port and metrics port) and adds its rows ("B ...")
// right after each gateway row, so old and new binaries alternate under
// the same load; --null-b does the same for the null-recorder gateway
// (another build of this bench, started with --serve-null); --rounds repeats
// every row N times (rows printed per round).
//
// The gateway is the one built with the bench (runfiles) unless --gateway
// names another; --gateway=none leaves it out.
//
// Goals (issue 12): recorded ≥ 1.5× terminating, ≤ 0.8 gateway core-s/GB,
// ≤ 2 ms gateway CPU per session, ≤ 128 KiB per idle proxied session,
// connect ≤ 5 ms slower than direct. A benchmark: it asserts nothing.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/bench/build_mode.h"
#include "tests/bench/null_gateway.h"
#include "tests/bench/proc_memory.h"
#include "tests/bench/process_cpu.h"
#include "tests/bench/ssh_bench_setup.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/net_util.h"
#include "tests/harness/ssh_clients.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

constexpr char kCipher[] = "aes128-gcm@openssh.com";
constexpr char kUser[] = "olivia";  // role ops: passthrough allowed too

// Holds `count` idle sessions (tests/harness/clients/idle_sessions.py) to
// `to` and returns the growth of `measure()` (bytes) per session, or a
// negative number when they could not all be opened.
double IdleGrowthPerSession(const SshEndpoint& to, int count,
                            const std::string& dir,
                            const std::function<int64_t()>& measure) {
  const std::string release = absl::StrCat(dir, "/release-", to.port);
  const std::string log = absl::StrCat(dir, "/idle-", to.port, ".log");
  const int64_t before = measure();
  BackgroundProcess::Options po;
  po.log_path = log;
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> idle =
      BackgroundProcess::Start(
          {"/usr/bin/python3", "-W", "ignore",
           RunfilePath("tests/harness/clients/idle_sessions.py"), "--port",
           std::to_string(to.port), "--user", to.user, "--key", to.key,
           "--cert", to.certificate, "--host-key", to.host_public_key,
           "--count", std::to_string(count), "--until-file", release},
          po);
  if (!idle.ok()) return -1;
  const absl::Time deadline = absl::Now() + absl::Minutes(10);
  while (absl::Now() < deadline &&
         ReadFileOrEmpty(log).find("ready") == std::string::npos &&
         ReadFileOrEmpty(log).find("failed") == std::string::npos) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  double per_session = -1;
  if (ReadFileOrEmpty(log).find("ready") != std::string::npos) {
    absl::SleepFor(absl::Seconds(2));  // let the last ones settle
    per_session = static_cast<double>(measure() - before) / count;
  } else {
    std::cerr << "idle sessions to port " << to.port
              << " failed: " << ReadFileOrEmpty(log) << "\n";
  }
  (void)WriteFile(release, "");
  (*idle)->Stop();
  return per_session;
}

// sshd's listener (the fixture runs it with -D, so the pid file is its own).
pid_t SshdPid(const SshdFixture& sshd) {
  int pid = 0;
  (void)absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadFileOrEmpty(sshd.dir() + "/sshd.pid")),
      &pid);
  return pid;
}

std::string Fixed(double v, int digits, double missing_below = -0.5) {
  return v < missing_below ? "-" : absl::StrFormat("%.*f", digits, v);
}

// The 1-minute load average.
std::string LoadAverage() {
  std::string s = ReadFileOrEmpty("/proc/loadavg");
  return std::string(s.substr(0, s.find(' ')));
}

// Starts a second gateway from the state the fixture's gateway enrolled
// (its config copied with another metrics port) on a free port: `binary
// serve` (A/B runs), or with `null_recorder` `binary --serve-null` (a bench
// binary: the gateway with a NullRecorder, tests/bench/null_gateway.h).
absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartSecondGateway(
    BastionFixture& fx, const std::string& binary, bool null_recorder,
    const std::vector<std::string>& extra, const std::string& dir,
    const std::string& name, uint16_t* port) {
  // Next to the original: its relative paths (state, files) stay valid.
  const std::string config =
      absl::StrCat(fx.gateway_state_dir(), "/gateway-", name, ".yaml");
  absl::StatusOr<uint16_t> metrics = FreeLoopbackPort();
  if (!metrics.ok()) return metrics.status();
  std::string yaml;
  for (absl::string_view line : absl::StrSplit(
           ReadFileOrEmpty(fx.gateway_state_dir() + "/gateway.yaml"), '\n')) {
    if (absl::StartsWith(line, "metrics_listen:")) {
      absl::StrAppend(&yaml, "metrics_listen: \"127.0.0.1:", *metrics, "\"\n");
    } else {
      absl::StrAppend(&yaml, line, "\n");
    }
  }
  if (absl::Status st = WriteFile(config, yaml, 0600); !st.ok()) return st;
  absl::StatusOr<uint16_t> p = FreeLoopbackPort();
  if (!p.ok()) return p.status();
  const std::string listen = absl::StrCat("127.0.0.1:", *p);
  std::vector<std::string> argv =
      null_recorder ? std::vector<std::string>{binary, "--serve-null=" + config,
                                               "--listen=" + listen}
                    : std::vector<std::string>{binary, "serve",    "--config",
                                               config, "--listen", listen};
  if (!null_recorder) argv.insert(argv.end(), extra.begin(), extra.end());
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> proc = StartGatewayProcess(
      argv, absl::StrCat(dir, "/gateway-", name, ".log"), *p);
  if (!proc.ok()) return proc.status();
  *port = *p;
  return proc;
}

// This binary (for --serve-null children).
std::string SelfPath() {
  char self[4096] = {};
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  return n > 0 ? std::string(self, static_cast<size_t>(n)) : std::string();
}

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  int connects = 200;
  int idle = 1000;
  std::string gateway = RunfilePath("gateway/sallyport-gateway");
  std::vector<std::string> gateway_args;
  std::vector<std::string> only;   // --paths: substrings of path names
  std::string gateway_b;           // --gateway-b: A/B comparison
  std::string null_b;              // --null-b: A/B of the null recorder
  std::string serve_null, listen;  // child mode (--serve-null)
  int rounds = 1;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--serve-null=")) {
      serve_null = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--listen=")) {
      listen = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--null-b=")) {
      null_b = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &bytes);
    } else if (absl::ConsumePrefix(&a, "--connects=")) {
      (void)absl::SimpleAtoi(a, &connects);
    } else if (absl::ConsumePrefix(&a, "--idle=")) {
      (void)absl::SimpleAtoi(a, &idle);
    } else if (absl::ConsumePrefix(&a, "--gateway=")) {
      gateway = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--gateway-arg=")) {
      gateway_args.emplace_back(a);
    } else if (absl::ConsumePrefix(&a, "--gateway-b=")) {
      gateway_b = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--rounds=")) {
      (void)absl::SimpleAtoi(a, &rounds);
    } else if (absl::ConsumePrefix(&a, "--paths=")) {
      only = absl::StrSplit(a, ',', absl::SkipEmpty());
    } else {
      std::cerr << "usage: gateway_bench [--bytes=N] [--connects=N] "
                   "[--idle=N] [--paths=A,B] [--gateway=BINARY|none] "
                   "[--gateway-arg=ARG]... [--gateway-b=BINARY] "
                   "[--null-b=BENCH_BINARY] [--rounds=N]\n";
      return 2;
    }
  }
  if (!serve_null.empty()) return ServeNullRecorderGateway(serve_null, listen);
  PrintBuildMode();
  if (gateway == "none") gateway.clear();
  // Descriptors: 1,000 idle proxied sessions hold a socket each way in
  // the gateway (it inherits the limit) and one each in the client.
  if (rlimit limit; getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < static_cast<rlim_t>(3 * idle + 200)) {
      std::cerr << "RLIMIT_NOFILE " << limit.rlim_cur << " is too low for "
                << idle << " idle sessions\n";
      return 1;
    }
  }

  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.gateway_log_level = "info";  // the default, not the tests' trace
  options.targets.push_back({"bastion", {{"env", "infra"}}, "host-ca"});
  options.sshd_config["Ciphers"] = kCipher;
  options.sshd_config["LogLevel"] = "ERROR";
  // The targets skip the login's ~/.bashrc for commands (SshdFixture's
  // SetEnv SHLVL=1): the bench measures SSH, not the login's rc.
  absl::StatusOr<std::unique_ptr<BastionFixture>> f =
      BastionFixture::Start(options);
  if (!f.ok()) {
    std::cerr << "fixture: " << f.status() << "\n";
    return 1;
  }
  BastionFixture& fx = **f;
  absl::StatusOr<TempDir> tmp = TempDir::Create("gwbench");
  if (!tmp.ok()) return 1;
  if (!gateway.empty()) {
    // Every idle session belongs to one user and connects in a burst: the
    // per-user and pre-auth limits must let all of them in.
    const int sessions = std::max(idle, 1) + 100;
    auto raise_limits = [sessions](config::GatewayConfig* c) {
      c->mutable_limits()->set_max_sessions_per_user(sessions);
      c->mutable_limits()->set_max_startups(absl::StrCat(sessions));
    };
    if (absl::Status st = fx.StartGateway(gateway, gateway_args, raise_limits);
        !st.ok()) {
      std::cerr << "gateway: " << st << "\n";
      return 1;
    }
  }
  const BastionFixture::User* user = *fx.user(kUser);
  // One key exchange for every path: OpenSSH 9.2 picks
  // sntrup761x25519-sha512 with sshd (about 60 ms per connection on this
  // CPU) but curve25519-sha256 with the gateway, whose own upstream leg
  // uses curve25519 too; unpinned, "direct" paid 60 ms the gateway path
  // did not, and the gateway connected faster than direct.
  const std::vector<std::string> ssh = {"ssh",
                                        "-F",
                                        user->ssh_config,
                                        "-c",
                                        kCipher,
                                        "-o",
                                        "KexAlgorithms=curve25519-sha256"};
  const pid_t bastion = SshdPid(*fx.target("bastion")->sshd);
  const std::string login = fx.target_login();

  auto with = [&ssh](std::vector<std::string> middle) {
    return [ssh, middle](const std::string& command) {
      std::vector<std::string> v = ssh;
      v.insert(v.end(), middle.begin(), middle.end());
      v.push_back(command);
      return v;
    };
  };
  std::vector<Path> paths = {
      {"direct", with({"web01"}), 0},
      {"openssh -J", with({"-J", "bastion", "web01"}), bastion},
      {"openssh terminating",
       [ssh](const std::string& command) {
         std::vector<std::string> v = ssh;
         v.push_back("bastion");
         v.push_back(ShellJoin(ssh) + " web01 " + ShellJoin({command}));
         return v;
       },
       bastion},
  };
  // The second gateways: B (--gateway-b, recording on), the null-recorder
  // gateway (this binary) and its B (--null-b, another build of this bench).
  struct Second {
    std::string name;  // row name
    std::string binary;
    bool null_recorder;
    std::unique_ptr<BackgroundProcess> process;
    uint16_t port = 0;
  };
  std::vector<Second> seconds;
  if (!gateway.empty()) {
    seconds.push_back({"gateway null-rec", SelfPath(), true, nullptr});
    if (!null_b.empty())
      seconds.push_back({"B gateway null-rec", null_b, true, nullptr});
    if (!gateway_b.empty())
      seconds.push_back({"B gateway recorded", gateway_b, false, nullptr});
  }
  for (size_t i = 0; i < seconds.size(); ++i) {
    Second& g = seconds[i];
    absl::StatusOr<std::unique_ptr<BackgroundProcess>> b =
        StartSecondGateway(fx, g.binary, g.null_recorder, gateway_args,
                           tmp->path(), absl::StrCat(i), &g.port);
    if (!b.ok()) {
      std::cerr << g.name << ": " << b.status() << "\n";
      return 1;
    }
    g.process = *std::move(b);
  }
  if (!gateway.empty()) {
    const pid_t gw = fx.gateway_process()->pid();
    // Issue 12's figures are for the null recorder: its rows first.
    for (const Second& g : seconds) {
      if (!g.null_recorder) continue;
      paths.push_back({g.name,
                       with({"-p", absl::StrCat(g.port), "-l", login + "+web01",
                             "gateway"}),
                       g.process->pid()});
    }
    paths.push_back(
        {"gateway recorded", with({"-l", login + "+web01", "gateway"}), gw});
    for (const Second& g : seconds) {
      if (g.null_recorder) continue;
      paths.push_back({g.name,
                       with({"-p", absl::StrCat(g.port), "-l", login + "+web01",
                             "gateway"}),
                       g.process->pid()});
    }
    paths.push_back(
        {"gateway passthrough",
         // The inner connection names the inventory host, not 127.0.0.1.
         with({"-J", "gateway", "-o", "HostName=web01", "web01"}), gw});
    for (const Second& g : seconds) {
      if (g.null_recorder) continue;
      paths.push_back({"B gateway passthrough",
                       with({"-J", absl::StrCat("gateway:", g.port), "-o",
                             "HostName=web01", "web01"}),
                       g.process->pid()});
    }
  }

  if (!only.empty()) {
    std::erase_if(paths, [&only](const Path& p) {
      return std::none_of(only.begin(), only.end(), [&p](const std::string& o) {
        return absl::StrContains(p.name, o);
      });
    });
  }
  std::cout << absl::StrFormat(
      "gateway_bench: %s, pulling %d MiB per path, median of %d sequential "
      "connects; user %s, login %s; %d cores; gateway %s\n",
      kCipher, bytes >> 20, connects, kUser, login,
      sysconf(_SC_NPROCESSORS_ONLN),
      gateway.empty() ? std::string("none") : gateway);
  for (int round = 0; round < std::max(rounds, 1); ++round) {
    if (rounds > 1) std::cout << "round " << round + 1 << "\n";
    std::vector<PathResult> results(paths.size());
    std::vector<std::string> load_pull(paths.size()), load_conn(paths.size());
    for (size_t i = 0; i < paths.size(); ++i) {
      if (bytes > 0) Pull(paths[i], bytes, &results[i]);
      load_pull[i] = LoadAverage();
      if (connects > 0) Connects(paths[i], connects, &results[i]);
      load_conn[i] = LoadAverage();
      const PathResult& r = results[i];
      std::cout << absl::StrFormat(
                       "  %s done (load %s / %s)%s\n", paths[i].name,
                       load_pull[i], load_conn[i],
                       r.middle_on_cpu < 0
                           ? ""
                           : absl::StrFormat(
                                 "; during the pull the middle box's "
                                 "threads were on a CPU %.2f, waiting for "
                                 "one %.2f",
                                 r.middle_on_cpu, r.middle_waiting))
                << std::flush;
    }
    auto find = [&](absl::string_view name) -> const PathResult* {
      for (size_t i = 0; i < paths.size(); ++i) {
        if (paths[i].name == name) return &results[i];
      }
      return nullptr;
    };
    const PathResult* direct = find("direct");
    const PathResult* term = find("openssh terminating");
    const double direct_mbs = direct != nullptr ? direct->mb_per_s : 0;
    const double term_mbs = term != nullptr ? term->mb_per_s : 0;
    std::cout << absl::StrFormat(
        "%-20s %9s %8s %8s %10s %8s %10s %10s %8s %10s %12s\n", "path", "MB/s",
        "/direct", "/termin.", "connect ms", "+ms", "mid cs/GB", "mid ms/ses",
        "idle/s", "net ms/ses", "load p / c");
    for (size_t i = 0; i < paths.size(); ++i) {
      const PathResult& r = results[i];
      std::cout << absl::StrFormat(
          "%-20s %9s %8s %8s %10s %8s %10s %10s %8s %10s %12s\n", paths[i].name,
          r.pulled ? Fixed(r.mb_per_s, 1) : "-",
          r.pulled && direct_mbs > 0 ? Fixed(r.mb_per_s / direct_mbs, 2) : "-",
          r.pulled && term_mbs > 0 ? Fixed(r.mb_per_s / term_mbs, 2) : "-",
          r.connected ? Fixed(r.connect_ms, 1) : "-",
          r.connected && direct != nullptr && direct->connected
              ? Fixed(r.connect_ms - direct->connect_ms, 1, -1e9)
              : "-",
          Fixed(r.middle_core_s_per_gb, 3),
          Fixed(r.middle_cpu_ms_per_session, 2),
          Fixed(r.middle_idle_ms_per_s, 2),
          Fixed(r.middle_net_ms_per_session, 2),
          absl::StrCat(load_pull[i], " / ", load_conn[i]));
    }
    std::cout << std::flush;  // the idle rows take minutes
  }
  if (idle <= 0) return 0;

  // Idle sessions.
  SshEndpoint to;
  to.user = login;
  to.key = user->key;
  to.certificate = user->certificate;
  BastionFixture::Target* web01 = fx.target("web01");
  to.port = web01->sshd->port();
  to.host_public_key = web01->host_key.public_line;
  const pid_t web01_sshd = SshdPid(*web01->sshd);
  const double sshd_pss = IdleGrowthPerSession(
      to, idle, tmp->path(),
      [web01_sshd] { return ProcessTreePssBytes(web01_sshd); });
  std::cout << absl::StrFormat(
      "idle sessions: %d straight to sshd: %s KiB Pss per session (sshd "
      "process tree) (load %s)\n",
      idle, Fixed(sshd_pss / 1024, 1), LoadAverage());
  if (!gateway.empty()) {
    const pid_t gw = fx.gateway_process()->pid();
    to.port = fx.gateway_port();
    to.user = login + "+web01";
    absl::StatusOr<RunResult> pub =
        RunCommand({"ssh-keygen", "-y", "-f",
                    fx.gateway_state_dir() + "/ssh_host_ed25519_key"});
    to.host_public_key =
        pub.ok() ? std::string(absl::StripAsciiWhitespace(pub->out)) : "";
    const double rss = IdleGrowthPerSession(to, idle, tmp->path(),
                                            [gw] { return RssBytes(gw); });
    std::cout << absl::StrFormat(
        "idle sessions: %d through the gateway: %s KiB gateway RSS per idle "
        "proxied session (load %s)\n",
        idle, Fixed(rss / 1024, 1), LoadAverage());
  }
  std::cout << "goals (issue 12): recorded >= 1.5x terminating; <= 0.8 "
               "gateway core-s/GB; <= 2 ms gateway CPU per session; <= 128 "
               "KiB per idle proxied session; connect <= +5 ms vs direct\n";
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) { return sallyport::testing::Main(argc, argv); }
