// PostgresStore: the shared Store suite against a real PostgreSQL (one
// server per test binary from the harness, a fresh database per test), plus
// what only PostgreSQL has: server restarts, the pool, libpq URLs. If the
// server cannot start, every test fails with the reason; nothing is skipped.
#include "storage/postgres/postgres_store.h"

#include <postgresql/libpq-fe.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/audit_hash.h"
#include "storage/migrations/migrations.h"
#include "storage/open.h"
#include "storage/store_test_suite.h"
#include "tests/harness/postgres_fixture.h"

namespace sallyport::storage::postgres {
namespace {

using ::sallyport::storage::testing::BackendParam;
using ::sallyport::storage::testing::StoreBackend;
using ::sallyport::storage::testing::StoreTest;
using ::sallyport::testing::PostgresFixture;

// One PostgreSQL for the whole binary.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto pg = PostgresFixture::Start();
    if (!pg.ok()) {
      start_error_ = pg.status();
      ADD_FAILURE() << "PostgreSQL did not start: " << start_error_;
      return;
    }
    fixture_ = std::move(*pg);
  }
  void TearDown() override { fixture_.reset(); }

  // The server, or the reason it is not there.
  static absl::StatusOr<PostgresFixture*> Server() {
    if (instance_->fixture_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "PostgreSQL did not start: ", instance_->start_error_.ToString()));
    }
    return instance_->fixture_.get();
  }
  static PostgresEnvironment* instance_;

 private:
  std::unique_ptr<PostgresFixture> fixture_;
  absl::Status start_error_ = absl::UnknownError("not started");
};
PostgresEnvironment* PostgresEnvironment::instance_ =
    static_cast<PostgresEnvironment*>(
        ::testing::AddGlobalTestEnvironment(new PostgresEnvironment));

absl::Status Exec(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  absl::Status s = absl::OkStatus();
  if (PQstatus(conn) != CONNECTION_OK) {
    s = absl::UnavailableError(PQerrorMessage(conn));
  } else {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK) {
      s = absl::InternalError(PQresultErrorMessage(res));
    }
    PQclear(res);
  }
  PQfinish(conn);
  return s;
}

