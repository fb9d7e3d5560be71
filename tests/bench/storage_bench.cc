// Storage micro-benchmark: audit appends and certificate records (serial
// allocation + insert) per second, one thread and eight threads, for each
// backend; and recording appends (AppendSessionRecords, what the CA does per
// upload message of a gateway): appends per second and CPU per GB of
// recorded data. Plain timing loops; prints one line per measurement.
//
//   storage_bench [--n=N] [--threads=T] [--disk_dir=DIR]
//                 [--workload=all|audit|recordings]
//                 [--backend=all|sqlite|postgres]
//                 [--appends=N] [--records_per_append=K]
//                 [--record_bytes=B] [--open_channels=C]
//
// SQLite runs twice: on DIR (default /var/tmp, a real disk: every commit is
// an fsync, synchronous=FULL) and on /dev/shm (tmpfs: the cost of SQLite
// itself). PostgreSQL is the harness server, which runs with fsync=off and
// synchronous_commit=off: the numbers show client, protocol and locking
// cost, not disk latency.
//
// Recordings: one active session whose pty channel 0 stays open; each of
// --appends appends holds --records_per_append data records of
// --record_bytes on it (every eighth one input, the rest output), and one
// append in 64 opens an exec channel that the next one closes. The other
// --open_channels - 1 channels are opened first with a data record each and
// stay open and idle. Only on tmpfs and PostgreSQL (on a disk the fsyncs
// would hide the CPU); one thread. CPU per GB: of this process (SQLite runs
// in it, and it is PostgreSQL's client) and for PostgreSQL also of the
// server (the postmaster and its backends). On a busy machine SQLite's
// instruction count per append is the steadier figure (valgrind
// --tool=callgrind --toggle-collect='*SqlStore::AppendSession*'
// storage_bench --workload=recordings --backend=sqlite).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/store.h"
#include "tests/bench/build_mode.h"
#include "tests/bench/process_cpu.h"
#include "tests/harness/postgres_fixture.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::storage {
namespace {

struct Flags {
  int n = 2000;
  int threads = 8;
  std::string disk_dir = "/var/tmp";
  std::string workload = "all";
  std::string backend = "all";
  int appends = 2000;
  int records_per_append = 16;
  int record_bytes = 4096;
  int open_channels = 1;
  bool Audit() const { return workload != "recordings"; }
  bool Recordings() const { return workload != "audit"; }
};

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Runs `op` n times split over `threads` threads; returns ops per second.
double Rate(int n, int threads, const std::function<bool(int)>& op) {
  std::vector<std::thread> workers;
  std::atomic<bool> failed{false};
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = t; i < n; i += threads) {
        if (!op(i)) {
          failed = true;
          return;
        }
      }
    });
  }
  for (auto& w : workers) w.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return failed ? -1 : n / seconds;
}

bool AppendAudit(Store& store, int i) {
  auto e = store.AppendAuditEvent(AuditEventInput{
      "bench.event", "bench",
      absl::StrCat(R"({"i":)", i, R"(,"note":"storage benchmark event"})")});
  if (!e.ok())
    std::fprintf(stderr, "append: %s\n", e.status().ToString().c_str());
  return e.ok();
}

bool RecordCertificate(Store& store, int i) {
  auto serial = store.AllocateSerial();
  if (!serial.ok()) {
    std::fprintf(stderr, "serial: %s\n", serial.status().ToString().c_str());
    return false;
  }
  IssuedCertificate c;
  c.serial = *serial;
  c.key_id = absl::StrCat("user", i % 100, "@laptop");
  c.user = absl::StrCat("user", i % 100);
  c.principals = {c.user, "ubuntu"};
  c.valid_after = absl::Now();
  c.valid_before = c.valid_after + absl::Hours(8);
  c.public_key_fingerprint = absl::StrCat("SHA256:bench-key-", i);
  c.ca_key_fingerprint = "SHA256:bench-ca";
  auto rec = store.RecordCertificate(c);
  if (!rec.ok())
    std::fprintf(stderr, "record: %s\n", rec.status().ToString().c_str());
  return rec.ok();
}

void Report(const std::string& backend, Store& store, const Flags& flags,
            int n) {
  for (int threads : {1, flags.threads}) {
    const double audit =
        Rate(n, threads, [&](int i) { return AppendAudit(store, i); });
    const double certs =
        Rate(n, threads, [&](int i) { return RecordCertificate(store, i); });
    std::printf(
        "%-28s threads=%-2d audit-append/s=%9.0f  certificate-record/s=%9.0f  "
        "(n=%d)\n",
        backend.c_str(), threads, audit, certs, n);
    std::fflush(stdout);
  }
}

