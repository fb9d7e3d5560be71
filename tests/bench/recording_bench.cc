// The recording benchmark of issue 14: the same gateway with recording on
// (the spool recorder, default policy: what `sallyport-gateway serve` runs)
// and off (a null recorder), in one run, on a real deployment from
// BastionFixture (real CA, `sp login` certificates, sshd targets), over
// loopback with aes128-gcm:
//
//   (a) exec bulk  ssh -l LOGIN+web01 gateway 'head -c N /dev/zero'
//       (recorded: the command line, the first record_exec_output_limit
//       bytes, then counts and a SHA-256)
//   (b) pty text   ssh -tt -l LOGIN+web01 gateway 'yes TEXT | head -c N'
//       (a pty session: every byte recorded)
//
// Both gateways run in this process, from the enrolled gateway's own
// gateway.yaml, on their own ports; the bench itself only waits for the
// ssh clients (child processes, not counted), so this process's CPU time
// (getrusage RUSAGE_SELF) is the gateway's. Rows alternate off/on for
// --rounds rounds. Per row: MB/s, gateway core-s per GB, and for "on" the
// spool write rate (spool bytes written / wall time) in MB/s. No upload
// rate: the gateway has no shipper yet. Every row prints the load average.
//
//   bazel run --config=opt //tests/bench:recording_bench --
//       [--bytes=2147483648] [--pty-bytes=209715200] [--rounds=1]
//
// Goals (issue 14): ≤ 3 % throughput loss for (a), ≤ 10 % for (b).
// A benchmark: it asserts nothing.
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gateway/recorder.h"
#include "gateway/serve.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

constexpr char kCipher[] = "aes128-gcm@openssh.com";
constexpr char kUser[] = "olivia";

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Bytes in the *.spool files of `dir`; removes them when `remove`.
uint64_t SpoolBytes(const std::string& dir, bool remove) {
  uint64_t total = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() < 6 || name.substr(name.size() - 6) != ".spool") {
        continue;
      }
      const std::string path = dir + "/" + name;
      struct stat st = {};
      if (::stat(path.c_str(), &st) == 0) total += st.st_size;
      if (remove) ::unlink(path.c_str());
    }
    ::closedir(d);
  }
  return total;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return absl::StrCat(one, " ", five);
}

