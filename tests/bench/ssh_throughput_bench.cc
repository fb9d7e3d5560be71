// Download throughput of example_server against the machine's real sshd:
// the stock `ssh` client pulls N bytes (`head -c N /dev/zero`) from each
// server over loopback, once per cipher, and we print MB/s, the ratio, and
// the server's CPU seconds per GB transferred.
//
//   bazel run --config=opt //tests/bench:ssh_throughput_bench --
//       [--bytes=2147483648] [--runs=1] [--ciphers=aes128-gcm@openssh.com,...]
//
// Server CPU: user+system time of the server's process tree (for sshd the
// listener, which reaps the per-connection processes, so their time lands
// in its cutime/cstime), before and after the transfer, minus the time of
// the remote command itself (`times` in the remote shell reports it).
// A benchmark, not a test: it asserts nothing (CONVENTIONS.md "Tests").
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

// utime + stime + cutime + cstime of `pid`, in seconds.
double ProcessTreeCpuSeconds(pid_t pid) {
  std::string stat = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> f =
      absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
  // Fields after "(comm)": state is field 3, utime field 14 → index 11.
  double total = 0;
  for (int i = 11; i <= 14 && i < static_cast<int>(f.size()); ++i) {
    int64_t ticks = 0;
    if (absl::SimpleAtoi(f[i], &ticks)) total += static_cast<double>(ticks);
  }
  return total / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Whether `pid` still has children (sshd's per-connection processes).
bool HasChildren(pid_t pid) {
  std::string children =
      ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  return !absl::StripAsciiWhitespace(children).empty();
}

// Seconds from one "0m1.234s" field of the `times` builtin.
double ParseTimesField(absl::string_view s) {
  size_t m = s.find('m');
  if (m == absl::string_view::npos) return 0;
  double minutes = 0, seconds = 0;
  (void)absl::SimpleAtod(s.substr(0, m), &minutes);
  absl::string_view rest = absl::StripSuffix(s.substr(m + 1), "s");
  (void)absl::SimpleAtod(rest, &seconds);
  return minutes * 60 + seconds;
}

// The total of the four numbers `times` prints (shell and children).
double ParseTimes(const std::string& err) {
  double total = 0;
  int fields = 0;
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 2 || !absl::EndsWith(parts[0], "s") ||
        parts[0].find('m') == absl::string_view::npos) {
      continue;
    }
    total += ParseTimesField(parts[0]) + ParseTimesField(parts[1]);
    fields += 2;
  }
  return fields == 4 ? total : 0;
}

struct Result {
  double mb_per_s = 0;
  double server_cpu_s = 0;
  bool ok = false;
};

struct Target {
  std::string name;
  uint16_t port;
  std::string known_hosts;
  pid_t server_pid;
};

