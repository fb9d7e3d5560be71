#include "storage/sqlite/sqlite_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "storage/migrations/migrations.h"
#include "storage/sql/connection_pool.h"
#include "storage/sql/migrate.h"
#include "storage/sqlite/sqlite_connection.h"

namespace sallyport::storage::sqlite {
namespace {

using sql::Statement;
using sql::TxMode;

constexpr Statement kJournalModeWal("PRAGMA journal_mode = WAL");
constexpr Statement kBeginRead("BEGIN DEFERRED");
constexpr Statement kBeginWrite("BEGIN IMMEDIATE");
constexpr Statement kCommit("COMMIT");
constexpr Statement kRollback("ROLLBACK");

// Creates the file with mode 0600 if it does not exist, so SQLite never
// creates it with the process umask; refuses anything but a regular file.
absl::Status CreateDatabaseFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    return absl::FailedPreconditionError(absl::StrCat(
        "SQLite database ", path, ": cannot open: ", strerror(err)));
  }
  struct stat st;
  const bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  if (!regular) {
    return absl::FailedPreconditionError(
        absl::StrCat("SQLite database ", path, ": not a regular file"));
  }
  return absl::OkStatus();
}

// Transactions over a connection pool. Writers of this process queue on
// write_mu_ (cheaper than spinning in SQLite's busy handler); other processes
// are kept out by SQLite's own write lock, waited for up to busy_timeout.
class SqliteDatabase final : public sql::Database {
 public:
  SqliteDatabase(SqliteConnection::Options options, int pool_size)
      : pool_(pool_size, absl::Minutes(1), [options = std::move(options)] {
          return SqliteConnection::Open(options);
        }) {}

  sql::Dialect dialect() const override { return sql::Dialect::kSqlite; }
  void AddIdle(std::unique_ptr<SqliteConnection> conn) {
    pool_.AddIdle(std::move(conn));
  }

  absl::Status Transact(TxMode mode,
                        absl::FunctionRef<absl::Status(sql::Tx&)> fn) override {
    std::optional<absl::MutexLock> write_lock;
    if (mode != TxMode::kRead && mode != TxMode::kReadOne) {
      write_lock.emplace(&write_mu_);
    }
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> conn, pool_.Acquire());
    absl::Status s = RunTx(*conn, mode, fn);
    pool_.Release(std::move(conn), /*reusable=*/true);
    return s;
  }

 private:
  static absl::Status RunTx(SqliteConnection& conn, TxMode mode,
                            absl::FunctionRef<absl::Status(sql::Tx&)> fn) {
    if (mode == TxMode::kReadOne) {
      // One statement in autocommit mode: its own read transaction.
      sql::OneStatementTx one(conn);
      return fn(one);
    }
    RETURN_IF_ERROR(
        conn.Exec(mode == TxMode::kRead ? kBeginRead : kBeginWrite, {})
            .status());
    absl::Status s = fn(conn);
    if (s.ok()) s = conn.Exec(kCommit, {}).status();
    if (!s.ok()) {
      // Fails harmlessly when SQLite already rolled back.
      conn.Exec(kRollback, {}).IgnoreError();
    }
    return s;
  }

  absl::Mutex write_mu_;
  sql::ConnectionPool<SqliteConnection> pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Create(
    Options options) {
  if (options.path.empty() || options.path == ":memory:" ||
      options.path.rfind("file:", 0) == 0) {
    return absl::InvalidArgumentError(
        "SQLite store: the path must name a database file");
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError("SQLite store: pool_size must be >= 1");
  }
  if (options.clock == nullptr) {
    return absl::InvalidArgumentError("SQLite store: clock is null");
  }
  if (absl::Status st = options.issuance.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SQLite store: ", st.message()));
  }
  RETURN_IF_ERROR(CreateDatabaseFile(options.path));

  SqliteConnection::Options conn_options{options.path, options.busy_timeout,
                                         options.synchronous_full};
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteConnection> first,
                   SqliteConnection::Open(conn_options));
  // WAL is a property of the file: set once, every connection uses it. This
  // is also the first read of the file, so a file that is not a database
  // fails here (kDataLoss naming it).
  ASSIGN_OR_RETURN(std::vector<sql::Row> mode,
                   first->Query(kJournalModeWal, {}));
  if (mode.empty() || mode[0][0].AsBytes() != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("SQLite database ", options.path,
                     ": cannot switch to WAL journal mode"));
  }
  auto db = std::make_unique<SqliteDatabase>(std::move(conn_options),
                                             options.pool_size);
  db->AddIdle(std::move(first));
  ASSIGN_OR_RETURN(int version,
                   sql::Migrate(*db, migrations::SqliteMigrations(),
                                absl::StrCat("SQLite database ", options.path),
                                options.clock));
  return std::unique_ptr<SqliteStore>(
      new SqliteStore(std::move(db), options.clock, version, options.issuance));
}

}  // namespace sallyport::storage::sqlite
