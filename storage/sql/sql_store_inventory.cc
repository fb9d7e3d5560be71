// SqlStore: hosts, issued certificates, revocations and CA keys.
#include <algorithm>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/sql/codec.h"
#include "storage/sql/sql_store.h"

namespace sallyport::storage::sql {
namespace {

#define SP_HOST_COLUMNS \
  "name, address, port, trust, host_key, created_at_us, updated_at_us"
// Which stored host a name means, the one rule of GetHost (and
// ReadForIssuance), UpdateHost and DeleteHost: the host stored as the name
// exactly (one stored with capitals before schema version 9, whose
// lowercase name was taken, so it kept its capitals), else the one stored
// as its lowercase form. $1 is the name as given, $2 its lowercase form
// (HostNameParams).
#define SP_HOST_NAMED "COALESCE((SELECT name FROM hosts WHERE name = $1), $2)"
constexpr Statement kInsertHost("INSERT INTO hosts (" SP_HOST_COLUMNS
                                ") VALUES ($1, $2, $3, $4, $5, $6, $6)");
constexpr Statement kListHosts("SELECT " SP_HOST_COLUMNS " FROM hosts");
// One statement for GetHost: the host's columns, then a label's key and
// value (NULL for a host without labels), one row per label.
constexpr Statement kSelectHostWithLabels(
    "SELECT h.name, h.address, h.port, h.trust, h.host_key, h.created_at_us, "
    "h.updated_at_us, l.key, l.value FROM hosts h LEFT JOIN host_labels l "
    "ON l.host_name = h.name WHERE h.name = " SP_HOST_NAMED);
// The name SP_HOST_NAMED picks (the lowercase form when neither is stored).
constexpr Statement kStoredHostName("SELECT " SP_HOST_NAMED);
constexpr Statement kUpdateHost(
    "UPDATE hosts SET address = $2, port = $3, trust = $4, host_key = "
    "$5, " SP_NEXT_UPDATED_AT(
        "$6") " WHERE name = $1 RETURNING " SP_HOST_COLUMNS);
constexpr Statement kHostUpdatedAt(
    "SELECT updated_at_us FROM hosts WHERE name = $1");
#undef SP_HOST_COLUMNS
#undef SP_HOST_NAMED
constexpr Statement kDeleteHost("DELETE FROM hosts WHERE name = $1");
constexpr Statement kInsertLabel(
    "INSERT INTO host_labels (host_name, key, value) VALUES ($1, $2, $3)");
constexpr Statement kListLabels(
    "SELECT host_name, key, value FROM host_labels");
constexpr Statement kDeleteLabels(
    "DELETE FROM host_labels WHERE host_name = $1");

#define SP_CERT_COLUMNS                                                      \
  "serial, key_id, user_name, principals, valid_after_us, valid_before_us, " \
  "public_key_fingerprint, ca_key_fingerprint, purpose, issued_at_us, "      \
  "renews_serial"
constexpr Statement kSelectCertificate("SELECT " SP_CERT_COLUMNS
                                       " FROM certificates WHERE serial = $1");
constexpr Statement kListCertificates(
    "SELECT " SP_CERT_COLUMNS
    " FROM certificates WHERE serial > $1"
    " AND ($2 IS NULL OR user_name = $2)"
    " AND ($3 IS NULL OR purpose = $3)"
    " AND ($4 IS NULL OR (valid_after_us <= $4 AND $4 < valid_before_us))"
    " ORDER BY serial LIMIT $5");
#undef SP_CERT_COLUMNS

// Revocation ids must become visible in id order for incremental readers
// (ListRevocations(after_id)): PostgreSQL assigns identities before commit,
// so inserts are serialised by a table lock that still allows reads.
// SQLite's write lock already does this.
constexpr Statement kLockRevocations(
    "LOCK TABLE revocations IN EXCLUSIVE MODE");
constexpr Statement kInsertRevocation(
    "INSERT INTO revocations (serial, key_fingerprint, reason, revoked_by, "
    "revoked_at_us) VALUES ($1, $2, $3, $4, $5) RETURNING id");
constexpr Statement kListRevocations(
    "SELECT id, serial, key_fingerprint, reason, revoked_by, revoked_at_us "
    "FROM revocations WHERE id > $1 ORDER BY id");
// The serials of recorded certificates that expired by $2 left out.
constexpr Statement kListCurrentRevocations(
    "SELECT r.id, r.serial, r.key_fingerprint, r.reason, r.revoked_by, "
    "r.revoked_at_us FROM revocations r LEFT JOIN certificates c "
    "ON c.serial = r.serial WHERE r.id > $1 AND (r.serial IS NULL OR "
    "c.serial IS NULL OR c.valid_before_us > $2) ORDER BY r.id");
constexpr Statement kIsRevoked(
    "SELECT 1 FROM revocations WHERE serial = $1 OR key_fingerprint = $2");
constexpr Statement kIsCertificateKeyRevoked(
    "SELECT 1 FROM revocations WHERE key_fingerprint IN "
    "(SELECT public_key_fingerprint FROM certificates WHERE serial = $1)");

#define SP_CA_KEY_COLUMNS \
  "fingerprint, purpose, public_key, state, created_at_us, retired_at_us"
constexpr Statement kInsertCaKey("INSERT INTO ca_keys (" SP_CA_KEY_COLUMNS
                                 ") VALUES ($1, $2, $3, $4, $5, $6)");
constexpr Statement kSelectActiveCaKey(
    "SELECT fingerprint FROM ca_keys WHERE purpose = $1 AND state = 'active'");
constexpr Statement kSelectCaKey("SELECT " SP_CA_KEY_COLUMNS
                                 " FROM ca_keys WHERE fingerprint = $1");
constexpr Statement kRetireActiveCaKey(
    "UPDATE ca_keys SET state = 'retired', retired_at_us = $2 "
    "WHERE purpose = $1 AND state = 'active'");
constexpr Statement kRetireCaKey(
    "UPDATE ca_keys SET state = 'retired', retired_at_us = $2 "
    "WHERE fingerprint = $1 AND state = 'active' "
    "RETURNING " SP_CA_KEY_COLUMNS);
constexpr Statement kListCaKeys("SELECT " SP_CA_KEY_COLUMNS " FROM ca_keys");
constexpr Statement kListCaKeysByPurpose("SELECT " SP_CA_KEY_COLUMNS
                                         " FROM ca_keys WHERE purpose = $1");
#undef SP_CA_KEY_COLUMNS

std::string HostWhat(std::string_view name) {
  return absl::StrCat("host ", Quote(name));
}

}  // namespace

absl::StatusOr<Host> HostFromRow(const Row& r) {
  Host h;
  h.name = r[0].AsBytes();
  h.address = r[1].AsBytes();
  h.port = static_cast<uint16_t>(r[2].AsInt());
  std::optional<HostTrust> trust = ParseHostTrust(r[3].AsBytes());
  if (!trust) return absl::DataLossError("stored host has a bad trust value");
  h.trust = *trust;
  h.host_key = r[4].AsBytes();
  h.created_at = TimeValue(r[5]);
  h.updated_at = TimeValue(r[6]);
  return h;
}

namespace {

absl::Status InsertLabels(Tx& tx, const Host& host) {
  for (const auto& [key, value] : host.labels) {
    RETURN_IF_ERROR(
        tx.Exec(kInsertLabel,
                {Param::Text(host.name), Param::Text(key), Param::Text(value)})
            .status());
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IssuedCertificate> CertificateFromRow(const Row& r) {
  IssuedCertificate c;
  c.serial = static_cast<uint64_t>(r[0].AsInt());
  c.key_id = r[1].AsBytes();
  c.user = r[2].AsBytes();
  ASSIGN_OR_RETURN(c.principals, DecodeStringList(r[3].AsBytes()));
  c.valid_after = TimeValue(r[4]);
  c.valid_before = TimeValue(r[5]);
  c.public_key_fingerprint = r[6].AsBytes();
  c.ca_key_fingerprint = r[7].AsBytes();
  std::optional<CertificatePurpose> purpose =
      ParseCertificatePurpose(r[8].AsBytes());
  if (!purpose) {
    return absl::DataLossError("stored certificate has a bad purpose");
  }
  c.purpose = *purpose;
  c.issued_at = TimeValue(r[9]);
  if (!r[10].is_null()) c.renews_serial = static_cast<uint64_t>(r[10].AsInt());
  return c;
}

std::string HostKey(std::string_view name) {
  return absl::AsciiStrToLower(std::string(name));
}

namespace {

// $1 and $2 of SP_HOST_NAMED.
std::vector<Param> HostNameParams(std::string_view name) {
  return {Param::Text(name), Param::Text(HostKey(name))};
}

// The name host `name` is stored under (SP_HOST_NAMED), read in `tx`.
absl::StatusOr<std::string> StoredHostName(Tx& tx, std::string_view name) {
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   tx.Query(kStoredHostName, HostNameParams(name)));
  if (rows.empty()) return absl::InternalError("no host name returned");
  return rows[0][0].AsBytes();
}

}  // namespace

BatchQuery HostQuery(std::string_view name) {
  return {&kSelectHostWithLabels, HostNameParams(name)};
}

absl::StatusOr<Host> HostFromRows(const std::vector<Row>& rows,
                                  std::string_view name) {
  if (rows.empty()) return NotFound(HostWhat(name));
  ASSIGN_OR_RETURN(Host host, HostFromRow(rows[0]));
  for (const Row& r : rows) {
    if (!r[7].is_null()) host.labels[r[7].AsBytes()] = r[8].AsBytes();
  }
  return host;
}

BatchQuery CertificateQuery(uint64_t serial) {
  return {&kSelectCertificate, {SerialParam(serial)}};
}

BatchQuery CertificateKeyRevokedQuery(uint64_t serial) {
  return {&kIsCertificateKeyRevoked, {SerialParam(serial)}};
}

absl::StatusOr<IssuedCertificate> CertificateFromRows(
    const std::vector<Row>& rows, uint64_t serial) {
  if (rows.empty()) {
    return NotFound(absl::StrCat("certificate serial ", serial));
  }
  return CertificateFromRow(rows[0]);
}

absl::StatusOr<BatchQuery> RevokedQuery(uint64_t serial,
                                        std::string_view key_fingerprint) {
  RETURN_IF_ERROR(
      ValidateText("key fingerprint", key_fingerprint, kMaxNameBytes, false));
  // A serial outside 1..kMaxSerial cannot have been recorded; -1 matches
  // nothing. An empty fingerprint matches nothing either (NULL).
  const int64_t s =
      (serial == 0 || serial > kMaxSerial) ? -1 : static_cast<int64_t>(serial);
  std::optional<std::string> fp;
  if (!key_fingerprint.empty()) fp = std::string(key_fingerprint);
  return BatchQuery{&kIsRevoked, {Param::Int(s), Param::OptText(fp)}};
}

namespace {

Revocation RevocationFromRow(const Row& r) {
  Revocation rev;
  rev.id = r[0].AsInt();
  if (!r[1].is_null()) rev.serial = static_cast<uint64_t>(r[1].AsInt());
  if (!r[2].is_null()) rev.key_fingerprint = r[2].AsBytes();
  rev.reason = r[3].AsBytes();
  rev.revoked_by = r[4].AsBytes();
  rev.revoked_at = TimeValue(r[5]);
  return rev;
}

absl::StatusOr<CaKey> CaKeyFromRow(const Row& r) {
  CaKey k;
  k.fingerprint = r[0].AsBytes();
  std::optional<CaKeyPurpose> purpose = ParseCaKeyPurpose(r[1].AsBytes());
  std::optional<CaKeyState> state = ParseCaKeyState(r[3].AsBytes());
  if (!purpose || !state) {
    return absl::DataLossError("stored CA key has a bad purpose or state");
  }
  k.purpose = *purpose;
  k.public_key = r[2].AsBytes();
  k.state = *state;
  k.created_at = TimeValue(r[4]);
  k.retired_at = OptTimeValue(r[5]);
  return k;
}

std::string CaKeyWhat(std::string_view fingerprint) {
  return absl::StrCat("CA key ", Quote(fingerprint));
}

}  // namespace

// ------------------------------------------------------------ hosts

absl::StatusOr<Host> SqlStore::CreateHost(const Host& in) {
  RETURN_IF_ERROR(in.Validate());
  Host host = in;
  host.name = HostKey(in.name);
  host.created_at = host.updated_at = Now();
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 RETURN_IF_ERROR(
                     tx.Exec(kInsertHost,
                             {Param::Text(host.name), Param::Text(host.address),
                              Param::Int(host.port),
                              Param::Text(HostTrustName(host.trust)),
                              Param::Text(host.host_key),
                              TimeParam(host.created_at)})
                         .status());
                 return InsertLabels(tx, host);
               }),
      HostWhat(host.name)));
  return host;
}

