// The small SQL seam between SqlStore (every Store operation, written once)
// and the two backends (SQLite, PostgreSQL). Internal to //storage.
//
// All SQL is constant text compiled into the binary; values travel only as
// bound parameters ($1, $2, ... in both dialects: SQLite binds them by name),
// so no value can change the meaning of a statement.
#ifndef SALLYPORT_STORAGE_SQL_DATABASE_H_
#define SALLYPORT_STORAGE_SQL_DATABASE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace sallyport::storage::sql {

enum class Dialect { kSqlite, kPostgres };

// One SQL statement, the same text for both dialects or one per dialect.
// The constructors are consteval: every Statement is built at compile time
// from string literals, so no SQL can be assembled from run-time values.
// Statements must have static storage duration (constexpr globals): the
// backends cache the prepared form keyed by the Statement's address.
struct Statement {
  consteval explicit Statement(const char* both)
      : sqlite(both), postgres(both) {}
  consteval Statement(const char* sqlite_text, const char* postgres_text)
      : sqlite(sqlite_text), postgres(postgres_text) {}
  const char* Text(Dialect d) const {
    return d == Dialect::kSqlite ? sqlite : postgres;
  }
  const char* sqlite;
  const char* postgres;
};

// A bound parameter. The type is fixed per statement position (PostgreSQL
// prepares with these types), so a NULL still carries its type.
class Param {
 public:
  enum class Type { kInt, kBool, kText, kBlob };

  static Param Int(int64_t v) { return Param(Type::kInt, false, v, {}); }
  static Param OptInt(std::optional<int64_t> v) {
    return Param(Type::kInt, !v.has_value(), v.value_or(0), {});
  }
  static Param Bool(bool v) { return Param(Type::kBool, false, v ? 1 : 0, {}); }
  static Param Text(std::string_view v) {
    return Param(Type::kText, false, 0, std::string(v));
  }
  static Param OptText(const std::optional<std::string>& v) {
    return Param(Type::kText, !v.has_value(), 0, v.value_or(""));
  }
  static Param Blob(std::string_view v) {
    return Param(Type::kBlob, false, 0, std::string(v));
  }
  // A blob that is not copied: `v` must outlive every use of the Param
  // (the Exec or Query it is passed to). For large values (recording
  // data).
  static Param BlobRef(const std::string& v) {
    Param p(Type::kBlob, false, 0, {});
    p.ref_ = &v;
    return p;
  }

  Type type() const { return type_; }
  bool is_null() const { return null_; }
  int64_t int_value() const { return int_; }  // kInt, kBool (0/1)
  // kText, kBlob
  std::string_view bytes() const {
    return ref_ != nullptr ? std::string_view(*ref_) : std::string_view(bytes_);
  }

 private:
  Param(Type type, bool null, int64_t i, std::string bytes)
      : type_(type), null_(null), int_(i), bytes_(std::move(bytes)) {}
  Type type_;
  bool null_;
  int64_t int_;
  std::string bytes_;
  const std::string* ref_ = nullptr;  // BlobRef
};

// One result value: NULL, an integer (SQLite) or bytes (text, blobs, and
// every PostgreSQL value in text format; bytea already decoded).
class Value {
 public:
  static Value Null() { return Value(); }
  static Value Int(int64_t v) {
    Value x;
    x.kind_ = Kind::kInt;
    x.int_ = v;
    return x;
  }
  static Value Bytes(std::string v) {
    Value x;
    x.kind_ = Kind::kBytes;
    x.bytes_ = std::move(v);
    return x;
  }
  bool is_null() const { return kind_ == Kind::kNull; }
  // Integer columns: 0 for NULL or unparsable text.
  int64_t AsInt() const;
  // Boolean columns: SQLite 0/1, PostgreSQL "t"/"f".
  bool AsBool() const;
  // Text and blob columns: "" for NULL.
  const std::string& AsBytes() const { return bytes_; }

 private:
  enum class Kind { kNull, kInt, kBytes };
  Kind kind_ = Kind::kNull;
  int64_t int_ = 0;
  std::string bytes_;
};

using Row = std::vector<Value>;

// One read statement of a QueryBatch.
struct BatchQuery {
  const Statement* stmt;
  std::vector<Param> params;
};

