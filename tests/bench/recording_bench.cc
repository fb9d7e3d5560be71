// The recording benchmark of issue 14, in one run, on a real deployment
// from BastionFixture (real CA, `sp login` certificates, sshd targets), over
// loopback with aes128-gcm:
//
//   recording on   the real `sallyport-gateway serve` binary (spool
//                  recorder with the default policy, shipper to the CA);
//   recording off  the same gateway code with a NullRecorder, in a child
//                  process of this bench (`--serve-null=CONFIG`: the same
//                  enrolled gateway.yaml, its own port, no spool, no
//                  shipper). A role with `record: never` would be the other
//                  way, but the gateway does not act on it yet (it only
//                  logs the decision's record field).
//
// Workloads (stock ssh, output counted by `wc -c`):
//   (a) exec bulk  ssh -l LOGIN+web01 gateway 'head -c N /dev/zero'
//       (recorded: the command line, the first record_exec_output_limit
//       bytes, then counts and a SHA-256 of the whole stream)
//   (b) pty text   ssh -tt -l LOGIN+web01 gateway 'yes TEXT | head -c N'
//       (a pty session: every byte recorded)
//
// Per row: MB/s (bytes the client received / wall time), gateway core-s
// per GB from /proc/PID/stat (tests/bench/process_cpu.h) over the session,
// and for "on" rows: the spool file's size and write rate (spool bytes /
// session time), the upload to the CA (time from the session's start until
// the shipper deleted the spool file, i.e. the CA confirmed every record
// and the session's end; its MB/s and the lag after the session ended),
// and the gateway's and the CA's CPU including the shipping. Rows alternate
// off/on for --rounds rounds; every row prints `uptime`'s load.
//
// Then the spool writer alone (audit::SpoolRecorder in this process, one
// session, 32 KiB data records, at most a 2 MiB window unwritten as the
// gateway keeps it): its write rate and CPU per GB, the recorder's
// capacity without SSH around it.
//
//   bazel run -c opt //tests/bench:recording_bench --
//       [--bytes=2147483648] [--pty-bytes=209715200] [--rounds=1]
//       [--spool-bytes=536870912] [--gateway-b=BIN]
//
// --gateway-b=BIN adds a third gateway with recording on: another build of
// `sallyport-gateway` (e.g. before a change), on a copy of the config with
// its own spool_dir, measured in the same rounds ("on B"). With
// --bytes=0 --pty-bytes=0 only the spool writer runs (no deployment).
//
// Goals (issue 14): ≤ 3 % throughput loss for (a), ≤ 10 % for (b).
// A benchmark: it asserts nothing.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "audit/recorder.h"
#include "gateway/recorder.h"
#include "gateway/serve.h"
#include "tests/bench/process_cpu.h"
#include "tests/harness/bastion_fixture.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/net_util.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

constexpr char kCipher[] = "aes128-gcm@openssh.com";
constexpr char kUser[] = "olivia";

std::string Uptime() {
  absl::StatusOr<RunResult> r = RunCommand({"uptime"});
  if (!r.ok()) return "?";
  return std::string(absl::StripAsciiWhitespace(r->out));
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return absl::StrCat(one, " ", five);
}

double SelfCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The first *.spool file in `dir`, "" when none.
std::string FindSpool(const std::string& dir) {
  std::string found;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 6 && name.substr(name.size() - 6) == ".spool") {
        found = dir + "/" + name;
        break;
      }
    }
    ::closedir(d);
  }
  return found;
}

