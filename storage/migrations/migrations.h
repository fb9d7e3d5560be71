// The schema migrations, compiled into the binary from storage/migrations/
// (NNNN_name.sqlite.sql and NNNN_name.postgres.sql, embedded by a genrule).
// Both dialects have the same versions 1..LatestSchemaVersion(), in order.
#ifndef SALLYPORT_STORAGE_MIGRATIONS_MIGRATIONS_H_
#define SALLYPORT_STORAGE_MIGRATIONS_MIGRATIONS_H_

#include "absl/types/span.h"

namespace sallyport::storage::migrations {

struct Migration {
  int version;       // 1, 2, 3, ...
  const char* name;  // "init"
  const char* sql;   // the whole script
};

// Ordered by version.
absl::Span<const Migration> SqliteMigrations();
absl::Span<const Migration> PostgresMigrations();

// The schema version this binary creates and understands.
inline int LatestSchemaVersion() {
  return SqliteMigrations().empty() ? 0 : SqliteMigrations().back().version;
}

}  // namespace sallyport::storage::migrations

#endif  // SALLYPORT_STORAGE_MIGRATIONS_MIGRATIONS_H_