struct Row {
  std::string workload;
  bool recording = false;
  bool ok = false;
  double mb_per_s = 0;
  double core_s_per_gb = 0;
  double spool_mb_per_s = 0;
  uint64_t spool_bytes = 0;
  std::string load;
};

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  uint64_t pty_bytes = uint64_t{200} << 20;
  int rounds = 1;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &bytes);
    } else if (absl::ConsumePrefix(&a, "--pty-bytes=")) {
      (void)absl::SimpleAtoi(a, &pty_bytes);
    } else if (absl::ConsumePrefix(&a, "--rounds=")) {
      (void)absl::SimpleAtoi(a, &rounds);
    } else {
      std::cerr << "usage: recording_bench [--bytes=N] [--pty-bytes=N] "
                   "[--rounds=N]\n";
      return 2;
    }
  }

  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.sshd_config["Ciphers"] = kCipher;
  options.sshd_config["LogLevel"] = "ERROR";
  // As in gateway_bench: no login rc in the measured commands.
  options.sshd_config["SetEnv"] = "SHLVL=1";
  absl::StatusOr<std::unique_ptr<BastionFixture>> f =
      BastionFixture::Start(options);
  if (!f.ok()) {
    std::cerr << "fixture: " << f.status() << "\n";
    return 1;
  }
  BastionFixture& fx = **f;
  // Enrol the gateway the documented way, then serve its config here.
  if (absl::Status st =
          fx.StartGateway(RunfilePath("gateway/sallyport-gateway"));
      !st.ok()) {
    std::cerr << "gateway: " << st << "\n";
    return 1;
  }
  (void)fx.StopGateway();
  absl::StatusOr<gateway::GatewaySettings> settings =
      gateway::LoadServeConfig(fx.gateway_state_dir() + "/gateway.yaml");
  if (!settings.ok()) {
    std::cerr << "gateway.yaml: " << settings.status() << "\n";
    return 1;
  }
  settings->listen = "127.0.0.1:0";
  settings->metrics_listen = "";
  const std::string spool_dir = settings->spool_dir;
  const std::string log_path = fx.gateway_state_dir() + "/bench-gateway.log";
  auto log_file = std::make_shared<std::ofstream>(log_path, std::ios::app);
  auto start = [&](gateway::Recorder* recorder)
      -> absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> {
    gateway::GatewayServer::Options o;
    o.config = *settings;
    o.recorder = recorder;
    o.log = [log_file](std::string_view line) { *log_file << line << "\n"; };
    return gateway::GatewayServer::Start(std::move(o));
  };
  gateway::NullRecorder null_recorder;
  absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> off =
      start(&null_recorder);
  absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> on = start(nullptr);
  if (!off.ok() || !on.ok()) {
    std::cerr << "serve: " << (off.ok() ? on.status() : off.status()) << "\n";
    return 1;
  }
  // Let both fetch the CA keys before the first connection.
  absl::SleepFor(absl::Seconds(3));

  const BastionFixture::User* user = *fx.user(kUser);
  const std::string login = fx.target_login() + "+web01";
  auto ssh = [&](uint16_t port, bool pty, const std::string& command) {
    std::vector<std::string> v = {
        "/bin/sh", "-c", "exec \"$@\" > /dev/null", "sh",
        "ssh",     "-F", user->ssh_config,          "-c",
        kCipher,   "-p", absl::StrCat(port),        "-l",
        login};
    if (pty) v.push_back("-tt");
    v.push_back("gateway");
    v.push_back(command);
    return v;
  };
  const std::string exec_cmd = absl::StrCat("head -c ", bytes, " /dev/zero");
  const std::string pty_cmd = absl::StrCat(
      "yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c ",
      pty_bytes);

  std::cout << absl::StrFormat(
                   "recording_bench: %s, exec %d MiB, pty %d MiB, %d round(s); "
                   "user %s; "
                   "%d cores; spool %s\n",
                   kCipher, bytes >> 20, pty_bytes >> 20, rounds, kUser,
                   sysconf(_SC_NPROCESSORS_ONLN), spool_dir)
            << std::flush;
  std::vector<Row> rows;
  auto run = [&](const std::string& workload, bool pty, uint64_t n,
                 bool recording) {
    gateway::GatewayServer& gw = recording ? **on : **off;
    Row row;
    row.workload = workload;
    row.recording = recording;
    (void)SpoolBytes(spool_dir, true);
    const double cpu_before = SelfCpuSeconds();
    const absl::Time t0 = absl::Now();
    RunOptions ro;
    ro.timeout = absl::Minutes(30);
    absl::StatusOr<RunResult> r = RunCommand(
        ssh(gw.local_endpoint().port(), pty, pty ? pty_cmd : exec_cmd), ro);
    const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    // The session's end (the spool's last fsync) happens just after.
    absl::SleepFor(absl::Milliseconds(300));
    const double cpu = SelfCpuSeconds() - cpu_before;
    row.spool_bytes = SpoolBytes(spool_dir, true);
    row.load = LoadAverage();
    if (!r.ok() || !r->ok()) {
      std::cerr << workload << (recording ? " on" : " off") << ": failed: "
                << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
      rows.push_back(row);
      return;
    }
    row.ok = true;
    row.mb_per_s = static_cast<double>(n) / seconds / 1e6;
    row.core_s_per_gb = cpu / (static_cast<double>(n) / 1e9);
    row.spool_mb_per_s = static_cast<double>(row.spool_bytes) / seconds / 1e6;
    std::cout << absl::StrFormat(
                     "  %-9s recording %-3s %8.1f MB/s  %6.3f core-s/GB  "
                     "spool %8.1f MiB  %7.1f MB/s  (load %s)\n",
                     workload, recording ? "on" : "off", row.mb_per_s,
                     row.core_s_per_gb,
                     static_cast<double>(row.spool_bytes) / (1 << 20),
                     row.spool_mb_per_s, row.load)
              << std::flush;
    rows.push_back(row);
  };
  for (int i = 0; i < rounds; ++i) {
    if (bytes > 0) {
      run("exec bulk", false, bytes, false);
      run("exec bulk", false, bytes, true);
    }
    if (pty_bytes > 0) {
      run("pty text", true, pty_bytes, false);
      run("pty text", true, pty_bytes, true);
    }
  }

  std::cout << "\n| workload | recording | MB/s | gateway core-s/GB | spool "
               "write MB/s | throughput on/off | loss | goal |\n"
               "|---|---|---|---|---|---|---|---|\n";
  for (const std::string workload : {"exec bulk", "pty text"}) {
    double sum[2] = {0, 0}, cpu[2] = {0, 0}, spool = 0;
    int count[2] = {0, 0};
    for (const Row& r : rows) {
      if (r.workload != workload || !r.ok) continue;
      sum[r.recording] += r.mb_per_s;
      cpu[r.recording] += r.core_s_per_gb;
      if (r.recording) spool += r.spool_mb_per_s;
      ++count[r.recording];
    }
    if (count[0] == 0 || count[1] == 0) continue;
    const double off_mbs = sum[0] / count[0], on_mbs = sum[1] / count[1];
    const double ratio = on_mbs / off_mbs;
    const std::string goal = workload == "exec bulk" ? "≤ 3 %" : "≤ 10 %";
    std::cout << absl::StrFormat("| %s | off | %.1f | %.3f | – | | | |\n",
                                 workload, off_mbs, cpu[0] / count[0]);
    std::cout << absl::StrFormat(
        "| %s | on | %.1f | %.3f | %.1f | %.3f | %.1f %% | %s |\n", workload,
        on_mbs, cpu[1] / count[1], spool / count[1], ratio, (1 - ratio) * 100,
        goal);
  }
  std::cout << "(means over " << rounds
            << " round(s); upload rate: no shipper in this build)\n";
  on->reset();
  off->reset();
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) { return sallyport::testing::Main(argc, argv); }