// Watches the one spool file a recorded session makes: keeps it open (so
// its final size is known after the shipper deleted it) and notes when it
// is gone.
class SpoolWatch {
 public:
  explicit SpoolWatch(std::string dir) : dir_(std::move(dir)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SpoolWatch() {
    stop_ = true;
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  // Waits (up to `timeout`) until the spool file was seen and deleted;
  // returns when it was deleted, or nullopt.
  std::optional<absl::Time> WaitShipped(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return shipped_.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
    return shipped_;
  }
  uint64_t Bytes() {
    absl::MutexLock lock(&mu_);
    struct stat st = {};
    if (fd_ < 0 || ::fstat(fd_, &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  void Run() {
    std::string path;
    while (!stop_) {
      if (path.empty()) {
        path = FindSpool(dir_);
        if (!path.empty()) {
          const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
          absl::MutexLock lock(&mu_);
          fd_ = fd;
        }
      } else if (::access(path.c_str(), F_OK) != 0) {
        absl::MutexLock lock(&mu_);
        shipped_ = absl::Now();
        return;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  const std::string dir_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  std::optional<absl::Time> shipped_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// --serve-null=CONFIG --listen=HOST:PORT: the gateway with recording off.
int ServeNull(const std::string& config, const std::string& listen) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  absl::StatusOr<gateway::GatewaySettings> settings =
      gateway::LoadServeConfig(config);
  if (!settings.ok()) {
    std::cerr << "gateway.yaml: " << settings.status() << "\n";
    return 1;
  }
  settings->listen = listen;
  settings->metrics_listen = "";
  gateway::NullRecorder null_recorder;
  gateway::GatewayServer::Options o;
  o.config = *settings;
  o.recorder = &null_recorder;
  absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> server =
      gateway::GatewayServer::Start(std::move(o));
  if (!server.ok()) {
    std::cerr << "serve: " << server.status() << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  server->reset();
  return 0;
}

// The spool writer alone: `total` bytes as 32 KiB data records of one
// session, at most `window` bytes queued and not yet written.
void SpoolOnly(const std::string& dir, uint64_t total) {
  constexpr size_t kRecord = 32 << 10;
  constexpr uint64_t kWindow = 2 << 20;
  audit::RecorderOptions ro;
  ro.spool_dir = dir;
  ro.gateway_id = "bench";
  absl::StatusOr<std::unique_ptr<audit::SpoolRecorder>> rec =
      audit::SpoolRecorder::Start(ro);
  if (!rec.ok()) {
    std::cerr << "spool: " << rec.status() << "\n";
    return;
  }
  audit::v1::RecordingSession meta;
  meta.set_session_id("spool-bench");
  meta.set_user("bench");
  meta.set_login("bench");
  meta.set_host("bench");
  absl::StatusOr<std::shared_ptr<audit::SessionRecording>> s =
      (*rec)->OpenSession(meta, absl::Now());
  if (!s.ok()) {
    std::cerr << "spool: " << s.status() << "\n";
    return;
  }
  absl::Mutex mu;
  int wakes = 0;
  (*s)->SetWaker([&] {
    absl::MutexLock lock(&mu);
    ++wakes;
  });
  std::string chunk(kRecord, 'x');
  for (size_t i = 0; i < chunk.size(); ++i) {
    chunk[i] = static_cast<char>('a' + (i * 7) % 26);
  }
  const uint64_t records = total / kRecord;
  const uint64_t window_records = kWindow / kRecord;
  const double cpu0 = SelfCpuSeconds();
  const absl::Time t0 = absl::Now();
  for (uint64_t i = 1; i <= records; ++i) {
    audit::v1::RecordingRecord r;
    r.set_channel_id(0);
    r.set_offset_us((*s)->OffsetUs(absl::Now()));
    r.mutable_data()->set_direction(audit::v1::RECORD_DIRECTION_OUTPUT);
    r.mutable_data()->set_bytes(chunk);
    absl::StatusOr<uint64_t> seq = (*s)->Append(std::move(r));
    if (!seq.ok()) {
      std::cerr << "spool: " << seq.status() << "\n";
      return;
    }
    if (*seq > window_records) {
      const uint64_t need = *seq - window_records;
      absl::MutexLock lock(&mu);
      auto written = [&] { return (*s)->Written(need); };
      mu.Await(absl::Condition(&written));
    }
  }
  {
    const uint64_t last = (*s)->last_queued();
    absl::MutexLock lock(&mu);
    auto written = [&] { return (*s)->Written(last); };
    mu.Await(absl::Condition(&written));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  const double cpu = SelfCpuSeconds() - cpu0;
  (*s)->End(audit::v1::SESSION_STATUS_ENDED, "");
  rec->reset();
  struct stat st = {};
  ::stat((dir + "/spool-bench.spool").c_str(), &st);
  const double mb = static_cast<double>(records * kRecord) / 1e6;
  std::cout << absl::StrFormat(
                   "  spool writer alone: %.0f MB in %.2f s: %.1f MB/s, "
                   "%.3f core-s/GB (writer + appender), file %.1f MiB, "
                   "%d wakes  (load %s)\n",
                   mb, seconds, mb / seconds, cpu / (mb / 1e3),
                   static_cast<double>(st.st_size) / (1 << 20), wakes,
                   LoadAverage())
            << std::flush;
  ::unlink((dir + "/spool-bench.spool").c_str());
}

// A gateway under test: recording off, on, or on with --gateway-b.
struct Variant {
  std::string name;
  uint16_t port = 0;
  pid_t pid = 0;
  std::string spool_dir;  // empty: recording off
};

// Serves `binary` on a copy of the enrolled gateway.yaml with its own
// spool_dir (STATE/spool-b) and metrics port, on a free port.
absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartGatewayB(
    BastionFixture& fx, const std::string& binary, uint16_t* port) {
  const std::string config = fx.gateway_state_dir() + "/gateway-b.yaml";
  absl::StatusOr<uint16_t> metrics = FreeLoopbackPort();
  if (!metrics.ok()) return metrics.status();
  std::string yaml;
  for (absl::string_view line : absl::StrSplit(
           ReadFileOrEmpty(fx.gateway_state_dir() + "/gateway.yaml"), '\n')) {
    if (absl::StartsWith(line, "metrics_listen:") ||
        absl::StartsWith(line, "spool_dir:")) {
      continue;
    }
    absl::StrAppend(&yaml, line, "\n");
  }
  absl::StrAppend(&yaml, "metrics_listen: \"127.0.0.1:", *metrics,
                  "\"\nspool_dir: \"spool-b\"\n");
  if (absl::Status st = WriteFile(config, yaml, 0600); !st.ok()) return st;
  absl::StatusOr<uint16_t> p = FreeLoopbackPort();
  if (!p.ok()) return p.status();
  BackgroundProcess::Options po;
  po.log_path = fx.gateway_state_dir() + "/gateway-b.log";
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> proc =
      BackgroundProcess::Start({binary, "serve", "--config", config, "--listen",
                                absl::StrCat("127.0.0.1:", *p)},
                               po);
  if (!proc.ok()) return proc.status();
  if (absl::Status st = WaitForTcpListener("127.0.0.1", *p, absl::Seconds(60));
      !st.ok()) {
    return absl::UnavailableError(
        absl::StrCat(st.message(), "\n", ReadFileOrEmpty(po.log_path)));
  }
  *port = *p;
  return proc;
}

struct Row {
  std::string workload;
  std::string variant;
  bool recording = false;
  bool ok = false;
  double mb_per_s = 0;
  double core_s_per_gb = 0;
  double spool_mb_per_s = 0;
  double upload_mb_per_s = 0;
  double upload_lag_s = 0;
  double ship_core_s_per_gb = 0;  // gateway until shipped
  double ca_core_s_per_gb = 0;
};

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  uint64_t pty_bytes = uint64_t{200} << 20;
  uint64_t spool_bytes = uint64_t{512} << 20;
  int rounds = 1;
  std::string serve_null, listen, gateway_b;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &bytes);
    } else if (absl::ConsumePrefix(&a, "--pty-bytes=")) {
      (void)absl::SimpleAtoi(a, &pty_bytes);
    } else if (absl::ConsumePrefix(&a, "--spool-bytes=")) {
      (void)absl::SimpleAtoi(a, &spool_bytes);
    } else if (absl::ConsumePrefix(&a, "--rounds=")) {
      (void)absl::SimpleAtoi(a, &rounds);
    } else if (absl::ConsumePrefix(&a, "--gateway-b=")) {
      gateway_b = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--serve-null=")) {
      serve_null = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--listen=")) {
      listen = std::string(a);
    } else {
      std::cerr << "usage: recording_bench [--bytes=N] [--pty-bytes=N] "
                   "[--spool-bytes=N] [--rounds=N] [--gateway-b=BIN]\n";
      return 2;
    }
  }
  if (!serve_null.empty()) return ServeNull(serve_null, listen);
  if (bytes == 0 && pty_bytes == 0) {
    std::cout << "recording_bench: spool writer only; " << Uptime() << "\n";
    absl::StatusOr<TempDir> tmp = TempDir::Create("spoolbench");
    if (!tmp.ok()) return 1;
    SpoolOnly(tmp->path(), spool_bytes);
    return 0;
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
  // Recording on: the real binary, enrolled and served the documented way.
  if (absl::Status st =
          fx.StartGateway(RunfilePath("gateway/sallyport-gateway"));
      !st.ok()) {
    std::cerr << "gateway: " << st << "\n";
    return 1;
  }
  const std::string config = fx.gateway_state_dir() + "/gateway.yaml";
  absl::StatusOr<gateway::GatewaySettings> settings =
      gateway::LoadServeConfig(config);
  if (!settings.ok()) {
    std::cerr << "gateway.yaml: " << settings.status() << "\n";
    return 1;
  }
  // Recording off: this binary with a NullRecorder.
  absl::StatusOr<uint16_t> off_port = FreeLoopbackPort();
  if (!off_port.ok()) return 1;
  char self[4096] = {};
  const ssize_t self_len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (self_len <= 0) return 1;
  BackgroundProcess::Options po;
  po.log_path = fx.gateway_state_dir() + "/null-gateway.log";
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> off =
      BackgroundProcess::Start(
          {std::string(self, self_len), "--serve-null=" + config,
           absl::StrCat("--listen=127.0.0.1:", *off_port)},
          po);
  if (!off.ok()) {
    std::cerr << "null gateway: " << off.status() << "\n";
    return 1;
  }
  if (absl::Status st =
          WaitForTcpListener("127.0.0.1", *off_port, absl::Seconds(60));
      !st.ok()) {
    std::cerr << "null gateway: " << st << "\n"
              << ReadFileOrEmpty(po.log_path) << "\n";
    return 1;
  }
  std::vector<Variant> variants = {
      {"off", *off_port, (*off)->pid(), ""},
      {"on", fx.gateway_port(), fx.gateway_process()->pid(),
       settings->spool_dir},
  };
  std::unique_ptr<BackgroundProcess> gw_b;
  if (!gateway_b.empty()) {
    uint16_t port_b = 0;
    absl::StatusOr<std::unique_ptr<BackgroundProcess>> b =
        StartGatewayB(fx, gateway_b, &port_b);
    if (!b.ok()) {
      std::cerr << "gateway B: " << b.status() << "\n";
      return 1;
    }
    gw_b = *std::move(b);
    variants.push_back(
        {"on B", port_b, gw_b->pid(), fx.gateway_state_dir() + "/spool-b"});
  }
  // Let them fetch the CA keys before the first connection.
  absl::SleepFor(absl::Seconds(3));

  const BastionFixture::User* user = *fx.user(kUser);
  const std::string login = fx.target_login() + "+web01";
  auto ssh = [&](uint16_t port, bool pty, const std::string& command) {
    std::string line = absl::StrCat(
        "ssh -F '", user->ssh_config, "' -c ", kCipher, " -p ", port, " -l '",
        login, "'", pty ? " -tt" : "", " gateway \"$1\" | wc -c");
    return std::vector<std::string>{"/bin/sh", "-c", line, "sh", command};
  };
  const std::string exec_cmd = absl::StrCat("head -c ", bytes, " /dev/zero");
  const std::string pty_cmd = absl::StrCat(
      "yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c ",
      pty_bytes);

  std::cout << absl::StrFormat(
                   "recording_bench: %s, exec %d MiB, pty %d MiB, %d round(s); "
                   "user %s; %d cores; gateway B %s\n%s\n",
                   kCipher, bytes >> 20, pty_bytes >> 20, rounds, kUser,
                   sysconf(_SC_NPROCESSORS_ONLN),
                   gateway_b.empty() ? "-" : gateway_b, Uptime())
            << std::flush;
  const pid_t ca_pid = fx.ca_process().pid();
  std::vector<Row> rows;
  auto run = [&](const std::string& workload, bool pty, const Variant& v) {
    const bool recording = !v.spool_dir.empty();
    Row row;
    row.workload = workload;
    row.variant = v.name;
    row.recording = recording;
    std::unique_ptr<SpoolWatch> watch;
    if (recording) watch = std::make_unique<SpoolWatch>(v.spool_dir);
    const double cpu0 = ProcessTreeCpuSeconds(v.pid);
    const double ca0 = ProcessTreeCpuSeconds(ca_pid);
    const absl::Time t0 = absl::Now();
    RunOptions ro;
    ro.timeout = absl::Minutes(30);
    absl::StatusOr<RunResult> r =
        RunCommand(ssh(v.port, pty, pty ? pty_cmd : exec_cmd), ro);
    const absl::Time t1 = absl::Now();
    const double seconds = absl::ToDoubleSeconds(t1 - t0);
    const double cpu = ProcessTreeCpuSeconds(v.pid) - cpu0;
    uint64_t received = 0;
    if (!r.ok() || !r->ok() ||
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(r->out), &received) ||
        received == 0) {
      std::cerr << workload << " " << v.name << ": failed: "
                << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
      rows.push_back(row);
      return;
    }
    const double gb = static_cast<double>(received) / 1e9;
    row.ok = true;
    row.mb_per_s = gb * 1e3 / seconds;
    row.core_s_per_gb = cpu / gb;
    std::string extra;
    if (recording) {
      std::optional<absl::Time> shipped = watch->WaitShipped(absl::Minutes(10));
      const uint64_t spooled = watch->Bytes();
      const double mb = static_cast<double>(spooled) / 1e6;
      row.spool_mb_per_s = mb / seconds;
      row.ship_core_s_per_gb = (ProcessTreeCpuSeconds(v.pid) - cpu0) / gb;
      row.ca_core_s_per_gb = (ProcessTreeCpuSeconds(ca_pid) - ca0) / gb;
      if (shipped.has_value()) {
        row.upload_mb_per_s = mb / absl::ToDoubleSeconds(*shipped - t0);
        row.upload_lag_s = absl::ToDoubleSeconds(*shipped - t1);
        extra = absl::StrFormat(
            "\n      spool %.1f MiB, %.1f MB/s; at the CA %.2f s after the end "
            "(upload %.1f MB/s); with shipping: gateway %.3f, CA %.3f "
            "core-s/GB",
            static_cast<double>(spooled) / (1 << 20), row.spool_mb_per_s,
            row.upload_lag_s, row.upload_mb_per_s, row.ship_core_s_per_gb,
            row.ca_core_s_per_gb);
      } else {
        extra =
            absl::StrFormat("\n      spool %.1f MiB: NOT SHIPPED within 10 min",
                            static_cast<double>(spooled) / (1 << 20));
      }
    }
    std::cout << absl::StrFormat(
                     "  %-9s %-4s %7.1f MiB %7.2f s %8.1f MB/s  %6.3f "
                     "core-s/GB  (load %s)%s\n",
                     workload, v.name,
                     static_cast<double>(received) / (1 << 20), seconds,
                     row.mb_per_s, row.core_s_per_gb, LoadAverage(), extra)
              << std::flush;
    rows.push_back(row);
  };
  for (int i = 0; i < rounds; ++i) {
    // Rotate which goes first, so load drifts hit each alike.
    std::vector<const Variant*> order;
    for (size_t k = 0; k < variants.size(); ++k) {
      order.push_back(&variants[(k + i) % variants.size()]);
    }
    for (const Variant* v : order) {
      if (bytes > 0) run("exec bulk", false, *v);
    }
    for (const Variant* v : order) {
      if (pty_bytes > 0) run("pty text", true, *v);
    }
  }

  std::cout << "\n| workload | gateway | MB/s | gateway core-s/GB | spool "
               "write MB/s | upload MB/s (lag after end) | gateway + CA "
               "core-s/GB with shipping | vs off | loss | goal |\n"
               "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string workload : {"exec bulk", "pty text"}) {
    double off_mbs = 0;
    for (const Variant& v : variants) {
      Row sum;
      int n = 0;
      for (const Row& r : rows) {
        if (r.workload != workload || r.variant != v.name || !r.ok) continue;
        sum.mb_per_s += r.mb_per_s;
        sum.core_s_per_gb += r.core_s_per_gb;
        sum.spool_mb_per_s += r.spool_mb_per_s;
        sum.upload_mb_per_s += r.upload_mb_per_s;
        sum.upload_lag_s += r.upload_lag_s;
        sum.ship_core_s_per_gb += r.ship_core_s_per_gb;
        sum.ca_core_s_per_gb += r.ca_core_s_per_gb;
        ++n;
      }
      if (n == 0) continue;
      const double mbs = sum.mb_per_s / n;
      if (v.spool_dir.empty()) {
        off_mbs = mbs;
        std::cout << absl::StrFormat(
            "| %s | off | %.1f | %.3f | – | – | – | | | |\n", workload, mbs,
            sum.core_s_per_gb / n);
        continue;
      }
      const double ratio = off_mbs > 0 ? mbs / off_mbs : 0;
      const std::string goal = workload == "exec bulk" ? "≤ 3 %" : "≤ 10 %";
      std::cout << absl::StrFormat(
          "| %s | %s | %.1f | %.3f | %.1f | %.1f (%.2f s) | %.3f + %.3f | "
          "%.3f | %.1f %% | %s |\n",
          workload, v.name, mbs, sum.core_s_per_gb / n, sum.spool_mb_per_s / n,
          sum.upload_mb_per_s / n, sum.upload_lag_s / n,
          sum.ship_core_s_per_gb / n, sum.ca_core_s_per_gb / n, ratio,
          (1 - ratio) * 100, goal);
    }
  }
  std::cout << "(means over " << rounds << " round(s)) " << Uptime() << "\n"
            << std::flush;

  if (spool_bytes > 0) {
    absl::StatusOr<TempDir> tmp = TempDir::Create("spoolbench");
    if (tmp.ok()) SpoolOnly(tmp->path(), spool_bytes);
  }
  if (gw_b) gw_b->Stop();
  (*off)->Stop();
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) { return sallyport::testing::Main(argc, argv); }
