#include "storage/postgres/pg_connection.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::storage::postgres {
namespace {

using sql::Param;
using sql::Row;
using sql::Statement;
using sql::Value;

// Type OIDs from pg_type.h (stable across PostgreSQL versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;

void IgnoreNotice(void*, const char*) {}

Oid TypeOid(Param::Type type) {
  switch (type) {
    case Param::Type::kInt:
      return kInt8Oid;
    case Param::Type::kBool:
      return kBoolOid;
    case Param::Type::kText:
      return kTextOid;
    case Param::Type::kBlob:
      return kByteaOid;
  }
  return 0;
}

std::string Trimmed(const char* message) {
  std::string s = message == nullptr ? "" : message;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Decodes bytea's text output ("\x0a1b...").
std::string DecodeBytea(const char* text) {
  size_t len = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &len);
  if (raw == nullptr) return std::string();
  std::string out(reinterpret_cast<const char*>(raw), len);
  PQfreemem(raw);
  return out;
}

}  // namespace

PgConnection::PgConnection(PGconn* conn) : conn_(conn) {
  const char* db = PQdb(conn);
  const char* host = PQhost(conn);
  const char* port = PQport(conn);
  description_ = absl::StrCat("PostgreSQL database ", db ? db : "?", " at ",
                              host ? host : "?", ":", port ? port : "?");
}

PgConnection::~PgConnection() { PQfinish(conn_); }

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& conninfo, absl::Duration connect_timeout) {
  const std::string timeout =
      absl::StrCat(std::max<int64_t>(2, absl::ToInt64Seconds(connect_timeout)));
  const char* keys[] = {"connect_timeout", "application_name", "dbname",
                        "client_encoding", nullptr};
  const char* values[] = {timeout.c_str(), "sallyport", conninfo.c_str(),
                          "UTF8", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return absl::ResourceExhaustedError(
        "libpq could not allocate a connection");
  }
  std::unique_ptr<PgConnection> c(new PgConnection(conn));
  if (PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat(
        c->description_, ": cannot connect: ", Trimmed(PQerrorMessage(conn))));
  }
  PQsetNoticeProcessor(conn, IgnoreNotice, nullptr);
  return c;
}

bool PgConnection::Healthy() {
  if (broken_) return false;
  // An idle connection has nothing to read unless the server is going away
  // (it sends "terminating connection ..." and closes): PQconsumeInput then
  // sees the end of the stream and the status turns bad. It never blocks.
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    broken_ = true;
  }
  return !broken_;
}