// The rows of one query, each column as its bytes (binary results: cast
// numbers to text in the query).
absl::StatusOr<std::vector<std::vector<std::string>>> QueryRows(
    const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  absl::StatusOr<std::vector<std::vector<std::string>>> out =
      std::vector<std::vector<std::string>>();
  if (PQstatus(conn) != CONNECTION_OK) {
    out = absl::UnavailableError(PQerrorMessage(conn));
  } else {
    PGresult* res = PQexecParams(conn, sql.c_str(), 0, nullptr, nullptr,
                                 nullptr, nullptr, /*resultFormat=*/1);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      out = absl::InternalError(PQresultErrorMessage(res));
    }
    for (int r = 0; out.ok() && r < PQntuples(res); ++r) {
      std::vector<std::string>& row = out->emplace_back();
      for (int c = 0; c < PQnfields(res); ++c) {
        row.emplace_back(PQgetvalue(res, r, c), PQgetlength(res, r, c));
      }
    }
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

// A fresh database on the shared server (CREATE DATABASE is fast with
// fsync off; far faster than a server per test). Databases are not dropped
// (DROP DATABASE forces a checkpoint): they go with the server's temporary
// data directory when the binary ends.
absl::StatusOr<std::string> CreateTestDatabase() {
  static std::atomic<int> counter{0};
  auto server = PostgresEnvironment::Server();
  if (!server.ok()) return server.status();
  // The name is ours (a counter), not input: DDL takes no parameters.
  const std::string name = absl::StrCat("sp_test_", counter++);
  absl::Status s = Exec((*server)->ConnectionString(),
                        absl::StrCat("CREATE DATABASE ", name));
  if (!s.ok()) return s;
  return name;
}

std::string UriFor(const std::string& db) {
  auto server = PostgresEnvironment::Server();
  return absl::StrCat("postgresql://postgres@127.0.0.1:", (*server)->port(),
                      "/", db);
}

absl::StatusOr<std::unique_ptr<PostgresStore>> OpenStore(
    const std::string& db, base::Clock* clock, int pool_size = 8,
    const IssuanceOptions& issuance = {}) {
  PostgresStore::Options options;
  options.conninfo = UriFor(db);
  options.clock = clock;
  options.pool_size = pool_size;
  options.issuance = issuance;
  return PostgresStore::Create(options);
}

class PostgresBackend : public StoreBackend {
 public:
  absl::Status SetUp() override {
    auto db = CreateTestDatabase();
    if (!db.ok()) return db.status();
    db_ = *db;
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Store>> Open(base::Clock* clock) override {
    return OpenWithIssuance(clock, IssuanceOptions());
  }
  absl::StatusOr<std::unique_ptr<Store>> OpenWithIssuance(
      base::Clock* clock, const IssuanceOptions& issuance) override {
    auto store = OpenStore(db_, clock, 8, issuance);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  absl::Status ExecRawSql(const std::string& sql) override {
    return Exec(UriFor(db_), sql);
  }
  absl::StatusOr<std::vector<std::vector<std::string>>> QueryRawSql(
      const std::string& sql) override {
    return QueryRows(UriFor(db_), sql);
  }
  absl::Span<const migrations::Migration> Migrations() const override {
    return migrations::PostgresMigrations();
  }
  std::string BlobLiteral(const std::string& bytes) const override {
    return absl::StrCat("'\\x", absl::BytesToHexString(bytes), "'::bytea");
  }

 private:
  std::string db_;
};

INSTANTIATE_TEST_SUITE_P(
    Postgres, StoreTest,
    ::testing::Values(BackendParam{
        "Postgres", [] { return std::make_unique<PostgresBackend>(); }}),
    ::sallyport::storage::testing::BackendParamName);

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = PostgresEnvironment::Server();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    auto db = CreateTestDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
  }
  // Leaves the server running for the next test whatever happened here.
  void TearDown() override {
    if (server_ == nullptr) return;
    if (PQping(server_->ConnectionString().c_str()) != PQPING_OK) {
      EXPECT_TRUE(server_->Restart().ok()) << server_->Log();
    }
  }

  base::FakeClock clock_;
  PostgresFixture* server_ = nullptr;
  std::string db_;
};

TEST_F(PostgresStoreTest, ReconnectsAfterTheServerRestarts) {
  auto store = OpenStore(db_, &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateUser(testing::NamedUser("alice")).ok());
  ASSERT_TRUE((*store)->AppendAuditEvent({"a", "b", "{}"}).ok());

  ASSERT_TRUE(server_->Stop().ok());
  // Down: a clear, retryable error naming the server.
  const absl::Status down = (*store)->GetUser("alice").status();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_NE(down.message().find("127.0.0.1"), absl::string_view::npos) << down;
  EXPECT_EQ((*store)->AppendAuditEvent({"a", "b", "{}"}).status().code(),
            absl::StatusCode::kUnavailable);

  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  // Back: the next operation succeeds on a new connection.
  auto alice = (*store)->GetUser("alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  auto e = (*store)->AppendAuditEvent({"a", "b", "{}"});
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->seq, 2u);
}

TEST_F(PostgresStoreTest, StaleConnectionsAreReplacedWithoutErrors) {
  auto store = OpenStore(db_, &clock_, /*pool_size=*/4);
  ASSERT_TRUE(store.ok()) << store.status();
  // Fill the pool with idle connections.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) (*store)->AllocateSerial().IgnoreError();
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  // Every pooled connection died with the old server; none of that shows.
  for (int i = 0; i < 10; ++i) {
    auto serial = (*store)->AllocateSerial();
    ASSERT_TRUE(serial.ok()) << i << ": " << serial.status();
  }
}

// Appenders keep going while the server restarts under them. Some appends
// fail (kUnavailable while it is down; the outcome of one in flight during
// COMMIT is unknown), but the chain stays gapless and verifies, and every
// append reported as done is in it.
TEST_F(PostgresStoreTest, RestartDuringAppendsNeverCorruptsTheChain) {
  auto store = OpenStore(db_, &clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, unavailable{0}, other{0};
  std::vector<std::vector<AuditEvent>> appended(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (!stop) {
        auto e = (*store)->AppendAuditEvent({"t", absl::StrCat("w", t), "{}"});
        if (e.ok()) {
          ++ok;
          appended[t].push_back(*e);
        } else if (e.status().code() == absl::StatusCode::kUnavailable) {
          ++unavailable;
          absl::SleepFor(absl::Milliseconds(5));
        } else {
          ++other;
          ADD_FAILURE() << e.status();
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(200));
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  const int ok_after_restart = ok;
  absl::SleepFor(absl::Milliseconds(300));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(ok.load(), ok_after_restart) << "no append succeeded after restart";

  std::vector<AuditEvent> chain;
  uint64_t after = 0;
  while (true) {
    auto page = (*store)->ListAuditEvents(after, 10000);
    ASSERT_TRUE(page.ok()) << page.status();
    if (page->empty()) break;
    after = page->back().seq;
    chain.insert(chain.end(), page->begin(), page->end());
  }
  EXPECT_TRUE(VerifyAuditChain(AuditHead(), chain).ok());
  for (const auto& events : appended) {
    for (const AuditEvent& e : events) {
      ASSERT_LE(e.seq, chain.size());
      EXPECT_EQ(chain[e.seq - 1], e);
    }
  }
}

TEST_F(PostgresStoreTest, PoolNeverOpensMoreThanItsSize) {
  auto store = OpenStore(db_, &clock_, /*pool_size=*/3);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        ASSERT_TRUE((*store)->AppendAuditEvent({"t", "a", "{}"}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto rows = QueryRows(
      UriFor(db_),
      absl::StrCat("SELECT count(*)::text FROM pg_stat_activity WHERE "
                   "application_name = 'sallyport' AND datname = '",
                   db_, "'"));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  const int count = std::stoi((*rows)[0][0]);
  EXPECT_GE(count, 1);
  EXPECT_LE(count, 3);
}

TEST_F(PostgresStoreTest, OpenStoreTakesPostgresUrls) {
  for (const char* scheme : {"postgres", "postgresql"}) {
    const std::string url =
        absl::StrCat(scheme, "://postgres@127.0.0.1:", server_->port(), "/",
                     db_, "?sslmode=disable&application_name=ignored");
    auto store = ::sallyport::storage::OpenStore(url, OpenOptions{&clock_, 2});
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE((*store)->AllocateSerial().ok());
  }
}

TEST_F(PostgresStoreTest, ConnectionErrorsNeverEchoThePassword) {
  PostgresStore::Options options;
  options.clock = &clock_;
  options.conninfo = absl::StrCat("postgresql://postgres:s3cr3t-pw@127.0.0.1:",
                                  server_->port(), "/no_such_database");
  auto store = PostgresStore::Create(options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.status().message().find("s3cr3t-pw"), absl::string_view::npos)
      << store.status();
  EXPECT_NE(store.status().message().find("no_such_database"),
            absl::string_view::npos)
      << store.status();
}

TEST_F(PostgresStoreTest, SerializationConflictsAreRetried) {
  // Many SERIALIZABLE read-then-write transactions on the same rows.
  auto a = OpenStore(db_, &clock_);
  auto b = OpenStore(db_, &clock_);
  ASSERT_TRUE(a.ok() && b.ok());
  Role role;
  role.name = "r";
  ASSERT_TRUE((*a)->CreateRole(role).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    Store* s = t % 2 ? a->get() : b->get();
    threads.emplace_back([s, t] {
      for (int i = 0; i < 15; ++i) {
        const std::string name = absl::StrCat("u", t, "_", i);
        EXPECT_TRUE(s->CreateUser(testing::NamedUser(name)).ok());
        auto bound = s->BindRole(name, "r");
        EXPECT_TRUE(bound.ok()) << bound.status();
        Role r;
        r.name = "r";
        r.logins = {name};
        auto updated = s->UpdateRole(r);
        EXPECT_TRUE(updated.ok()) << updated.status();
      }
    });
  }
  for (auto& t : threads) t.join();
  auto bindings = (*a)->ListRoleBindings(std::nullopt);
  ASSERT_TRUE(bindings.ok());
  EXPECT_EQ(bindings->size(), 120u);
}

}  // namespace
}  // namespace sallyport::storage::postgres
