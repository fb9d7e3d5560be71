// SqliteStore: the embedded default Store (one box). libsqlite3 in WAL mode
// with busy_timeout, foreign keys on and prepared statements only; the
// database file is created with mode 0600 (SQLite gives its -wal and -shm
// files the same mode). Several processes may open the same file: writers
// take SQLite's write lock (BEGIN IMMEDIATE) and wait up to busy_timeout.
#ifndef SALLYPORT_STORAGE_SQLITE_SQLITE_STORE_H_
#define SALLYPORT_STORAGE_SQLITE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "storage/issuance_options.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sqlite {

class SqliteStore final : public sql::SqlStore {
 public:
  struct Options {
    // The database file, created (mode 0600) when missing. Not ":memory:".
    std::string path;
    // Timestamps "set by the store". Must outlive the store.
    base::Clock* clock = base::Clock::Real();
    // Connections; readers run in parallel, writers one at a time.
    int pool_size = 4;
    // How long a writer waits for another process's write lock before
    // failing with kUnavailable.
    absl::Duration busy_timeout = absl::Seconds(10);
    // synchronous=FULL: every commit is on disk when it returns (the audit
    // log and certificate serials must survive a power cut). NORMAL is
    // faster in WAL mode but may lose the last commits on power loss.
    bool synchronous_full = true;
    // Serial blocks and group commit (storage/issuance_options.h).
    IssuanceOptions issuance;
  };

  // Creates or opens the file, switches it to WAL and applies the
  // migrations. Errors name the file: kFailedPrecondition when it cannot be
  // opened (a directory, no permission, a missing parent directory) or has a
  // newer schema; kDataLoss when it is not a SQLite database or is corrupt;
  // kInvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Create(Options options);

 private:
  using SqlStore::SqlStore;
};

}  // namespace sallyport::storage::sqlite

#endif  // SALLYPORT_STORAGE_SQLITE_SQLITE_STORE_H_
