// PostgresFixture runs a real, throw-away PostgreSQL server: initdb into a
// temporary directory, postgres on a free loopback port (as the `postgres`
// user when the tests run as root), one database created for the test.
#ifndef SALLYPORT_TESTS_HARNESS_POSTGRES_FIXTURE_H_
#define SALLYPORT_TESTS_HARNESS_POSTGRES_FIXTURE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {

class PostgresFixture {
 public:
  struct Options {
    std::string database = "sallyport_test";
  };

  // initdb + start + CREATE DATABASE. The error names what failed and
  // carries the server log.
  static absl::StatusOr<std::unique_ptr<PostgresFixture>> Start(
      Options options);
  static absl::StatusOr<std::unique_ptr<PostgresFixture>> Start() {
    return Start(Options());
  }
  // Stops the server and deletes the data directory; prints the server log
  // if the current GoogleTest test has failed.
  ~PostgresFixture();

  // "host=127.0.0.1 port=N user=postgres dbname=..." for PQconnectdb.
  std::string ConnectionString() const;
  // "postgresql://postgres@127.0.0.1:N/db" (a libpq connection URI).
  std::string ConnectionUri() const;
  // Another empty database on the same server (e.g. one a test, so that
  // a suite starts one server): its connection URI.
  absl::StatusOr<std::string> CreateDatabase(const std::string& name);
  uint16_t port() const { return port_; }
  // The server's process id (the postmaster; its backends are its
  // children); 0 while it is stopped.
  pid_t pid() const { return process_ ? process_->pid() : 0; }
  const std::string& database() const { return database_; }
  std::string Log() const { return ReadFileOrEmpty(log_path_); }

  // Stops the server (fast shutdown) keeping the data, and starts it again
  // on the same port: for reconnect tests.
  absl::Status Stop();
  absl::Status Restart();

 private:
  PostgresFixture(TempDir dir) : dir_(std::move(dir)) {}
  absl::Status StartServer();
  absl::Status CreateDatabaseNamed(const std::string& name);
  std::string UriFor(const std::string& database) const;
  TempDir dir_;
  std::string bin_dir_;
  std::string data_dir_;
  std::string log_path_;
  std::string database_;
  std::optional<std::string> run_as_;
  uint16_t port_ = 0;
  std::unique_ptr<BackgroundProcess> process_;
};

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_POSTGRES_FIXTURE_H_
