#include "storage/sql/migrate.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/sql/codec.h"

namespace sallyport::storage::sql {
namespace {

// The only table the code creates itself; every other table comes from the
// migrations.
constexpr Statement kCreateVersionTable(
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at_us INTEGER NOT NULL) STRICT",
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at_us BIGINT NOT NULL)");
// Serialises concurrent migrations of one PostgreSQL database (the key is
// arbitrary but fixed: "sallyport" in ASCII).
constexpr Statement kMigrationLock(
    "SELECT pg_advisory_xact_lock(7594875232880218740)");
constexpr Statement kCurrentVersion(
    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
constexpr Statement kRecordVersion(
    "INSERT INTO schema_migrations (version, name, applied_at_us) "
    "VALUES ($1, $2, $3)");

}  // namespace

absl::StatusOr<int> Migrate(Database& db,
                            absl::Span<const migrations::Migration> migrations,
                            std::string_view database, base::Clock* clock) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  int version = 0;
  absl::Status s =
      db.Transact(TxMode::kReadCommitted, [&](Tx& tx) -> absl::Status {
        if (db.dialect() == Dialect::kPostgres) {
          RETURN_IF_ERROR(tx.Query(kMigrationLock, {}).status());
        }
        RETURN_IF_ERROR(tx.Exec(kCreateVersionTable, {}).status());
        ASSIGN_OR_RETURN(std::vector<Row> rows, tx.Query(kCurrentVersion, {}));
        version = rows.empty() ? 0 : static_cast<int>(rows[0][0].AsInt());
        if (version > latest) {
          return absl::FailedPreconditionError(absl::StrCat(
              std::string(database), " has schema version ", version,
              ", newer than version ", latest,
              " that this binary knows: upgrade Sallyport (or restore a "
              "backup) before opening it"));
        }
        for (const migrations::Migration& m : migrations) {
          if (m.version <= version) continue;
          absl::Status applied = tx.ExecScript(m.sql);
          if (!applied.ok()) {
            return absl::Status(
                applied.code(),
                absl::StrCat(std::string(database), ": migration ", m.version,
                             " (", m.name,
                             ") failed: ", std::string(applied.message())));
          }
          RETURN_IF_ERROR(tx.Exec(kRecordVersion,
                                  {Param::Int(m.version), Param::Text(m.name),
                                   TimeParam(clock->Now())})
                              .status());
          version = m.version;
        }
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return version;
}

}  // namespace sallyport::storage::sql
