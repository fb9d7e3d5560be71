// The one Store test suite every backend must pass (DESIGN.md §8: both
// backends behave identically). Tests are TEST_P(StoreTest, ...) over a
// StoreBackend; each backend's test binary instantiates them:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest,
//                            ::testing::Values(SqliteBackendParam()),
//                            BackendParamName);
#ifndef SALLYPORT_STORAGE_STORE_TEST_SUITE_H_
#define SALLYPORT_STORAGE_STORE_TEST_SUITE_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "base/clock.h"
#include "gtest/gtest.h"
#include "storage/issuance_options.h"
#include "storage/migrations/migrations.h"
#include "storage/store.h"

namespace sallyport::storage::testing {

// A backend under test. One instance per test.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Prepares a fresh, empty database for this test. An error fails the test
  // (never a skip: a backend that cannot run is a failure).
  virtual absl::Status SetUp() = 0;
  // Opens a new, independent Store on this test's database (like a second
  // CA instance). May be called in a forked child process.
  virtual absl::StatusOr<std::unique_ptr<Store>> Open(base::Clock* clock) = 0;
  // Open with non-default serial blocks / group commit.
  virtual absl::StatusOr<std::unique_ptr<Store>> OpenWithIssuance(
      base::Clock* clock, const IssuanceOptions& issuance) = 0;
  // Runs SQL on this test's database without the Store (tamper tests).
  virtual absl::Status ExecRawSql(const std::string& sql) = 0;
  // Runs one query on this test's database without the Store (tables the
  // Store does not read): each row's columns as their stored bytes, so
  // number columns must be cast to text in the query.
  virtual absl::StatusOr<std::vector<std::vector<std::string>>> QueryRawSql(
      const std::string& sql) = 0;
  // The embedded migrations of this backend's SQL dialect (upgrade tests
  // build an older schema with them).
  virtual absl::Span<const migrations::Migration> Migrations() const = 0;
  // `bytes` as a blob literal of this backend's SQL dialect.
  virtual std::string BlobLiteral(const std::string& bytes) const = 0;
};

struct BackendParam {
  std::string name;
  std::function<std::unique_ptr<StoreBackend>()> make;
};
std::string BackendParamName(
    const ::testing::TestParamInfo<BackendParam>& info);
inline void PrintTo(const BackendParam& param, std::ostream* os) {
  *os << param.name;
}

class StoreTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override;
  // A second store on the same database.
  std::unique_ptr<Store> OpenAnother();
  // A fresh database as a Sallyport at schema `version` left it (its
  // migrations 1..version and their schema_migrations rows)
  // holding `rows` (SQL), opened by this build, which migrates it; nullptr
  // (and a test failure) when any step fails. Replaces store_.
  std::unique_ptr<Store> UpgradeFrom(size_t version, const std::string& rows);

  base::FakeClock clock_;
  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;
};

// Runs `child(i)` for i in [0, n) in n forked processes that start together
// (after all have forked) and returns what each wrote with `report`, in
// order. A child that crashes or exits non-zero is an error.
absl::StatusOr<std::vector<std::string>> RunInChildProcesses(
    int n, const std::function<std::string(int)>& child);

// A user with just a name.
inline User NamedUser(std::string name) {
  User u;
  u.name = std::move(name);
  return u;
}

// Test helpers: statuses and StatusOr values.
// A certificate record of `user` (key id "<user>@laptop", principals user
// and ubuntu) valid from `after` for `ttl`.
IssuedCertificate MakeCert(uint64_t serial, std::string user,
                           CertificatePurpose purpose, absl::Time after,
                           absl::Duration ttl);

inline absl::Status ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace sallyport::storage::testing

#define SP_STORE_CONCAT_INNER_(a, b) a##b
#define SP_STORE_CONCAT_(a, b) SP_STORE_CONCAT_INNER_(a, b)

#define SP_ASSERT_OK(expr)                             \
  do {                                                 \
    const ::absl::Status sp_s_ =                       \
        ::sallyport::storage::testing::ToStatus(expr); \
    ASSERT_TRUE(sp_s_.ok()) << #expr << ": " << sp_s_; \
  } while (0)

#define SP_EXPECT_OK(expr)                             \
  do {                                                 \
    const ::absl::Status sp_s_ =                       \
        ::sallyport::storage::testing::ToStatus(expr); \
    EXPECT_TRUE(sp_s_.ok()) << #expr << ": " << sp_s_; \
  } while (0)

#define SP_EXPECT_CODE(expr, code_)                    \
  do {                                                 \
    const ::absl::Status sp_s_ =                       \
        ::sallyport::storage::testing::ToStatus(expr); \
    EXPECT_EQ(sp_s_.code(), ::absl::StatusCode::code_) \
        << #expr << ": " << sp_s_;                     \
  } while (0)

#define SP_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  SP_ASSERT_OK_AND_ASSIGN_IMPL_(SP_STORE_CONCAT_(sp_sor_, __LINE__), lhs, expr)
#define SP_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)     \
  auto tmp = (expr);                                      \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status(); \
  lhs = std::move(tmp).value()

#endif  // SALLYPORT_STORAGE_STORE_TEST_SUITE_H_