absl::StatusOr<Host> SqlStore::GetHost(std::string_view name) {
  RETURN_IF_ERROR(ValidateText("host name", name, kMaxNameBytes, true));
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   ReadOne(HostQuery(name), HostWhat(name)));
  return HostFromRows(rows, name);
}

absl::StatusOr<std::vector<Host>> SqlStore::ListHosts() {
  std::vector<Row> rows, labels;
  RETURN_IF_ERROR(
      Describe(Transact(TxMode::kRead,
                        [&](Tx& tx) -> absl::Status {
                          ASSIGN_OR_RETURN(rows, tx.Query(kListHosts, {}));
                          ASSIGN_OR_RETURN(labels, tx.Query(kListLabels, {}));
                          return absl::OkStatus();
                        }),
               "list hosts"));
  std::map<std::string, Host> hosts;
  for (const Row& r : rows) {
    ASSIGN_OR_RETURN(Host h, HostFromRow(r));
    std::string name = h.name;
    hosts.emplace(std::move(name), std::move(h));
  }
  for (const Row& l : labels) {
    auto it = hosts.find(l[0].AsBytes());
    if (it != hosts.end()) it->second.labels[l[1].AsBytes()] = l[2].AsBytes();
  }
  std::vector<Host> out;
  for (auto& [name, h] : hosts) out.push_back(std::move(h));
  return out;
}

