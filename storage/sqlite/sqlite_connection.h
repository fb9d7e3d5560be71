// One SQLite connection with its prepared-statement cache. Not thread-safe:
// SqliteStore hands each connection to one thread at a time.
#ifndef SALLYPORT_STORAGE_SQLITE_SQLITE_CONNECTION_H_
#define SALLYPORT_STORAGE_SQLITE_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/sql/database.h"

namespace sallyport::storage::sqlite {

// Maps a SQLite result code to a Status naming the database file:
// constraint violations → kAlreadyExists (unique) / kFailedPrecondition
// (foreign key, trigger) / kInvalidArgument (check, not null); busy/locked →
// kUnavailable; corrupt/not a database → kDataLoss; cannot open →
// kFailedPrecondition; disk full → kResourceExhausted; else kInternal.
absl::Status SqliteStatus(int rc, const std::string& detail,
                          const std::string& path);

class SqliteConnection final : public sql::Tx {
 public:
  struct Options {
    std::string path;
    absl::Duration busy_timeout;
    bool synchronous_full = true;
  };

  // Opens an existing file (SqliteStore creates it) and applies the
  // per-connection settings: extended result codes, busy_timeout,
  // foreign_keys=ON, synchronous, defensive mode.
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(
      const Options& options);
  ~SqliteConnection() override;
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  absl::StatusOr<std::vector<sql::Row>> Query(
      const sql::Statement& stmt, absl::Span<const sql::Param> params) override;
  absl::StatusOr<int64_t> Exec(const sql::Statement& stmt,
                               absl::Span<const sql::Param> params) override;
  absl::Status ExecScript(const char* script) override;

 private:
  struct Prepared {
    sqlite3_stmt* stmt = nullptr;
    // param_index[i] is SQLite's index of parameter $(i+1).
    std::vector<int> param_index;
  };

  SqliteConnection(sqlite3* db, std::string path)
      : db_(db), path_(std::move(path)) {}
  absl::StatusOr<Prepared*> Prepare(const sql::Statement& stmt);
  absl::Status Bind(Prepared& p, absl::Span<const sql::Param> params);
  // Steps to the end, collecting rows when `rows` is not null.
  absl::Status Run(Prepared& p, std::vector<sql::Row>* rows);
  absl::Status Error(int rc) const;

  sqlite3* db_;
  std::string path_;
  absl::flat_hash_map<const sql::Statement*, Prepared> cache_;
};

}  // namespace sallyport::storage::sqlite

#endif  // SALLYPORT_STORAGE_SQLITE_SQLITE_CONNECTION_H_
