// OpenStore: picks and opens a Store backend from a URL. Concrete choices are
// made near main (CONVENTIONS.md), so only binaries depend on //storage:open.
#ifndef SALLYPORT_STORAGE_OPEN_H_
#define SALLYPORT_STORAGE_OPEN_H_

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "base/clock.h"
#include "storage/store.h"

namespace sallyport::storage {

struct OpenOptions {
  // Timestamps "set by the store". Must outlive the store.
  base::Clock* clock = base::Clock::Real();
  // Connections kept by the backend (0: the backend's default).
  int pool_size = 0;
};

// Opens the store named by `url`:
//   sqlite:///var/lib/sallyport/sallyport.db   SqliteStore on that absolute
//                                              path (created when missing)
//   postgres://user@host:port/db?sslmode=...   PostgresStore; any libpq
//   postgresql://...                           connection URI, passed as is
// kInvalidArgument for an unknown scheme or a sqlite URL without an absolute
// path (the URL is not echoed: it may hold a password); otherwise the
// backend's errors (see SqliteStore::Create, PostgresStore::Create).
absl::StatusOr<std::unique_ptr<Store>> OpenStore(
    std::string_view url, const OpenOptions& options = {});

}  // namespace sallyport::storage

#endif  // SALLYPORT_STORAGE_OPEN_H_