absl::Status PgConnection::Error(const PGresult* res, const char* what) {
  retryable_conflict_ = false;
  const char* state =
      res == nullptr ? nullptr : PQresultErrorField(res, PG_DIAG_SQLSTATE);
  const std::string sqlstate = state == nullptr ? "" : state;
  std::string detail = res == nullptr ? Trimmed(PQerrorMessage(conn_))
                                      : Trimmed(PQresultErrorMessage(res));
  if (detail.empty()) detail = Trimmed(PQerrorMessage(conn_));
  const std::string message =
      absl::StrCat(description_, ": ", what, ": ", detail);
  if (PQstatus(conn_) != CONNECTION_OK || sqlstate.rfind("08", 0) == 0 ||
      sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    broken_ = true;
    return absl::UnavailableError(message);
  }
  if (sqlstate == "40001" || sqlstate == "40P01") {
    retryable_conflict_ = true;
    return absl::AbortedError(message);
  }
  if (sqlstate == "23505") return absl::AlreadyExistsError(message);
  if (sqlstate == "23503" || sqlstate == "P0001") {
    return absl::FailedPreconditionError(message);  // FK, append-only trigger
  }
  if (sqlstate.rfind("23", 0) == 0 || sqlstate.rfind("22", 0) == 0) {
    return absl::InvalidArgumentError(message);  // check, not null, data
  }
  if (sqlstate.rfind("53", 0) == 0)
    return absl::ResourceExhaustedError(message);
  if (sqlstate == "57014") return absl::DeadlineExceededError(message);
  if (sqlstate.rfind("XX00", 0) == 0) return absl::DataLossError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::string> PgConnection::Prepare(
    const Statement& stmt, absl::Span<const Param> params) {
  auto it = prepared_.find(&stmt);
  if (it != prepared_.end()) return it->second;
  std::string name = absl::StrCat("sp", next_statement_id_++);
  std::vector<Oid> types;
  types.reserve(params.size());
  for (const Param& p : params) types.push_back(TypeOid(p.type()));
  PGresult* res = PQprepare(conn_, name.c_str(), stmt.postgres,
                            static_cast<int>(types.size()), types.data());
  absl::Status status = PQresultStatus(res) == PGRES_COMMAND_OK
                            ? absl::OkStatus()
                            : Error(res, "prepare");
  PQclear(res);
  RETURN_IF_ERROR(status);
  prepared_.emplace(&stmt, name);
  return name;
}

namespace {

// A statement's parameters as libpq takes them (text ints and booleans,
// binary text and blobs).
struct EncodedParams {
  explicit EncodedParams(absl::Span<const Param> params)
      : ints(params.size()),
        values(params.size()),
        lengths(params.size()),
        formats(params.size()) {
    for (size_t i = 0; i < params.size(); ++i) {
      const Param& p = params[i];
      if (p.is_null()) {
        values[i] = nullptr;
        continue;
      }
      switch (p.type()) {
        case Param::Type::kInt:
          ints[i] = absl::StrCat(p.int_value());
          values[i] = ints[i].c_str();
          break;
        case Param::Type::kBool:
          values[i] = p.int_value() != 0 ? "t" : "f";
          break;
        case Param::Type::kText:
        case Param::Type::kBlob:
          // Binary format: the exact bytes with their length, no quoting
          // and no reliance on NUL termination (text's binary form is its
          // bytes).
          values[i] = p.bytes().data();
          lengths[i] = static_cast<int>(p.bytes().size());
          formats[i] = 1;
          break;
      }
    }
  }
  int count() const { return static_cast<int>(values.size()); }

  std::vector<std::string> ints;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

std::vector<Row> RowsOf(const PGresult* res) {
  const int rows = PQntuples(res);
  const int cols = PQnfields(res);
  std::vector<Row> out;
  out.reserve(rows);
  for (int r = 0; r < rows; ++r) {
    Row row;
    row.reserve(cols);
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(res, r, c)) {
        row.push_back(Value::Null());
      } else if (PQftype(res, c) == kByteaOid) {
        row.push_back(Value::Bytes(DecodeBytea(PQgetvalue(res, r, c))));
      } else {
        row.push_back(Value::Bytes(
            std::string(PQgetvalue(res, r, c),
                        static_cast<size_t>(PQgetlength(res, r, c)))));
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

absl::StatusOr<PGresult*> PgConnection::Run(const Statement& stmt,
                                            absl::Span<const Param> params) {
  if (broken_)
    return absl::UnavailableError(description_ + ": connection lost");
  ASSIGN_OR_RETURN(std::string name, Prepare(stmt, params));
  const EncodedParams p(params);
  PGresult* res =
      PQexecPrepared(conn_, name.c_str(), p.count(), p.values.data(),
                     p.lengths.data(), p.formats.data(), /*resultFormat=*/0);
  const ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    retryable_conflict_ = false;
    return res;
  }
  absl::Status status = Error(res, "query");
  PQclear(res);
  return status;
}

absl::StatusOr<std::vector<Row>> PgConnection::Query(
    const Statement& stmt, absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(PGresult * res, Run(stmt, params));
  std::vector<Row> out = RowsOf(res);
  PQclear(res);
  return out;
}

absl::StatusOr<std::vector<std::vector<Row>>> PgConnection::QueryBatch(
    absl::Span<const sql::BatchQuery> queries) {
  if (broken_)
    return absl::UnavailableError(description_ + ": connection lost");
  // Statements this connection has not prepared yet are prepared first
  // (one round trip each, once per connection).
  std::vector<std::string> names;
  names.reserve(queries.size());
  for (const sql::BatchQuery& q : queries) {
    ASSIGN_OR_RETURN(std::string name, Prepare(*q.stmt, q.params));
    names.push_back(std::move(name));
  }
  // One pipeline: every query, then a sync; the server answers them all in
  // one round trip, as one implicit transaction.
  if (PQenterPipelineMode(conn_) != 1) return Error(nullptr, "pipeline");
  for (size_t i = 0; i < queries.size(); ++i) {
    const EncodedParams p(queries[i].params);
    if (PQsendQueryPrepared(conn_, names[i].c_str(), p.count(), p.values.data(),
                            p.lengths.data(), p.formats.data(),
                            /*resultFormat=*/0) != 1) {
      broken_ = true;  // the pipeline's state is unknown: drop the connection
      return Error(nullptr, "pipeline");
    }
  }
  if (PQpipelineSync(conn_) != 1) {
    broken_ = true;
    return Error(nullptr, "pipeline");
  }
  std::vector<std::vector<Row>> out(queries.size());
  absl::Status first_error;
  // Each query's result (aborted ones after an error), then its end (null).
  for (size_t i = 0; i < queries.size(); ++i) {
    PGresult* res = PQgetResult(conn_);
    if (res == nullptr) {
      broken_ = true;
      return Error(nullptr, "pipeline");
    }
    const ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
      out[i] = RowsOf(res);
    } else if (first_error.ok()) {
      first_error = st == PGRES_PIPELINE_ABORTED
                        ? absl::AbortedError(description_ + ": pipeline")
                        : Error(res, "query");
    }
    PQclear(res);
    PGresult* end = PQgetResult(conn_);
    if (end != nullptr) {
      PQclear(end);
      broken_ = true;
      return absl::InternalError(description_ + ": pipeline: extra result");
    }
  }
  PGresult* sync = PQgetResult(conn_);
  const bool synced =
      sync != nullptr && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced || PQexitPipelineMode(conn_) != 1) {
    broken_ = true;
    return Error(nullptr, "pipeline");
  }
  if (!first_error.ok()) return first_error;
  retryable_conflict_ = false;
  return out;
}

absl::StatusOr<int64_t> PgConnection::Exec(const Statement& stmt,
                                           absl::Span<const Param> params) {
  ASSIGN_OR_RETURN(PGresult * res, Run(stmt, params));
  const char* tuples = PQcmdTuples(res);
  int64_t n = 0;
  if (tuples != nullptr && *tuples != '\0') n = std::atoll(tuples);
  PQclear(res);
  return n;
}

absl::Status PgConnection::ExecScript(const char* script) {
  if (broken_)
    return absl::UnavailableError(description_ + ": connection lost");
  // PQexec only for the embedded migration scripts: several statements, no
  // parameters, constant text compiled into the binary.
  PGresult* res = PQexec(conn_, script);
  const ExecStatusType st = PQresultStatus(res);
  absl::Status status = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
                            ? absl::OkStatus()
                            : Error(res, "migration script");
  PQclear(res);
  return status;
}

absl::StatusOr<std::string> PgConnection::Command(const char* sql) {
  if (broken_)
    return absl::UnavailableError(description_ + ": connection lost");
  PGresult* res =
      PQexecParams(conn_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0);
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    absl::Status status = Error(res, sql);
    PQclear(res);
    return status;
  }
  std::string tag = PQcmdStatus(res);
  PQclear(res);
  return tag;
}

}  // namespace sallyport::storage::postgres
