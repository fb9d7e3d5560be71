#include "tests/bench/recording_bench_setup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "audit/recorder.h"
#include "audit/recording_record.h"
#include "base/status_macros.h"
#include "gateway/serve.h"
#include "tests/bench/process_cpu.h"
#include "tests/bench/ssh_bench_setup.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing::recbench {
namespace {

double Seconds(const rusage& u) {
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

// Serves `binary` on a copy of the enrolled gateway.yaml with its own
// spool_dir (STATE/spool-<suffix>) and metrics port, on a free port.
absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartGatewayB(
    BastionFixture& fx, const std::string& binary, const std::string& suffix,
    uint16_t* port) {
  const std::string config =
      absl::StrCat(fx.gateway_state_dir(), "/gateway-", suffix, ".yaml");
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
                  "\"\nspool_dir: \"spool-", suffix, "\"\n");
  if (absl::Status st = WriteFile(config, yaml, 0600); !st.ok()) return st;
  absl::StatusOr<uint16_t> p = FreeLoopbackPort();
  if (!p.ok()) return p.status();
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> proc = StartGatewayProcess(
      {binary, "serve", "--config", config, "--listen",
       absl::StrCat("127.0.0.1:", *p)},
      absl::StrCat(fx.gateway_state_dir(), "/gateway-", suffix, ".log"), *p);
  if (!proc.ok()) return proc.status();
  *port = *p;
  return proc;
}

}  // namespace

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
  return Seconds(u);
}

double ChildrenCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return Seconds(u);
}

// ------------------------------------------------------------ SpoolWatch

SpoolWatch::SpoolWatch(std::string dir) : dir_(std::move(dir)) {
  thread_ = std::thread([this] { Run(); });
}

