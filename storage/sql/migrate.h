// Applies the embedded schema migrations at open (both backends).
#ifndef SALLYPORT_STORAGE_SQL_MIGRATE_H_
#define SALLYPORT_STORAGE_SQL_MIGRATE_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "storage/migrations/migrations.h"
#include "storage/sql/database.h"

namespace sallyport::storage::sql {

// Brings the database to the newest version in `migrations`, one
// transaction for all of them, serialised against other processes doing the
// same (SQLite: the write lock; PostgreSQL: an advisory lock). Returns the
// schema version. kFailedPrecondition when the database has a newer version
// than this binary knows, naming both versions and `database`.
absl::StatusOr<int> Migrate(Database& db,
                            absl::Span<const migrations::Migration> migrations,
                            std::string_view database, base::Clock* clock);

}  // namespace sallyport::storage::sql

#endif  // SALLYPORT_STORAGE_SQL_MIGRATE_H_