absl::StatusOr<Host> SqlStore::UpdateHost(
    const Host& in, std::optional<absl::Time> unchanged_since) {
  RETURN_IF_ERROR(in.Validate());
  Host host = in;
  host.name = HostKey(in.name);
  const absl::Time now = Now();
  bool found = false;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(host.name, StoredHostName(tx, in.name));
                 RETURN_IF_ERROR(CheckUnchangedSince(tx, kHostUpdatedAt,
                                                     host.name, unchanged_since,
                                                     HostWhat(host.name)));
                 ASSIGN_OR_RETURN(
                     std::vector<Row> rows,
                     tx.Query(kUpdateHost,
                              {Param::Text(host.name),
                               Param::Text(host.address), Param::Int(host.port),
                               Param::Text(HostTrustName(host.trust)),
                               Param::Text(host.host_key), TimeParam(now)}));
                 found = !rows.empty();
                 if (!found) return absl::OkStatus();
                 host.created_at = TimeValue(rows[0][5]);
                 host.updated_at = TimeValue(rows[0][6]);
                 RETURN_IF_ERROR(
                     tx.Exec(kDeleteLabels, {Param::Text(host.name)}).status());
                 return InsertLabels(tx, host);
               }),
      HostWhat(host.name)));
  if (!found) return NotFound(HostWhat(host.name));
  return host;
}

