// PostgresStore: the Store for several CA and gateway instances sharing
// state. libpq with parameterised, prepared statements only; a connection
// pool sized by Options; SERIALIZABLE transactions retried on serialization
// failure, READ COMMITTED with explicit row locks where an operation has one
// hot row (audit head, join tokens, login counters); a sequence for
// certificate serials. After the server restarts, dead pooled connections
// are dropped and new ones made: an operation that fails because the
// connection was lost before COMMIT is retried once on a new connection;
// if the server is still down it fails with kUnavailable (retryable).
#ifndef SALLYPORT_STORAGE_POSTGRES_POSTGRES_STORE_H_
#define SALLYPORT_STORAGE_POSTGRES_POSTGRES_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "storage/issuance_options.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::postgres {

class PostgresStore final : public sql::SqlStore {
 public:
  struct Options {
    // A libpq connection URI (postgresql://user@host:port/db?sslmode=...)
    // or key=value string. The database must exist; the schema is created.
    std::string conninfo;
    // Timestamps "set by the store". Must outlive the store.
    base::Clock* clock = base::Clock::Real();
    // At most this many connections are open at once.
    int pool_size = 8;
    // Unless the conninfo sets connect_timeout (libpq's minimum is 2 s).
    absl::Duration connect_timeout = absl::Seconds(10);
    // How long an operation waits for a free connection
    // (kResourceExhausted after that).
    absl::Duration acquire_timeout = absl::Seconds(30);
    // Attempts for a transaction that keeps hitting serialization failures
    // or deadlocks before it fails with kAborted.
    int max_attempts = 30;
    // Serial blocks and group commit (storage/issuance_options.h).
    IssuanceOptions issuance;
  };

  // Connects (kUnavailable when the server cannot be reached, naming it but
  // never echoing the conninfo) and applies the migrations
  // (kFailedPrecondition for a newer schema). kInvalidArgument for bad
  // options.
  static absl::StatusOr<std::unique_ptr<PostgresStore>> Create(Options options);

 private:
  using SqlStore::SqlStore;
};

}  // namespace sallyport::storage::postgres

#endif  // SALLYPORT_STORAGE_POSTGRES_POSTGRES_STORE_H_
