#include "storage/sqlite/sqlite_connection.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::storage::sqlite {
namespace {

using sql::Param;
using sql::Row;
using sql::Statement;
using sql::Value;

constexpr Statement kForeignKeysOn("PRAGMA foreign_keys = ON");
constexpr Statement kSyncFull("PRAGMA synchronous = FULL");
constexpr Statement kSyncNormal("PRAGMA synchronous = NORMAL");

}  // namespace

absl::Status SqliteStatus(int rc, const std::string& detail,
                          const std::string& path) {
  const std::string message =
      absl::StrCat("SQLite database ", path, ": ", detail);
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      switch (rc) {
        case SQLITE_CONSTRAINT_UNIQUE:
        case SQLITE_CONSTRAINT_PRIMARYKEY:
          return absl::AlreadyExistsError(message);
        case SQLITE_CONSTRAINT_CHECK:
        case SQLITE_CONSTRAINT_NOTNULL:
        case SQLITE_CONSTRAINT_DATATYPE:
          return absl::InvalidArgumentError(message);
        default:  // foreign key, trigger (append-only tables), ...
          return absl::FailedPreconditionError(message);
      }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::FailedPreconditionError(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::ResourceExhaustedError(message);
    case SQLITE_IOERR:
      return absl::UnavailableError(message);
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const Options& options) {
  sqlite3* db = nullptr;
  // NOMUTEX: each connection is used by one thread at a time (the pool),
  // so SQLite's own per-connection mutex is not needed.
  const int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail =
        db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return SqliteStatus(rc, absl::StrCat("open: ", detail), options.path);
  }
  std::unique_ptr<SqliteConnection> conn(
      new SqliteConnection(db, options.path));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(
      db, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  // Defensive mode: no writable_schema tricks, no direct edits of the
  // schema or the shadow tables through SQL.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  RETURN_IF_ERROR(conn->Exec(kForeignKeysOn, {}).status());
  RETURN_IF_ERROR(
      conn->Exec(options.synchronous_full ? kSyncFull : kSyncNormal, {})
          .status());
  return conn;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [stmt, p] : cache_) sqlite3_finalize(p.stmt);
  sqlite3_close(db_);
}

absl::Status SqliteConnection::Error(int rc) const {
  return SqliteStatus(rc, sqlite3_errmsg(db_), path_);
}

absl::StatusOr<SqliteConnection::Prepared*> SqliteConnection::Prepare(
    const Statement& stmt) {
  auto it = cache_.find(&stmt);
  if (it != cache_.end()) return &it->second;
  Prepared p;
  const int rc = sqlite3_prepare_v3(
      db_, stmt.sqlite, -1, SQLITE_PREPARE_PERSISTENT, &p.stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc);
  // Parameters are named $1, $2, ...; SQLite numbers them by first use.
  const int count = sqlite3_bind_parameter_count(p.stmt);
  p.param_index.assign(count, 0);
  for (int i = 1; i <= count; ++i) {
    const char* name = sqlite3_bind_parameter_name(p.stmt, i);
    int n = 0;
    if (name == nullptr || name[0] != '$' || !absl::SimpleAtoi(name + 1, &n) ||
        n < 1 || n > count) {
      sqlite3_finalize(p.stmt);
      return absl::InternalError(absl::StrCat(
          "statement parameters must be $1..$", count, ": ", stmt.sqlite));
    }
    p.param_index[n - 1] = i;
  }
  return &cache_.emplace(&stmt, p).first->second;
}

absl::Status SqliteConnection::Bind(Prepared& p,
                                    absl::Span<const Param> params) {
  if (params.size() != p.param_index.size()) {
    return absl::InternalError(
        absl::StrCat("statement takes ", p.param_index.size(),
                     " parameters, got ", params.size()));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const Param& param = params[i];
    const int index = p.param_index[i];
    int rc;
    if (param.is_null()) {
      rc = sqlite3_bind_null(p.stmt, index);
    } else {
      switch (param.type()) {
        case Param::Type::kInt:
        case Param::Type::kBool:
          rc = sqlite3_bind_int64(p.stmt, index, param.int_value());
          break;
        case Param::Type::kText:
          // SQLITE_STATIC: the Param outlives the step.
          rc = sqlite3_bind_text64(p.stmt, index, param.bytes().data(),
                                   param.bytes().size(), SQLITE_STATIC,
                                   SQLITE_UTF8);
          break;
        case Param::Type::kBlob:
          rc = sqlite3_bind_blob64(p.stmt, index, param.bytes().data(),
                                   param.bytes().size(), SQLITE_STATIC);
          break;
        default:
          rc = SQLITE_MISUSE;
      }
    }
    if (rc != SQLITE_OK) return Error(rc);
  }
  return absl::OkStatus();
}

absl::Status SqliteConnection::Run(Prepared& p, std::vector<Row>* rows) {
  int rc;
  while ((rc = sqlite3_step(p.stmt)) == SQLITE_ROW) {
    if (rows == nullptr) continue;
    const int n = sqlite3_column_count(p.stmt);
    Row row;
    row.reserve(n);
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(p.stmt, c)) {
        case SQLITE_NULL:
          row.push_back(Value::Null());
          break;
        case SQLITE_INTEGER:
          row.push_back(Value::Int(sqlite3_column_int64(p.stmt, c)));
          break;
        default: {  // TEXT, BLOB (REAL is not used by the schema)
          const void* data = sqlite3_column_blob(p.stmt, c);
          const int size = sqlite3_column_bytes(p.stmt, c);
          row.push_back(Value::Bytes(
              data == nullptr ? std::string()
                              : std::string(static_cast<const char*>(data),
                                            static_cast<size_t>(size))));
        }
      }
    }
    rows->push_back(std::move(row));
  }
  absl::Status status = rc == SQLITE_DONE ? absl::OkStatus() : Error(rc);
  sqlite3_reset(p.stmt);
  sqlite3_clear_bindings(p.stmt);
  return status;
}

absl::StatusOr<std::vector<Row>> SqliteConnection::Query(
    const Statement& stmt, absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(Prepared * p, Prepare(stmt));
  std::vector<Row> rows;
  absl::Status bound = Bind(*p, params);
  if (!bound.ok()) {
    sqlite3_clear_bindings(p->stmt);
    return bound;
  }
  RETURN_IF_ERROR(Run(*p, &rows));
  return rows;
}

absl::StatusOr<int64_t> SqliteConnection::Exec(const Statement& stmt,
                                               absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(Prepared * p, Prepare(stmt));
  absl::Status bound = Bind(*p, params);
  if (!bound.ok()) {
    sqlite3_clear_bindings(p->stmt);
    return bound;
  }
  RETURN_IF_ERROR(Run(*p, nullptr));
  return static_cast<int64_t>(sqlite3_changes64(db_));
}

absl::Status SqliteConnection::ExecScript(const char* script) {
  // Prepared statements only, one after the other through the script.
  const char* tail = script;
  while (tail != nullptr && *tail != '\0') {
    sqlite3_stmt* stmt = nullptr;
    const char* next = nullptr;
    int rc = sqlite3_prepare_v2(db_, tail, -1, &stmt, &next);
    if (rc != SQLITE_OK) return Error(rc);
    if (stmt == nullptr) break;  // only whitespace and comments left
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    absl::Status status = rc == SQLITE_DONE ? absl::OkStatus() : Error(rc);
    sqlite3_finalize(stmt);
    RETURN_IF_ERROR(status);
    tail = next;
  }
  return absl::OkStatus();
}

}  // namespace sallyport::storage::sqlite
