// Storage micro-benchmark: audit appends and certificate records (serial
// allocation + insert) per second, one thread and eight threads, for each
// backend. Plain timing loops; prints one line per measurement.
//
//   storage_bench [--n=N] [--threads=T] [--disk_dir=DIR]
//
// SQLite runs twice: on DIR (default /var/tmp, a real disk: every commit is
// an fsync, synchronous=FULL) and on /dev/shm (tmpfs: the cost of SQLite
// itself). PostgreSQL is the harness server, which runs with fsync=off and
// synchronous_commit=off: the numbers show client, protocol and locking
// cost, not disk latency.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"
#include "storage/store.h"
#include "tests/harness/postgres_fixture.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::storage {
namespace {

struct Flags {
  int n = 2000;
  int threads = 8;
  std::string disk_dir = "/var/tmp";
};

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

int RunSqlite(const std::string& label, const std::string& parent,
              const Flags& flags, int n) {
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
  Report(label, **store, flags, n);
  return 0;
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
  Report("postgres (fsync=off)", **store, flags, flags.n);
  return 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--n=", 0) == 0 &&
        absl::SimpleAtoi(arg.substr(4), &flags.n) && flags.n > 0) {
      continue;
    }
    if (arg.rfind("--threads=", 0) == 0 &&
        absl::SimpleAtoi(arg.substr(10), &flags.threads) && flags.threads > 0) {
      continue;
    }
    if (arg.rfind("--disk_dir=", 0) == 0) {
      flags.disk_dir = arg.substr(11);
      continue;
    }
    std::fprintf(stderr, "usage: %s [--n=N] [--threads=T] [--disk_dir=DIR]\n",
                 argv[0]);
    return 2;
  }
  int rc = 0;
  // Every disk commit waits for an fsync: fewer operations keep it short.
  rc |= RunSqlite("sqlite disk (sync=FULL)", flags.disk_dir, flags,
                  std::max(50, flags.n / 10));
  rc |= RunSqlite("sqlite tmpfs (sync=FULL)", "/dev/shm", flags, flags.n);
  rc |= RunPostgres(flags);
  return rc;
}

}  // namespace
}  // namespace sallyport::storage

int main(int argc, char** argv) { return sallyport::storage::Main(argc, argv); }