// The session's records, numbered from 1, with a made-up chain hash (the
// Store checks its form only; the CA checks the chain).
class RecordingSource {
 public:
  explicit RecordingSource(const Flags& flags)
      : flags_(flags),
        data_(static_cast<size_t>(flags.record_bytes), 'y'),
        exec_channel_(static_cast<uint32_t>(flags.open_channels)) {
    for (size_t i = 1; i < data_.size(); i += 2) data_[i] = '\n';
  }

  // The channel opens (and a data record each but on channel 0).
  std::vector<SessionRecord> Opening() {
    std::vector<SessionRecord> out;
    for (int c = 0; c < flags_.open_channels; ++c) {
      out.push_back(Next(c, SessionRecordKind::kChannelOpen));
      if (c > 0) out.push_back(Data(c, RecordDirection::kOutput));
    }
    return out;
  }

  // Append i: its data records on channel 0; every 64th opens the exec
  // channel, the one after closes it.
  std::vector<SessionRecord> Append(int i) {
    std::vector<SessionRecord> out;
    if (i % 64 == 0) {
      out.push_back(Next(exec_channel_, SessionRecordKind::kChannelOpen));
      out.push_back(Data(exec_channel_, RecordDirection::kOutput));
    }
    for (int k = 0; k < flags_.records_per_append; ++k) {
      out.push_back(Data(0, ++on_pty_ % 8 == 0 ? RecordDirection::kInput
                                               : RecordDirection::kOutput));
    }
    if (i % 64 == 1) {
      SessionRecord close =
          Next(exec_channel_, SessionRecordKind::kChannelClose);
      close.value2 = flags_.record_bytes;
      out.push_back(std::move(close));
    }
    return out;
  }

  // Data bytes of the records handed out so far.
  int64_t data_bytes() const { return data_bytes_; }

 private:
  SessionRecord Next(uint32_t channel, SessionRecordKind kind) {
    SessionRecord r;
    r.session_id = "bench-recording";
    r.seq = ++seq_;
    r.channel = channel;
    r.offset = absl::Microseconds(seq_);
    r.kind = kind;
    r.hash = absl::StrFormat("%064x", seq_);
    return r;
  }
  SessionRecord Data(uint32_t channel, RecordDirection direction) {
    SessionRecord r = Next(channel, SessionRecordKind::kData);
    r.direction = direction;
    r.data = data_;
    data_bytes_ += static_cast<int64_t>(data_.size());
    return r;
  }

  const Flags& flags_;
  std::string data_;  // "y\n" repeated, as `yes` writes to a pty
  const uint32_t exec_channel_;
  uint64_t seq_ = 0;
  uint64_t on_pty_ = 0;  // data records on channel 0
  int64_t data_bytes_ = 0;
};

// Appends per second, MB/s of data, and CPU per GB of data and per append:
// this process's and, for `server_pid` > 0, that server's (with its live
// children).
int ReportRecordings(const std::string& backend, Store& store,
                     const Flags& flags, pid_t server_pid) {
  Session session;
  session.id = "bench-recording";
  session.user = "alice";
  session.login = "ubuntu";
  session.host = "web01";
  session.gateway_id = "gw-bench";
  session.started_at = absl::Now();
  RecordingSource source(flags);
  auto created = store.CreateSession(session);
  auto opened =
      created.ok() ? store.AppendSessionRecords(source.Opening()) : created;
  if (!opened.ok()) {
    std::fprintf(stderr, "%s: %s\n", backend.c_str(),
                 opened.status().ToString().c_str());
    return 1;
  }
  std::vector<std::vector<SessionRecord>> appends;
  appends.reserve(static_cast<size_t>(flags.appends));
  const int64_t bytes_before = source.data_bytes();
  for (int i = 0; i < flags.appends; ++i) appends.push_back(source.Append(i));
  const double gb =
      static_cast<double>(source.data_bytes() - bytes_before) / (1 << 30);
  const double cpu0 = ProcessCpuSeconds();
  const double server0 =
      server_pid > 0 ? testing::ProcessAndChildrenCpuSeconds(server_pid) : 0;
  const absl::Time start = absl::Now();
  for (const std::vector<SessionRecord>& records : appends) {
    auto stored = store.AppendSessionRecords(records);
    if (!stored.ok()) {
      std::fprintf(stderr, "%s: append: %s\n", backend.c_str(),
                   stored.status().ToString().c_str());
      return 1;
    }
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = ProcessCpuSeconds() - cpu0;
  std::string server;
  if (server_pid > 0) {
    const double server_cpu =
        testing::ProcessAndChildrenCpuSeconds(server_pid) - server0;
    server = absl::StrFormat("  server core-s/GB=%6.2f cpu-us/append=%6.1f",
                             server_cpu / gb, server_cpu * 1e6 / flags.appends);
  }
  std::printf(
      "%-28s recording-append/s=%7.0f  MB/s=%7.1f  core-s/GB=%6.2f "
      "cpu-us/append=%6.1f%s  (appends=%d x %d records of %d B, open "
      "channels=%d)\n",
      backend.c_str(), flags.appends / seconds, gb * 1024 / seconds, cpu / gb,
      cpu * 1e6 / flags.appends, server.c_str(), flags.appends,
      flags.records_per_append, flags.record_bytes, flags.open_channels);
  std::fflush(stdout);
  return 0;
}

// `recordings`: the recording appends too (after the others, on a fresh
// store).
int RunSqlite(const std::string& label, const std::string& parent,
              const Flags& flags, int n, bool recordings) {
  auto dir = testing::TempDir::Create("sp-bench", parent);
  if (!dir.ok()) {
    std::fprintf(stderr, "%s: %s\n", label.c_str(),
                 dir.status().ToString().c_str());
    return 1;
  }
  sqlite::SqliteStore::Options options;
  options.path = dir->File("bench.db");
  auto store = sqlite::SqliteStore::Create(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s: %s\n", label.c_str(),
                 store.status().ToString().c_str());
    return 1;
  }
  if (flags.Audit()) Report(label, **store, flags, n);
  return recordings ? ReportRecordings(label, **store, flags, 0) : 0;
}