absl::StatusOr<std::string> SqlStore::DeleteHost(std::string_view name) {
  RETURN_IF_ERROR(ValidateText("host name", name, kMaxNameBytes, true));
  std::string deleted;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(deleted, StoredHostName(tx, name));
                 ASSIGN_OR_RETURN(int64_t n,
                                  tx.Exec(kDeleteHost, {Param::Text(deleted)}));
                 return n == 0 ? NotFound(HostWhat(name)) : absl::OkStatus();
               }),
      HostWhat(name)));
  return deleted;
}

// ------------------------------------------------------------ certificates

absl::StatusOr<IssuedCertificate> SqlStore::GetCertificate(uint64_t serial) {
  const std::string what = absl::StrCat("certificate serial ", serial);
  if (serial == 0 || serial > kMaxSerial) return NotFound(what);
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   ReadOne(CertificateQuery(serial), what));
  return CertificateFromRows(rows, serial);
}

absl::StatusOr<std::vector<IssuedCertificate>> SqlStore::ListCertificates(
    const CertificateFilter& filter) {
  RETURN_IF_ERROR(ValidateLimit(filter.limit));
  if (filter.user) {
    RETURN_IF_ERROR(
        ValidateText("user name", *filter.user, kMaxNameBytes, false));
  }
  if (filter.after_serial > kMaxSerial) {
    return std::vector<IssuedCertificate>();
  }
  std::optional<std::string> purpose;
  if (filter.purpose) {
    purpose = std::string(CertificatePurposeName(*filter.purpose));
  }
  std::vector<Row> rows;
  RETURN_IF_ERROR(
      Describe(Transact(TxMode::kReadOne,
                        [&](Tx& tx) -> absl::Status {
                          ASSIGN_OR_RETURN(
                              rows, tx.Query(kListCertificates,
                                             {SerialParam(filter.after_serial),
                                              Param::OptText(filter.user),
                                              Param::OptText(purpose),
                                              OptTimeParam(filter.valid_at),
                                              Param::Int(filter.limit)}));
                          return absl::OkStatus();
                        }),
               "list certificates"));
  std::vector<IssuedCertificate> out;
  for (const Row& r : rows) {
    ASSIGN_OR_RETURN(IssuedCertificate c, CertificateFromRow(r));
    out.push_back(std::move(c));
  }
  return out;
}

