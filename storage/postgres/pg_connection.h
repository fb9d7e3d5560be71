// One libpq connection with its prepared statements. Not thread-safe:
// PostgresStore lends each connection to one thread at a time.
#ifndef SALLYPORT_STORAGE_POSTGRES_PG_CONNECTION_H_
#define SALLYPORT_STORAGE_POSTGRES_PG_CONNECTION_H_

#include <postgresql/libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/sql/database.h"

namespace sallyport::storage::postgres {

class PgConnection final : public sql::Tx {
 public:
  // Connects with libpq. `conninfo` is a URI or key=value string; our
  // defaults (connect_timeout, application_name) come first so it can
  // override them, client_encoding=UTF8 comes last so it cannot.
  // kUnavailable naming the server (never the conninfo: it may hold a
  // password) when the connection fails.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(
      const std::string& conninfo, absl::Duration connect_timeout);
  ~PgConnection() override;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  absl::StatusOr<std::vector<sql::Row>> Query(
      const sql::Statement& stmt, absl::Span<const sql::Param> params) override;
  absl::StatusOr<int64_t> Exec(const sql::Statement& stmt,
                               absl::Span<const sql::Param> params) override;
  // One pipeline (libpq pipeline mode): one round trip for all queries.
  absl::StatusOr<std::vector<std::vector<sql::Row>>> QueryBatch(
      absl::Span<const sql::BatchQuery> queries) override;
  absl::Status ExecScript(const char* script) override;

  // Transaction control (BEGIN ..., COMMIT, ROLLBACK) through the extended
  // protocol without parameters. Returns the command tag ("COMMIT", or
  // "ROLLBACK" when COMMIT found the transaction aborted).
  absl::StatusOr<std::string> Command(const char* sql);

  // The connection is dead (lost, or the server is shutting down): it must
  // not go back to the pool, and what failed on it may be retried on a new
  // one if nothing was committed.
  bool broken() const { return broken_; }
  // The last error was a serialization failure or a deadlock (40001,
  // 40P01): the transaction should be retried.
  bool retryable_conflict() const { return retryable_conflict_; }
  // Non-blocking: reads whatever the server sent while idle (e.g. a
  // shutdown notice) and reports whether the connection is still usable.
  bool Healthy();
  // "database D at H:P", for messages.
  const std::string& description() const { return description_; }

 private:
  explicit PgConnection(PGconn* conn);
  absl::StatusOr<std::string> Prepare(const sql::Statement& stmt,
                                      absl::Span<const sql::Param> params);
  // Runs a prepared statement; the result is owned by the caller.
  absl::StatusOr<PGresult*> Run(const sql::Statement& stmt,
                                absl::Span<const sql::Param> params);
  // Maps a failed result (or a connection failure when res is null) to a
  // Status and updates broken_/retryable_conflict_.
  absl::Status Error(const PGresult* res, const char* what);

  PGconn* conn_;
  std::string description_;
  bool broken_ = false;
  bool retryable_conflict_ = false;
  int next_statement_id_ = 0;
  absl::flat_hash_map<const sql::Statement*, std::string> prepared_;
};

}  // namespace sallyport::storage::postgres

#endif  // SALLYPORT_STORAGE_POSTGRES_PG_CONNECTION_H_
