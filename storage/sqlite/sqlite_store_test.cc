// SqliteStore: the shared Store suite on a temp file, plus what only SQLite
// has (the file itself: mode, WAL, corrupt or unusable paths, busy lock).
#include "storage/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "storage/migrations/migrations.h"
#include "storage/sql/database.h"
#include "storage/sqlite/sqlite_connection.h"
#include "storage/store_test_suite.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::storage::sqlite {
namespace {

using ::sallyport::storage::testing::BackendParam;
using ::sallyport::storage::testing::StoreBackend;
using ::sallyport::testing::TempDir;

// Databases live on tmpfs when there is one: fsync there is free, so the
// suite exercises the default synchronous=FULL without waiting on the disk.
absl::StatusOr<TempDir> MakeTempDir() {
  std::error_code ec;
  if (std::filesystem::is_directory("/dev/shm", ec) &&
      access("/dev/shm", W_OK) == 0) {
    return TempDir::Create("sp-sqlite", "/dev/shm");
  }
  return TempDir::Create("sp-sqlite");
}

class SqliteBackend : public StoreBackend {
 public:
  absl::Status SetUp() override {
    auto dir = MakeTempDir();
    if (!dir.ok()) return dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Store>> Open(base::Clock* clock) override {
    return OpenWithIssuance(clock, IssuanceOptions());
  }
  absl::StatusOr<std::unique_ptr<Store>> OpenWithIssuance(
      base::Clock* clock, const IssuanceOptions& issuance) override {
    SqliteStore::Options options;
    options.path = path();
    options.clock = clock;
    options.issuance = issuance;
    auto store = SqliteStore::Create(options);
    if (!store.ok()) return store.status();
    return std::unique_ptr<Store>(std::move(*store));
  }
  // Creates the file when missing (upgrade tests build an old database).
  absl::Status ExecRawSql(const std::string& sql) override {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path().c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    char* err = nullptr;
    if (rc == SQLITE_OK)
      rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    absl::Status s = rc == SQLITE_OK
                         ? absl::OkStatus()
                         : absl::InternalError(err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    sqlite3_close(db);
    return s;
  }
  absl::StatusOr<std::vector<std::vector<std::string>>> QueryRawSql(
      const std::string& sql) override {
    sqlite3* db = nullptr;
    sqlite3_stmt* stmt = nullptr;
    int rc =
        sqlite3_open_v2(path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    if (rc == SQLITE_OK)
      rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
    std::vector<std::vector<std::string>> rows;
    while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string>& row = rows.emplace_back();
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const char* bytes =
            static_cast<const char*>(sqlite3_column_blob(stmt, c));
        row.emplace_back(bytes == nullptr ? "" : bytes,
                         sqlite3_column_bytes(stmt, c));
      }
      rc = SQLITE_OK;
    }
    absl::StatusOr<std::vector<std::vector<std::string>>> out = std::move(rows);
    if (rc != SQLITE_DONE) out = absl::InternalError(sqlite3_errmsg(db));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }
  absl::Span<const migrations::Migration> Migrations() const override {
    return migrations::SqliteMigrations();
  }
  std::string BlobLiteral(const std::string& bytes) const override {
    return absl::StrCat("X'", absl::BytesToHexString(bytes), "'");
  }
  std::string path() const { return dir_->File("sallyport.db"); }

 private:
  std::unique_ptr<TempDir> dir_;
};

BackendParam SqliteParam() {
  return BackendParam{"Sqlite",
                      [] { return std::make_unique<SqliteBackend>(); }};
}

using ::sallyport::storage::testing::StoreTest;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreTest, ::testing::Values(SqliteParam()),
                         ::sallyport::storage::testing::BackendParamName);

class SqliteStoreFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = MakeTempDir();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path) {
    SqliteStore::Options options;
    options.path = path;
    options.clock = &clock_;
    return SqliteStore::Create(options);
  }
  base::FakeClock clock_;
  std::unique_ptr<TempDir> dir_;
};

int FileMode(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777)
                                      : -1;
}

TEST_F(SqliteStoreFileTest, CreatesTheFileWithMode0600AndUsesWal) {
  const std::string path = dir_->File("new.db");
  auto store = Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->AppendAuditEvent({"t", "a", "{}"}).ok());
  EXPECT_EQ(FileMode(path), 0600);
  // SQLite gives the write-ahead log the database file's mode.
  EXPECT_EQ(FileMode(path + "-wal"), 0600);

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
               "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteStoreFileTest, GarbageFileIsDataLossNamingTheFile) {
  const std::string path = dir_->File("garbage.db");
  std::string garbage;
  for (int i = 0; i < 8192; ++i) garbage.push_back(static_cast<char>(i * 37));
  ASSERT_TRUE(::sallyport::testing::WriteFile(path, garbage, 0600).ok());
  auto store = Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_NE(store.status().message().find(path), absl::string_view::npos)
      << store.status();
}

