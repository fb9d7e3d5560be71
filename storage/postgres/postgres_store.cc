#include "storage/postgres/postgres_store.h"

#include <algorithm>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "storage/migrations/migrations.h"
#include "storage/postgres/pg_connection.h"
#include "storage/sql/connection_pool.h"
#include "storage/sql/migrate.h"

namespace sallyport::storage::postgres {
namespace {

using sql::TxMode;

const char* BeginFor(TxMode mode) {
  switch (mode) {
    case TxMode::kRead:
      return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
    case TxMode::kSerializable:
      return "BEGIN ISOLATION LEVEL SERIALIZABLE";
    case TxMode::kReadCommitted:
      return "BEGIN ISOLATION LEVEL READ COMMITTED";
    case TxMode::kReadOne:
      break;  // no BEGIN (RunTx)
  }
  return "BEGIN";
}

// Transactions over the pool, with the retry rules of postgres_store.h.
class PostgresDatabase final : public sql::Database {
 public:
  PostgresDatabase(const PostgresStore::Options& options)
      : max_attempts_(options.max_attempts),
        pool_(
            options.pool_size, options.acquire_timeout,
            [conninfo = options.conninfo, timeout = options.connect_timeout] {
              return PgConnection::Connect(conninfo, timeout);
            },
            [](PgConnection& c) { return c.Healthy(); }) {}

  sql::Dialect dialect() const override { return sql::Dialect::kPostgres; }
  void AddIdle(std::unique_ptr<PgConnection> conn) {
    pool_.AddIdle(std::move(conn));
  }

  absl::Status Transact(TxMode mode,
                        absl::FunctionRef<absl::Status(sql::Tx&)> fn) override {
    int reconnects = 0;
    absl::Status last;
    for (int attempt = 0; attempt < max_attempts_; ++attempt) {
      ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn, pool_.Acquire());
      bool commit_sent = false;
      last = RunTx(*conn, mode, fn, commit_sent);
      const bool broken = conn->broken();
      const bool conflict = conn->retryable_conflict();
      pool_.Release(std::move(conn), /*reusable=*/!broken);
      if (last.ok()) return last;
      if (broken) {
        // The server went away: its other connections are gone too.
        pool_.DiscardIdle();
        if (commit_sent) {
          return absl::UnavailableError(absl::StrCat(
              last.message(),
              " (connection lost during COMMIT: the outcome is unknown)"));
        }
        // Nothing was committed, so running it again is safe; once.
        if (++reconnects > 1) return last;
        continue;
      }
      if (!conflict) return last;
      Backoff(attempt);
    }
    return absl::AbortedError(
        absl::StrCat("gave up after ", max_attempts_,
                     " attempts (serialization conflicts): ", last.message()));
  }

 private:
  static absl::Status RunTx(PgConnection& conn, TxMode mode,
                            absl::FunctionRef<absl::Status(sql::Tx&)> fn,
                            bool& commit_sent) {
    if (mode == TxMode::kReadOne) {
      // One statement in autocommit mode: its own transaction, one round
      // trip. Nothing to commit, so a lost connection is always retryable.
      sql::OneStatementTx one(conn);
      return fn(one);
    }
    RETURN_IF_ERROR(conn.Command(BeginFor(mode)).status());
    absl::Status s = fn(conn);
    if (!s.ok()) {
      if (!conn.broken()) conn.Command("ROLLBACK").IgnoreError();
      return s;
    }
    commit_sent = true;
    ASSIGN_OR_RETURN(std::string tag, conn.Command("COMMIT"));
    if (tag != "COMMIT") {
      // COMMIT of a transaction that had already failed rolls back.
      return absl::AbortedError(
          absl::StrCat(conn.description(), ": transaction rolled back"));
    }
    return absl::OkStatus();
  }

  void Backoff(int attempt) {
    const int64_t cap_us =
        std::min<int64_t>(50000, 500LL << std::min(attempt, 7));
    int64_t us;
    {
      absl::MutexLock lock(&rng_mu_);
      us = absl::Uniform<int64_t>(rng_, cap_us / 2, cap_us + 1);
    }
    absl::SleepFor(absl::Microseconds(us));
  }

  const int max_attempts_;
  sql::ConnectionPool<PgConnection> pool_;
  absl::Mutex rng_mu_;
  absl::BitGen rng_ ABSL_GUARDED_BY(rng_mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Create(
    Options options) {
  if (options.conninfo.empty()) {
    return absl::InvalidArgumentError("PostgreSQL store: conninfo is empty");
  }
  if (options.pool_size < 1 || options.max_attempts < 1) {
    return absl::InvalidArgumentError(
        "PostgreSQL store: pool_size and max_attempts must be >= 1");
  }
  if (options.clock == nullptr) {
    return absl::InvalidArgumentError("PostgreSQL store: clock is null");
  }
  if (absl::Status st = options.issuance.Validate(); !st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("PostgreSQL store: ", st.message()));
  }
  ASSIGN_OR_RETURN(
      std::unique_ptr<PgConnection> first,
      PgConnection::Connect(options.conninfo, options.connect_timeout));
  const std::string description = first->description();
  auto db = std::make_unique<PostgresDatabase>(options);
  db->AddIdle(std::move(first));
  ASSIGN_OR_RETURN(int version,
                   sql::Migrate(*db, migrations::PostgresMigrations(),
                                description, options.clock));
  return std::unique_ptr<PostgresStore>(new PostgresStore(
      std::move(db), options.clock, version, options.issuance));
}

}  // namespace sallyport::storage::postgres