// ------------------------------------------------------------ revocations

absl::StatusOr<Revocation> SqlStore::Revoke(const Revocation& in) {
  RETURN_IF_ERROR(in.Validate());
  Revocation rev = in;
  rev.revoked_at = Now();
  const std::string what =
      rev.serial ? absl::StrCat("revocation of serial ", *rev.serial)
                 : absl::StrCat("revocation of key ",
                                Quote(rev.key_fingerprint.value_or("")));
  std::optional<int64_t> serial;
  if (rev.serial) serial = static_cast<int64_t>(*rev.serial);
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadCommitted,
               [&](Tx& tx) -> absl::Status {
                 if (db().dialect() == Dialect::kPostgres) {
                   RETURN_IF_ERROR(tx.Exec(kLockRevocations, {}).status());
                 }
                 ASSIGN_OR_RETURN(std::vector<Row> rows,
                                  tx.Query(kInsertRevocation,
                                           {Param::OptInt(serial),
                                            Param::OptText(rev.key_fingerprint),
                                            Param::Text(rev.reason),
                                            Param::Text(rev.revoked_by),
                                            TimeParam(rev.revoked_at)}));
                 if (rows.empty()) return absl::InternalError("no id returned");
                 rev.id = rows[0][0].AsInt();
                 return absl::OkStatus();
               }),
      what));
  return rev;
}

absl::StatusOr<std::vector<Revocation>> SqlStore::ReadRevocations(
    const BatchQuery& query) {
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadOne,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(rows, tx.Query(*query.stmt, query.params));
                 return absl::OkStatus();
               }),
      "list revocations"));
  std::vector<Revocation> out;
  for (const Row& r : rows) out.push_back(RevocationFromRow(r));
  return out;
}

absl::StatusOr<std::vector<Revocation>> SqlStore::ListRevocations(
    int64_t after_id) {
  return ReadRevocations({&kListRevocations, {Param::Int(after_id)}});
}

absl::StatusOr<std::vector<Revocation>> SqlStore::ListCurrentRevocations(
    int64_t after_id, absl::Time now) {
  return ReadRevocations(
      {&kListCurrentRevocations, {Param::Int(after_id), TimeParam(now)}});
}

absl::StatusOr<bool> SqlStore::IsRevoked(uint64_t serial,
                                         std::string_view key_fingerprint) {
  ASSIGN_OR_RETURN(BatchQuery query, RevokedQuery(serial, key_fingerprint));
  ASSIGN_OR_RETURN(std::vector<Row> rows,
                   ReadOne(std::move(query), "revocation check"));
  return !rows.empty();
}

// ------------------------------------------------------------ CA keys