int RunPostgres(const Flags& flags) {
  auto pg = testing::PostgresFixture::Start();
  if (!pg.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", pg.status().ToString().c_str());
    return 1;
  }
  postgres::PostgresStore::Options options;
  options.conninfo = (*pg)->ConnectionUri();
  options.pool_size = flags.threads;
  auto store = postgres::PostgresStore::Create(options);
  if (!store.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", store.status().ToString().c_str());
    return 1;
  }
  const std::string label = "postgres (fsync=off)";
  if (flags.Audit()) Report(label, **store, flags, flags.n);
  return flags.Recordings()
             ? ReportRecordings(label, **store, flags, (*pg)->pid())
             : 0;
}

// "--name=V" with V a positive number: true, and V in *value.
bool PositiveFlag(const std::string& arg, std::string_view name, int* value) {
  const std::string prefix = absl::StrCat("--", std::string(name), "=");
  return arg.rfind(prefix, 0) == 0 &&
         absl::SimpleAtoi(arg.substr(prefix.size()), value) && *value > 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (PositiveFlag(arg, "n", &flags.n) ||
        PositiveFlag(arg, "threads", &flags.threads) ||
        PositiveFlag(arg, "appends", &flags.appends) ||
        PositiveFlag(arg, "records_per_append", &flags.records_per_append) ||
        PositiveFlag(arg, "record_bytes", &flags.record_bytes) ||
        PositiveFlag(arg, "open_channels", &flags.open_channels)) {
      continue;
    }
    if (arg.rfind("--disk_dir=", 0) == 0) {
      flags.disk_dir = arg.substr(11);
      continue;
    }
    if (arg == "--workload=all" || arg == "--workload=audit" ||
        arg == "--workload=recordings") {
      flags.workload = arg.substr(11);
      continue;
    }
    if (arg == "--backend=all" || arg == "--backend=sqlite" ||
        arg == "--backend=postgres") {
      flags.backend = arg.substr(10);
      continue;
    }
    std::fprintf(stderr,
                 "usage: %s [--n=N] [--threads=T] [--disk_dir=DIR] "
                 "[--workload=all|audit|recordings] "
                 "[--backend=all|sqlite|postgres] [--appends=N] "
                 "[--records_per_append=K] [--record_bytes=B] "
                 "[--open_channels=C]\n",
                 argv[0]);
    return 2;
  }
  int rc = 0;
  if (flags.backend != "postgres") {
    // Every disk commit waits for an fsync: fewer operations keep it short.
    if (flags.Audit()) {
      rc |= RunSqlite("sqlite disk (sync=FULL)", flags.disk_dir, flags,
                      std::max(50, flags.n / 10), false);
    }
    rc |= RunSqlite("sqlite tmpfs (sync=FULL)", "/dev/shm", flags, flags.n,
                    flags.Recordings());
  }
  if (flags.backend != "sqlite") rc |= RunPostgres(flags);
  return rc;
}

}  // namespace
}  // namespace sallyport::storage

int main(int argc, char** argv) {
  sallyport::testing::PrintBuildMode();
  return sallyport::storage::Main(argc, argv);
}