// Statements inside one transaction.
class Tx {
 public:
  virtual ~Tx() = default;
  // Runs a statement that returns rows (SELECT, ... RETURNING).
  virtual absl::StatusOr<std::vector<Row>> Query(
      const Statement& stmt, absl::Span<const Param> params) = 0;
  // Runs read statements, in order, and returns their rows (one vector per
  // query). PostgreSQL sends them as one pipeline: one round trip. This
  // default runs them one after the other.
  virtual absl::StatusOr<std::vector<std::vector<Row>>> QueryBatch(
      absl::Span<const BatchQuery> queries) {
    std::vector<std::vector<Row>> out;
    out.reserve(queries.size());
    for (const BatchQuery& q : queries) {
      absl::StatusOr<std::vector<Row>> rows = Query(*q.stmt, q.params);
      if (!rows.ok()) return rows.status();
      out.push_back(*std::move(rows));
    }
    return out;
  }
  // Runs a statement; returns the number of rows it changed.
  virtual absl::StatusOr<int64_t> Exec(const Statement& stmt,
                                       absl::Span<const Param> params) = 0;
  // Runs a constant multi-statement script without parameters. Only for the
  // embedded schema migrations.
  virtual absl::Status ExecScript(const char* script) = 0;
};

enum class TxMode {
  // Read-only, one consistent snapshot.
  kRead,
  // Read-write. PostgreSQL: SERIALIZABLE, retried on serialization failure
  // (40001) and deadlock (40P01). SQLite: BEGIN IMMEDIATE.
  kSerializable,
  // Read-write where the statements themselves take the row locks they need
  // (an UPDATE ... RETURNING on a counter row, a single conditional UPDATE),
  // so hot rows cause waits, not serialization retries. PostgreSQL: READ
  // COMMITTED (deadlocks retried). SQLite: BEGIN IMMEDIATE (the database
  // write lock, so already serial).
  kReadCommitted,
  // Read-only and exactly one statement (or one QueryBatch), which is its
  // own transaction: run without BEGIN and COMMIT (PostgreSQL: one round
  // trip instead of three; a QueryBatch is one pipeline, one implicit
  // transaction). A second statement is kInternal (OneStatementTx).
  kReadOne,
};

// The Tx a kReadOne transaction runs on: passes one statement to `inner`
// and refuses any further one.
class OneStatementTx final : public Tx {
 public:
  explicit OneStatementTx(Tx& inner) : inner_(inner) {}
  absl::StatusOr<std::vector<Row>> Query(
      const Statement& stmt, absl::Span<const Param> params) override {
    if (absl::Status s = Take(); !s.ok()) return s;
    return inner_.Query(stmt, params);
  }
  absl::StatusOr<int64_t> Exec(const Statement& stmt,
                               absl::Span<const Param> params) override {
    if (absl::Status s = Take(); !s.ok()) return s;
    return inner_.Exec(stmt, params);
  }
  absl::StatusOr<std::vector<std::vector<Row>>> QueryBatch(
      absl::Span<const BatchQuery> queries) override {
    if (absl::Status s = Take(); !s.ok()) return s;
    return inner_.QueryBatch(queries);
  }
  absl::Status ExecScript(const char*) override {
    return absl::InternalError("a kReadOne transaction cannot run a script");
  }

 private:
  absl::Status Take() {
    if (used_) {
      return absl::InternalError(
          "a kReadOne transaction ran a second statement");
    }
    used_ = true;
    return absl::OkStatus();
  }
  Tx& inner_;
  bool used_ = false;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Dialect dialect() const = 0;
  // Runs `fn` in a transaction: commits when it returns OK, rolls back
  // otherwise and returns its status. `fn` may run more than once (retries
  // after serialization failures or a lost connection before COMMIT), so it
  // must reset any output it fills in. A connection lost during COMMIT is
  // kUnavailable: the outcome is unknown and nothing is retried.
  virtual absl::Status Transact(TxMode mode,
                                absl::FunctionRef<absl::Status(Tx&)> fn) = 0;
};

}  // namespace sallyport::storage::sql

#endif  // SALLYPORT_STORAGE_SQL_DATABASE_H_
