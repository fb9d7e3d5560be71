// Proves PostgresFixture runs a real PostgreSQL that libpq talks to.
#include "tests/harness/postgres_fixture.h"

#include <postgresql/libpq-fe.h>

#include <string>

#include "gtest/gtest.h"

namespace sallyport::testing {
namespace {

std::string QueryOne(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string err = std::string("connect: ") + PQerrorMessage(conn);
    PQfinish(conn);
    return err;
  }
  PGresult* res = PQexec(conn, sql.c_str());
  std::string out =
      PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
          ? PQgetvalue(res, 0, 0)
          : std::string("error: ") + PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  return out;
}

TEST(PostgresFixtureTest, SelectOne) {
  auto pg = PostgresFixture::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  EXPECT_EQ(QueryOne((*pg)->ConnectionString(), "SELECT 1"), "1");
  EXPECT_EQ(QueryOne((*pg)->ConnectionUri(), "SELECT current_database()"),
            "sallyport_test");
}

// Another database on the same server is empty and separate; a name in
// use is an error.
TEST(PostgresFixtureTest, CreateDatabaseOnTheSameServer) {
  auto pg = PostgresFixture::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  ASSERT_EQ(QueryOne((*pg)->ConnectionUri(),
                     "CREATE TABLE t AS SELECT 42 AS v; SELECT v FROM t"),
            "42");
  auto other = (*pg)->CreateDatabase("other_db");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(QueryOne(*other, "SELECT current_database()"), "other_db");
  EXPECT_EQ(QueryOne(*other,
                     "SELECT count(*) FROM pg_tables WHERE "
                     "tablename = 't'"),
            "0");
  EXPECT_FALSE((*pg)->CreateDatabase("other_db").ok());
}

TEST(PostgresFixtureTest, RestartKeepsDataAndPort) {
  auto pg = PostgresFixture::Start();
  ASSERT_TRUE(pg.ok()) << pg.status();
  const std::string conninfo = (*pg)->ConnectionString();
  ASSERT_EQ(
      QueryOne(conninfo, "CREATE TABLE t AS SELECT 42 AS v; SELECT v FROM t"),
      "42");
  ASSERT_TRUE((*pg)->Stop().ok());
  EXPECT_NE(QueryOne(conninfo, "SELECT 1").rfind("connect:", 0),
            std::string::npos);
  ASSERT_TRUE((*pg)->Restart().ok()) << (*pg)->Log();
  EXPECT_EQ(QueryOne(conninfo, "SELECT v FROM t"), "42");
}

TEST(PostgresFixtureTest, StopsAndDeletesEverything) {
  std::string conninfo;
  {
    auto pg = PostgresFixture::Start();
    ASSERT_TRUE(pg.ok()) << pg.status();
    conninfo = (*pg)->ConnectionString();
    ASSERT_EQ(QueryOne(conninfo, "SELECT 1"), "1");
  }
  EXPECT_EQ(PQping(conninfo.c_str()), PQPING_NO_RESPONSE);
}

}  // namespace
}  // namespace sallyport::testing
