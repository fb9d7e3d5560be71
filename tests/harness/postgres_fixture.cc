#include "tests/harness/postgres_fixture.h"

#include <postgresql/libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing {
namespace {

// Debian installs the server binaries under /usr/lib/postgresql/<major>/bin.
absl::StatusOr<std::string> FindPostgresBinDir() {
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    std::string bin = entry.path().string() + "/bin";
    if (access((bin + "/postgres").c_str(), X_OK) == 0 &&
        access((bin + "/initdb").c_str(), X_OK) == 0) {
      int major = std::atoi(entry.path().filename().c_str());
      found.emplace_back(major, bin);
    }
  }
  if (found.empty()) {
    return absl::FailedPreconditionError(
        "no PostgreSQL server under /usr/lib/postgresql/*/bin (install the "
        "postgresql package: deploy/bootstrap.sh)");
  }
  std::sort(found.begin(), found.end());
  return found.back().second;
}

absl::Status Exec(PGconn* conn, const std::string& sql) {
  PGresult* res = PQexec(conn, sql.c_str());
  ExecStatusType st = PQresultStatus(res);
  std::string err = PQresultErrorMessage(res);
  PQclear(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return absl::InternalError(absl::StrCat(sql, ": ", err));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresFixture>> PostgresFixture::Start(
    Options options) {
  auto bin = FindPostgresBinDir();
  if (!bin.ok()) return bin.status();
  auto dir = TempDir::Create("pg");
  if (!dir.ok()) return dir.status();
  std::unique_ptr<PostgresFixture> f(new PostgresFixture(std::move(*dir)));
  f->bin_dir_ = *bin;
  f->database_ = options.database;
  f->data_dir_ = f->dir_.File("data");
  f->log_path_ = f->dir_.File("postgres.log");

  // postgres refuses to run as root.
  if (geteuid() == 0) {
    struct passwd* pw = getpwnam("postgres");
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          "running as root but there is no 'postgres' user to run the server");
    }
    f->run_as_ = "postgres";
    if (chown(f->dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError("chown of the PostgreSQL temp dir failed");
    }
  }
  RunOptions ro;
  ro.run_as_user = f->run_as_;
  ro.timeout = absl::Seconds(120);
  auto init =
      RunCommand({f->bin_dir_ + "/initdb", "-D", f->data_dir_, "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"},
                 ro);
  if (!init.ok()) return init.status();
  if (!init->ok()) {
    return absl::InternalError(
        absl::StrCat("initdb failed: ", init->Describe()));
  }
  if (auto s = f->StartServer(); !s.ok()) return s;
  if (auto s = f->CreateDatabaseNamed(f->database_); !s.ok()) return s;
  return f;
}

absl::Status PostgresFixture::CreateDatabaseNamed(const std::string& name) {
  PGconn* conn = PQconnectdb(absl::StrCat("host=127.0.0.1 port=", port_,
                                          " user=postgres dbname=postgres")
                                 .c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = PQerrorMessage(conn);
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("connect to PostgreSQL: ", err));
  }
  absl::Status created =
      Exec(conn, absl::StrCat("CREATE DATABASE \"", name, "\""));
  PQfinish(conn);
  return created;
}

absl::StatusOr<std::string> PostgresFixture::CreateDatabase(
    const std::string& name) {
  if (absl::Status s = CreateDatabaseNamed(name); !s.ok()) return s;
  return UriFor(name);
}

absl::Status PostgresFixture::StartServer() {
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port_ == 0 || attempt > 0) {
      auto port = FreeLoopbackPort();
      if (!port.ok()) return port.status();
      port_ = *port;
    }
    BackgroundProcess::Options po;
    po.log_path = log_path_;
    po.run_as_user = run_as_;
    po.stop_signal = SIGINT;  // fast shutdown
    auto proc = BackgroundProcess::Start(
        {bin_dir_ + "/postgres", "-D", data_dir_, "-p", std::to_string(port_),
         "-k", dir_.path(), "-c", "listen_addresses=127.0.0.1", "-c",
         "fsync=off", "-c", "synchronous_commit=off", "-c",
         "full_page_writes=off", "-c", "max_connections=200"},
        po);
    if (!proc.ok()) return proc.status();
    process_ = std::move(*proc);
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::string conninfo = absl::StrCat("host=127.0.0.1 port=", port_,
                                        " user=postgres dbname=postgres");
    while (absl::Now() < deadline && process_->Running()) {
      if (PQping(conninfo.c_str()) == PQPING_OK) return absl::OkStatus();
      absl::SleepFor(absl::Milliseconds(50));
    }
    bool died = !process_->Running();
    process_.reset();
    last = absl::UnavailableError(
        absl::StrCat("PostgreSQL did not start on port ", port_,
                     died ? " (it exited)" : " (timeout)",
                     "\n--- postgres log ---\n", Log()));
    if (Log().find("could not bind") == std::string::npos) break;
  }
  return last;
}

absl::Status PostgresFixture::Stop() {
  if (!process_)
    return absl::FailedPreconditionError("PostgreSQL is not running");
  process_->Stop();
  process_.reset();
  return absl::OkStatus();
}

absl::Status PostgresFixture::Restart() {
  if (process_) {
    absl::Status stopped = Stop();
    if (!stopped.ok()) return stopped;
  }
  // Same port, so clients holding the old connection string reconnect.
  return StartServer();
}

std::string PostgresFixture::ConnectionString() const {
  return absl::StrCat("host=127.0.0.1 port=", port_,
                      " user=postgres dbname=", database_);
}

std::string PostgresFixture::ConnectionUri() const { return UriFor(database_); }

std::string PostgresFixture::UriFor(const std::string& database) const {
  return absl::StrCat("postgresql://postgres@127.0.0.1:", port_, "/", database);
}

PostgresFixture::~PostgresFixture() {
  if (process_) process_->Stop();
  if (::testing::Test::HasFailure()) {
    std::cerr << "--- postgres log (" << log_path_ << ") ---\n"
              << Log() << "--- end ---\n";
  }
}

}  // namespace sallyport::testing