absl::StatusOr<CaKey> SqlStore::InsertCaKey(Tx& tx, const CaKey& key) {
  if (key.state == CaKeyState::kActive) {
    ASSIGN_OR_RETURN(std::vector<Row> active,
                     tx.Query(kSelectActiveCaKey,
                              {Param::Text(CaKeyPurposeName(key.purpose))}));
    if (!active.empty()) {
      return absl::AlreadyExistsError(
          absl::StrCat(CaKeyWhat(key.fingerprint), ": the ",
                       std::string(CaKeyPurposeName(key.purpose)), " CA key ",
                       Quote(active[0][0].AsBytes()), " is already active"));
    }
  }
  RETURN_IF_ERROR(
      tx.Exec(kInsertCaKey,
              {Param::Text(key.fingerprint),
               Param::Text(CaKeyPurposeName(key.purpose)),
               Param::Text(key.public_key),
               Param::Text(CaKeyStateName(key.state)),
               TimeParam(key.created_at), OptTimeParam(key.retired_at)})
          .status());
  return key;
}

absl::StatusOr<CaKey> SqlStore::AddCaKey(const CaKey& in) {
  RETURN_IF_ERROR(in.Validate());
  CaKey key = in;
  key.created_at = Now();
  key.retired_at.reset();
  if (key.state == CaKeyState::kRetired) key.retired_at = key.created_at;
  RETURN_IF_ERROR(
      Describe(Transact(TxMode::kSerializable,
                        [&](Tx& tx) { return InsertCaKey(tx, key).status(); }),
               CaKeyWhat(key.fingerprint)));
  return key;
}

absl::StatusOr<CaKey> SqlStore::RotateCaKey(const CaKey& in) {
  RETURN_IF_ERROR(in.Validate());
  CaKey key = in;
  key.state = CaKeyState::kActive;
  key.created_at = Now();
  key.retired_at.reset();
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 RETURN_IF_ERROR(
                     tx.Exec(kRetireActiveCaKey,
                             {Param::Text(CaKeyPurposeName(key.purpose)),
                              TimeParam(key.created_at)})
                         .status());
                 return InsertCaKey(tx, key).status();
               }),
      CaKeyWhat(key.fingerprint)));
  return key;
}

absl::StatusOr<CaKey> SqlStore::RetireCaKey(std::string_view fingerprint) {
  RETURN_IF_ERROR(
      ValidateText("CA key fingerprint", fingerprint, kMaxNameBytes, true));
  const absl::Time now = Now();
  std::vector<Row> rows;
  bool exists = false;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kSerializable,
               [&](Tx& tx) -> absl::Status {
                 ASSIGN_OR_RETURN(
                     rows, tx.Query(kRetireCaKey, {Param::Text(fingerprint),
                                                   TimeParam(now)}));
                 if (!rows.empty()) return absl::OkStatus();
                 ASSIGN_OR_RETURN(
                     std::vector<Row> existing,
                     tx.Query(kSelectCaKey, {Param::Text(fingerprint)}));
                 exists = !existing.empty();
                 return absl::OkStatus();
               }),
      CaKeyWhat(fingerprint)));
  if (rows.empty()) {
    if (!exists) return NotFound(CaKeyWhat(fingerprint));
    return absl::FailedPreconditionError(
        absl::StrCat(CaKeyWhat(fingerprint), " is already retired"));
  }
  return CaKeyFromRow(rows[0]);
}

absl::StatusOr<std::vector<CaKey>> SqlStore::ListCaKeys(
    std::optional<CaKeyPurpose> purpose) {
  std::vector<Row> rows;
  RETURN_IF_ERROR(Describe(
      Transact(TxMode::kReadOne,
               [&](Tx& tx) -> absl::Status {
                 if (purpose) {
                   ASSIGN_OR_RETURN(
                       rows,
                       tx.Query(kListCaKeysByPurpose,
                                {Param::Text(CaKeyPurposeName(*purpose))}));
                 } else {
                   ASSIGN_OR_RETURN(rows, tx.Query(kListCaKeys, {}));
                 }
                 return absl::OkStatus();
               }),
      "list CA keys"));
  std::vector<CaKey> keys;
  for (const Row& r : rows) {
    ASSIGN_OR_RETURN(CaKey k, CaKeyFromRow(r));
    keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end(), [](const CaKey& a, const CaKey& b) {
    return std::tie(a.created_at, a.fingerprint) <
           std::tie(b.created_at, b.fingerprint);
  });
  return keys;
}

}  // namespace sallyport::storage::sql
