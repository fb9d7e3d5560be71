#include "storage/open.h"

#include <string>

#include "base/status_macros.h"
#include "storage/postgres/postgres_store.h"
#include "storage/sqlite/sqlite_store.h"

namespace sallyport::storage {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenStore(std::string_view url,
                                                 const OpenOptions& options) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (StartsWith(url, kSqlite)) {
    std::string_view path = url.substr(kSqlite.size());
    if (!StartsWith(path, "/") || path.size() < 2) {
      return absl::InvalidArgumentError(
          "sqlite URL must be sqlite:// followed by an absolute path, e.g. "
          "sqlite:///var/lib/sallyport/sallyport.db");
    }
    sqlite::SqliteStore::Options o;
    o.path = std::string(path);
    o.clock = options.clock;
    if (options.pool_size > 0) o.pool_size = options.pool_size;
    ASSIGN_OR_RETURN(std::unique_ptr<sqlite::SqliteStore> store,
                     sqlite::SqliteStore::Create(std::move(o)));
    return std::unique_ptr<Store>(std::move(store));
  }
  if (StartsWith(url, "postgres://") || StartsWith(url, "postgresql://")) {
    postgres::PostgresStore::Options o;
    o.conninfo = std::string(url);
    o.clock = options.clock;
    if (options.pool_size > 0) o.pool_size = options.pool_size;
    ASSIGN_OR_RETURN(std::unique_ptr<postgres::PostgresStore> store,
                     postgres::PostgresStore::Create(std::move(o)));
    return std::unique_ptr<Store>(std::move(store));
  }
  return absl::InvalidArgumentError(
      "unknown store URL scheme: use sqlite:///absolute/path or "
      "postgres://user@host:port/db");
}

}  // namespace sallyport::storage