Result Pull(const Target& target, const std::string& identity,
            const std::string& cipher, uint64_t bytes) {
  Result result;
  std::vector<std::string> ssh =
      SshClientArgs(target.port, target.known_hosts, identity);
  ssh.insert(ssh.end(), {"-c", cipher, CurrentUserName() + "@127.0.0.1",
                         absl::StrCat("head -c ", bytes,
                                      " /dev/zero; times "
                                      ">&2")});
  std::vector<std::string> quoted;
  for (const auto& a : ssh) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted.push_back(q + "'");
  }
  const double cpu_before = ProcessTreeCpuSeconds(target.server_pid);
  const absl::Time start = absl::Now();
  RunOptions run;
  run.timeout = absl::Minutes(10);
  auto r =
      RunCommand({"/bin/sh", "-c",
                  absl::StrCat(absl::StrJoin(quoted, " "), " > /dev/null")},
                 run);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!r.ok() || !r->ok()) {
    std::cerr << target.name << " " << cipher << ": ssh failed: "
              << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
    return result;
  }
  // Wait until the per-connection processes are gone and reaped.
  for (int i = 0; i < 200 && HasChildren(target.server_pid); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(50));
  const double command_cpu = ParseTimes(r->err);
  result.server_cpu_s =
      ProcessTreeCpuSeconds(target.server_pid) - cpu_before - command_cpu;
  result.mb_per_s = static_cast<double>(bytes) / seconds / 1e6;
  result.ok = true;
  return result;
}

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  int runs = 1;
  std::vector<std::string> ciphers = {"aes128-gcm@openssh.com",
                                      "aes256-gcm@openssh.com",
                                      "chacha20-poly1305@openssh.com"};
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &bytes);
    } else if (absl::ConsumePrefix(&a, "--runs=")) {
      (void)absl::SimpleAtoi(a, &runs);
    } else if (absl::ConsumePrefix(&a, "--ciphers=")) {
      ciphers = absl::StrSplit(a, ',', absl::SkipEmpty());
    } else {
      std::cerr << "usage: ssh_throughput_bench [--bytes=N] [--runs=N] "
                   "[--ciphers=a,b]\n";
      return 2;
    }
  }

  auto dir = TempDir::Create("sshbench");
  if (!dir.ok()) return 1;
  auto user = GenerateKey(dir->path(), "user_key");
  auto host = GenerateKey(dir->path(), "host_key");
  if (!user.ok() || !host.ok()) {
    std::cerr << "ssh-keygen failed\n";
    return 1;
  }
  if (!WriteFile(dir->File("authorized_keys"), user->public_line + "\n").ok())
    return 1;

  // sshd as the harness runs it, with logging that does not cost per packet.
  SshdFixture::Options options;
  options.config["Ciphers"] = absl::StrJoin(ciphers, ",");
  options.config["LogLevel"] = "ERROR";
  auto sshd = SshdFixture::Start(options);
  if (!sshd.ok()) {
    std::cerr << sshd.status() << "\n";
    return 1;
  }
  if (!WriteFile((*sshd)->authorized_keys_path(), user->public_line + "\n")
           .ok())
    return 1;
  std::string sshd_pid_text = ReadFileOrEmpty((*sshd)->dir() + "/sshd.pid");
  int sshd_pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(sshd_pid_text), &sshd_pid)) {
    std::cerr << "no sshd.pid\n";
    return 1;
  }

  auto ours = ListeningProcess::Start(
      {RunfilePath("ssh/examples/example_server"), "--listen", "127.0.0.1:0",
       "--host-key", host->private_path, "--authorized-keys",
       dir->File("authorized_keys")},
      dir->File("server.log"));
  if (!ours.ok()) {
    std::cerr << ours.status() << "\n";
    return 1;
  }
  if (!WriteFile(dir->File("known_hosts"),
                 absl::StrCat("[127.0.0.1]:", (*ours)->port(), " ",
                              host->public_line, "\n"))
           .ok())
    return 1;

  const Target targets[] = {
      {"example_server", (*ours)->port(), dir->File("known_hosts"),
       (*ours)->process().pid()},
      {"sshd", (*sshd)->port(), (*sshd)->known_hosts_path(),
       static_cast<pid_t>(sshd_pid)},
  };
  std::cout << absl::StrFormat(
      "ssh pulling %d MiB from each server over loopback, best of %d run(s)\n",
      bytes >> 20, runs);
  std::cout << absl::StrFormat("%-31s %12s %12s %7s %14s %14s\n", "cipher",
                               "ours MB/s", "sshd MB/s", "ratio",
                               "ours core-s/GB", "sshd core-s/GB");
  for (const std::string& cipher : ciphers) {
    Result best[2];
    for (int run = 0; run < runs; ++run) {
      for (int t = 0; t < 2; ++t) {
        Result r = Pull(targets[t], user->private_path, cipher, bytes);
        if (r.ok && r.mb_per_s > best[t].mb_per_s) best[t] = r;
      }
    }
    const double gb = static_cast<double>(bytes) / 1e9;
    std::cout << absl::StrFormat(
        "%-31s %12.1f %12.1f %6.2fx %14.3f %14.3f\n", cipher, best[0].mb_per_s,
        best[1].mb_per_s,
        best[1].mb_per_s > 0 ? best[0].mb_per_s / best[1].mb_per_s : 0.0,
        best[0].server_cpu_s / gb, best[1].server_cpu_s / gb);
  }
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) { return sallyport::testing::Main(argc, argv); }