SpoolWatch::~SpoolWatch() {
  stop_ = true;
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

std::optional<absl::Time> SpoolWatch::WaitShipped(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return shipped_.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return shipped_;
}

uint64_t SpoolWatch::Bytes() {
  absl::MutexLock lock(&mu_);
  struct stat st = {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

void SpoolWatch::Run() {
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

// ------------------------------------------------------------ gateways

Deployment::~Deployment() {
  for (auto& b : gateway_b) b->Stop();
  if (off) off->Stop();
}

absl::StatusOr<std::unique_ptr<Deployment>> StartDeployment(
    const std::vector<std::string>& gateway_b) {
  auto d = std::make_unique<Deployment>();
  BastionFixture::Options options = BastionFixture::DefaultOptions();
  options.gateway_log_level = "info";  // the default, not the tests' trace
  options.sshd_config["Ciphers"] = kCipher;
  options.sshd_config["LogLevel"] = "ERROR";
  ASSIGN_OR_RETURN(d->fixture, BastionFixture::Start(options));
  BastionFixture& fx = *d->fixture;
  // Recording on: the real binary, enrolled and served the documented way.
  RETURN_IF_ERROR(fx.StartGateway(RunfilePath("gateway/sallyport-gateway")));
  const std::string config = fx.gateway_state_dir() + "/gateway.yaml";
  ASSIGN_OR_RETURN(gateway::GatewaySettings settings,
                   gateway::LoadServeConfig(config));
  // Recording off: this binary with a NullRecorder.
  ASSIGN_OR_RETURN(uint16_t off_port, FreeLoopbackPort());
  char self[4096] = {};
  const ssize_t self_len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (self_len <= 0) return absl::InternalError("no /proc/self/exe");
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> off = StartGatewayProcess(
      {std::string(self, self_len), "--serve-null=" + config,
       absl::StrCat("--listen=127.0.0.1:", off_port)},
      fx.gateway_state_dir() + "/null-gateway.log", off_port);
  if (!off.ok()) {
    return absl::Status(off.status().code(),
                        absl::StrCat("null gateway: ", off.status().message()));
  }
  d->off = *std::move(off);
  d->variants = {
      {"off", off_port, d->off->pid(), ""},
      {"on", fx.gateway_port(), fx.gateway_process()->pid(),
       settings.spool_dir},
  };
  // "on B", "on C", ...: spool-b, spool-c, ...
  for (size_t i = 0; i < gateway_b.size(); ++i) {
    const char letter = static_cast<char>('b' + i);
    const std::string suffix(1, letter);
    uint16_t port_b = 0;
    ASSIGN_OR_RETURN(std::unique_ptr<BackgroundProcess> b,
                     StartGatewayB(fx, gateway_b[i], suffix, &port_b));
    d->variants.push_back(
        {absl::StrCat("on ",
                      std::string(1, static_cast<char>(letter - 'a' + 'A'))),
         port_b, b->pid(),
         absl::StrCat(fx.gateway_state_dir(), "/spool-", suffix)});
    d->gateway_b.push_back(std::move(b));
  }
  // Let them fetch the CA keys before the first connection.
  absl::SleepFor(absl::Seconds(3));
  return d;
}

// ------------------------------------------------------------ spool alone

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
  // The seqs of the appends not yet a window back (records may be
  // coalesced, so a seq may repeat).
  std::deque<uint64_t> unwritten;
  for (uint64_t i = 1; i <= records; ++i) {
    audit::v1::RecordingRecord r;
    r.set_channel_id(0);
    r.set_offset_us((*s)->OffsetUs((*rec)->clock().Monotonic()));
    r.mutable_data()->set_direction(audit::v1::RECORD_DIRECTION_OUTPUT);
    r.mutable_data()->set_bytes(chunk);
    absl::StatusOr<uint64_t> seq = (*s)->Append(std::move(r));
    if (!seq.ok()) {
      std::cerr << "spool: " << seq.status() << "\n";
      return;
    }
    unwritten.push_back(*seq);
    if (unwritten.size() > window_records) {
      const uint64_t need = unwritten.front();
      unwritten.pop_front();
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

void HashOnly(uint64_t total) {
  constexpr size_t kUpdate = size_t{32} << 10;
  std::string chunk(kUpdate, 'x');
  for (size_t i = 0; i < chunk.size(); ++i) {
    chunk[i] = static_cast<char>('a' + (i * 7) % 26);
  }
  const uint64_t updates = std::max<uint64_t>(total / kUpdate, 1);
  audit::StreamHasher hasher;
  const double cpu0 = ThreadCpuSeconds();
  const absl::Time t0 = absl::Now();
  for (uint64_t i = 0; i < updates; ++i) hasher.Update(chunk);
  absl::StatusOr<std::string> digest = hasher.Finish();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - t0);
  const double cpu = ThreadCpuSeconds() - cpu0;
  if (!digest.ok()) {
    std::cerr << "sha-256: " << digest.status() << "\n";
    return;
  }
  const double mb = static_cast<double>(updates * kUpdate) / 1e6;
  std::cout << absl::StrFormat(
                   "  SHA-256 alone: %.0f MB in %.2f s: %.1f MB/s, %.3f "
                   "core-s/GB (what hashing exec output past the limit "
                   "adds to the gateway at the least)  (load %s)\n",
                   mb, seconds, mb / seconds, cpu / (mb / 1e3), LoadAverage())
            << std::flush;
}

// ------------------------------------------------------------ perf

PerfRecord::PerfRecord(const std::string& dir, pid_t pid,
                       const std::string& name) {
  if (dir.empty()) return;
  BackgroundProcess::Options po;
  po.log_path = absl::StrCat(dir, "/", name, ".log");
  po.stop_signal = SIGINT;
  absl::StatusOr<std::unique_ptr<BackgroundProcess>> p =
      BackgroundProcess::Start(
          {"perf", "record", "-q", "-e", "cpu-clock", "-g", "-p",
           absl::StrCat(pid), "-o", absl::StrCat(dir, "/", name, ".perf")},
          po);
  if (p.ok()) {
    perf_ = *std::move(p);
    absl::SleepFor(absl::Milliseconds(300));  // attached
  } else {
    std::cerr << "perf: " << p.status() << "\n";
  }
}

PerfRecord::~PerfRecord() {
  if (perf_) perf_->Stop();
}

}  // namespace sallyport::testing::recbench
