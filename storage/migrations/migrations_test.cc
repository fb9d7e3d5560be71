// The embedded migrations are complete and in step across the dialects.
#include "storage/migrations/migrations.h"

#include <string>

#include "gtest/gtest.h"

namespace sallyport::storage::migrations {
namespace {

TEST(MigrationsTest, BothDialectsHaveTheSameContiguousVersions) {
  ASSERT_FALSE(SqliteMigrations().empty());
  ASSERT_EQ(SqliteMigrations().size(), PostgresMigrations().size());
  for (size_t i = 0; i < SqliteMigrations().size(); ++i) {
    EXPECT_EQ(SqliteMigrations()[i].version, static_cast<int>(i) + 1);
    EXPECT_EQ(PostgresMigrations()[i].version, static_cast<int>(i) + 1);
    EXPECT_STREQ(SqliteMigrations()[i].name, PostgresMigrations()[i].name);
  }
  EXPECT_EQ(LatestSchemaVersion(), static_cast<int>(SqliteMigrations().size()));
}

TEST(MigrationsTest, EmbedsTheWholeScript) {
  const std::string sqlite = SqliteMigrations()[0].sql;
  const std::string postgres = PostgresMigrations()[0].sql;
  EXPECT_NE(sqlite.find("CREATE TABLE users"), std::string::npos);
  EXPECT_NE(sqlite.find("ca_keys_one_active"), std::string::npos);
  EXPECT_NE(postgres.find("CREATE SEQUENCE certificate_serials"),
            std::string::npos);
  EXPECT_NE(postgres.find("ca_keys_one_active"), std::string::npos);
}

}  // namespace
}  // namespace sallyport::storage::migrations