TEST_F(SqliteStoreFileTest, TextFileIsDataLossNamingTheFile) {
  const std::string path = dir_->File("notes.txt");
  ASSERT_TRUE(::sallyport::testing::WriteFile(
                  path, std::string(4096, 'x') + "not a database\n", 0600)
                  .ok());
  auto store = Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(store.status().message().find(path), absl::string_view::npos);
}

TEST_F(SqliteStoreFileTest, DamagedDatabaseIsDataLossNamingTheFile) {
  const std::string path = dir_->File("damaged.db");
  {
    auto store = Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateUser(storage::testing::NamedUser("a")).ok());
  }  // closing the last connection checkpoints the WAL into the file
  // Keep the 100-byte header, overwrite the schema page behind it.
  std::string bytes = ::sallyport::testing::ReadFileOrEmpty(path);
  ASSERT_GT(bytes.size(), 4096u);
  for (size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(i * 131);
  ASSERT_TRUE(::sallyport::testing::WriteFile(path, bytes, 0600).ok());
  auto store = Open(path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_NE(store.status().message().find(path), absl::string_view::npos)
      << store.status();
}

// Tests run as root, and root reads a chmod 000 file anyway; a directory in
// place of the database file is unusable for everyone.
TEST_F(SqliteStoreFileTest, UnusablePathsAreClearErrorsNamingTheFile) {
  for (const std::string& path :
       {dir_->path(), dir_->File("missing-dir/sallyport.db")}) {
    auto store = Open(path);
    ASSERT_FALSE(store.ok()) << path;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
        << store.status();
    EXPECT_NE(store.status().message().find(path), absl::string_view::npos)
        << store.status();
  }
  SqliteStore::Options memory;
  memory.path = ":memory:";
  EXPECT_EQ(SqliteStore::Create(memory).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Another process holding the write lock past busy_timeout: a clear,
// retryable error, and the store works again once the lock is gone.
TEST_F(SqliteStoreFileTest, WriteLockHeldElsewhereIsUnavailable) {
  const std::string path = dir_->File("busy.db");
  SqliteStore::Options options;
  options.path = path;
  options.clock = &clock_;
  options.busy_timeout = absl::Milliseconds(200);
  auto store = SqliteStore::Create(options);
  ASSERT_TRUE(store.ok()) << store.status();

  sqlite3* other = nullptr;
  ASSERT_EQ(
      sqlite3_open_v2(path.c_str(), &other, SQLITE_OPEN_READWRITE, nullptr),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto blocked = (*store)->AppendAuditEvent({"t", "a", "{}"});
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kUnavailable)
      << blocked.status();
  // Reads still work while another process writes (WAL).
  EXPECT_TRUE((*store)->GetAuditHead().ok());
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(other);
  auto ok = (*store)->AppendAuditEvent({"t", "a", "{}"});
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->seq, 1u);
}

// kReadOne transactions run their one statement without BEGIN/COMMIT:
// OneStatementTx passes the first statement to the real connection and
// refuses a second one (and scripts) with kInternal.
constexpr sql::Statement kSelectOne("SELECT 1");

TEST_F(SqliteStoreFileTest, OneStatementTxRefusesASecondStatement) {
  const std::string path = dir_->File("one.db");
  ASSERT_TRUE(Open(path).ok());
  auto conn = SqliteConnection::Open({path, absl::Seconds(5), true});
  ASSERT_TRUE(conn.ok()) << conn.status();
  sql::OneStatementTx one(**conn);
  auto rows = one.Query(kSelectOne, {});
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0][0].AsInt(), 1);
  EXPECT_EQ(one.Query(kSelectOne, {}).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(one.Exec(kSelectOne, {}).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(one.ExecScript("SELECT 1;").code(), absl::StatusCode::kInternal);
  sql::OneStatementTx other(**conn);
  EXPECT_TRUE(other.Exec(kSelectOne, {}).ok());
  EXPECT_EQ(other.Query(kSelectOne, {}).status().code(),
            absl::StatusCode::kInternal);
}

// Issue 11: the durable path keeps synchronous=FULL. A store opened as the
// CA opens it (storage::OpenStore's defaults) sets it on every connection;
// NORMAL only when asked for.
constexpr sql::Statement kPragmaSynchronous("PRAGMA synchronous");

TEST_F(SqliteStoreFileTest, ConnectionsCommitWithSynchronousFull) {
  EXPECT_TRUE(SqliteStore::Options{}.synchronous_full);
  EXPECT_TRUE(SqliteConnection::Options{}.synchronous_full);
  const std::string path = dir_->File("sync.db");
  ASSERT_TRUE(Open(path).ok());
  for (const bool full : {true, false}) {
    auto conn = SqliteConnection::Open({path, absl::Seconds(5), full});
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto rows = (*conn)->Query(kPragmaSynchronous, {});
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0][0].AsInt(), full ? 2 : 1);  // FULL : NORMAL
  }
}

}  // namespace
}  // namespace sallyport::storage::sqlite
