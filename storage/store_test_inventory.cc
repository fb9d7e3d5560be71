// Store suite: hosts, certificates, serials, CA keys (revocations:
// store_test_revocations.cc).
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "storage/store_test_suite.h"

namespace sallyport::storage::testing {
namespace {

Host MakeHost(std::string name) {
  Host h;
  h.name = std::move(name);
  h.address = "10.0.0.7";
  h.port = 2022;
  h.labels = {{"env", "prod"}, {"team", "web"}, {"empty", ""}};
  h.trust = HostTrust::kPinnedKey;
  h.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOo web01";
  return h;
}

TEST_P(StoreTest, HostsWithLabels) {
  SP_ASSERT_OK_AND_ASSIGN(Host web, store_->CreateHost(MakeHost("web01")));
  SP_ASSERT_OK_AND_ASSIGN(Host got, store_->GetHost("web01"));
  EXPECT_EQ(got, web);
  EXPECT_EQ(got.labels.at("env"), "prod");
  EXPECT_EQ(got.labels.at("empty"), "");
  SP_EXPECT_CODE(store_->CreateHost(MakeHost("web01")), kAlreadyExists);

  Host ca = MakeHost("db01");
  ca.trust = HostTrust::kHostCa;
  ca.host_key.clear();
  ca.labels.clear();
  SP_ASSERT_OK(store_->CreateHost(ca));
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Host> hosts, store_->ListHosts());
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(hosts[0].name, "db01");
  EXPECT_TRUE(hosts[0].labels.empty());
  EXPECT_EQ(hosts[0].trust, HostTrust::kHostCa);
  EXPECT_EQ(hosts[1], web);

  clock_.Advance(absl::Minutes(1));
  web.labels = {{"env", "staging"}};
  web.port = 22;
  SP_ASSERT_OK_AND_ASSIGN(Host updated, store_->UpdateHost(web));
  EXPECT_EQ(updated.created_at, web.created_at);
  EXPECT_EQ(updated.updated_at, clock_.Now());
  SP_ASSERT_OK_AND_ASSIGN(got, store_->GetHost("web01"));
  EXPECT_EQ(got, updated);
  EXPECT_EQ(got.labels.size(), 1u);
  SP_EXPECT_CODE(store_->UpdateHost(MakeHost("nope")), kNotFound);

  Host pinned_without_key = MakeHost("x");
  pinned_without_key.host_key.clear();
  SP_EXPECT_CODE(store_->CreateHost(pinned_without_key), kInvalidArgument);
  Host port0 = MakeHost("y");
  port0.port = 0;
  SP_EXPECT_CODE(store_->CreateHost(port0), kInvalidArgument);

  SP_ASSERT_OK(store_->DeleteHost("web01"));
  SP_EXPECT_CODE(store_->GetHost("web01"), kNotFound);
  SP_EXPECT_CODE(store_->DeleteHost("web01"), kNotFound);
}

// Host names are DNS names: stored in lowercase, found in any case (stock
// ssh lowercases the host it is given: `ssh -J gw Web01` asks for web01).
TEST_P(StoreTest, HostNamesIgnoreCase) {
  SP_ASSERT_OK_AND_ASSIGN(Host web, store_->CreateHost(MakeHost("Web01.Prod")));
  EXPECT_EQ(web.name, "web01.prod");
  SP_ASSERT_OK_AND_ASSIGN(Host got, store_->GetHost("WEB01.prod"));
  EXPECT_EQ(got.name, "web01.prod");
  EXPECT_EQ(got.labels.size(), 3u);
  SP_ASSERT_OK_AND_ASSIGN(got, store_->GetHost("web01.prod"));
  SP_EXPECT_CODE(store_->CreateHost(MakeHost("web01.PROD")), kAlreadyExists);
  IssuanceReads reads;
  reads.host = "wEb01.pRoD";
  SP_ASSERT_OK_AND_ASSIGN(IssuanceSnapshot snap,
                          store_->ReadForIssuance(reads));
  ASSERT_TRUE(snap.host.has_value() && snap.host->ok());
  EXPECT_EQ((*snap.host)->name, "web01.prod");
  Host edit = MakeHost("WEB01.PROD");
  edit.port = 22;
  SP_ASSERT_OK_AND_ASSIGN(Host updated, store_->UpdateHost(edit));
  EXPECT_EQ(updated.name, "web01.prod");
  SP_ASSERT_OK_AND_ASSIGN(got, store_->GetHost("web01.prod"));
  EXPECT_EQ(got.port, 22);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Host> hosts, store_->ListHosts());
  ASSERT_EQ(hosts.size(), 1u);
  SP_ASSERT_OK_AND_ASSIGN(std::string deleted,
                          store_->DeleteHost("Web01.PROD"));
  EXPECT_EQ(deleted, "web01.prod");
  SP_EXPECT_CODE(store_->GetHost("web01.prod"), kNotFound);
}

// An admin's host edit made from an old read must not undo another's: a
// stale address edit would put back the pinned key replaced meanwhile.
TEST_P(StoreTest, HostUpdatesFromAnOldReadAreRefused) {
  SP_ASSERT_OK_AND_ASSIGN(Host read, store_->CreateHost(MakeHost("web01")));
  // The clock does not move: updated_at must still change with each update.
  Host rekey = read;
  rekey.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBb web01";
  SP_ASSERT_OK_AND_ASSIGN(Host rekeyed,
                          store_->UpdateHost(rekey, read.updated_at));
  EXPECT_GT(rekeyed.updated_at, read.updated_at);
  SP_ASSERT_OK_AND_ASSIGN(Host got, store_->GetHost("web01"));
  EXPECT_EQ(got, rekeyed);
  Host stale = read;
  stale.address = "10.0.0.8";
  const absl::Status st = store_->UpdateHost(stale, read.updated_at).status();
  SP_EXPECT_CODE(st, kAborted);
  EXPECT_TRUE(absl::StrContains(st.message(), "host 'web01' was changed at"))
      << st;
  SP_ASSERT_OK_AND_ASSIGN(got, store_->GetHost("web01"));
  EXPECT_EQ(got, rekeyed);
  // From the current version (named in any case), and unconditionally, it
  // applies.
  got.name = "WEB01";
  got.address = "10.0.0.8";
  SP_ASSERT_OK_AND_ASSIGN(Host moved,
                          store_->UpdateHost(got, rekeyed.updated_at));
  EXPECT_EQ(moved.address, "10.0.0.8");
  EXPECT_EQ(moved.host_key, rekey.host_key);
  EXPECT_GT(moved.updated_at, rekeyed.updated_at);
  SP_ASSERT_OK(store_->UpdateHost(stale).status());
  SP_EXPECT_CODE(store_->UpdateHost(MakeHost("nope"), read.updated_at),
                 kNotFound);
}

TEST_P(StoreTest, SerialsIncreaseAndCertificatesRoundTrip) {
  SP_ASSERT_OK_AND_ASSIGN(uint64_t s1, store_->AllocateSerial());
  SP_ASSERT_OK_AND_ASSIGN(uint64_t s2, store_->AllocateSerial());
  EXPECT_GE(s1, 1u);
  EXPECT_GT(s2, s1);

  const absl::Time t0 = clock_.Now();
  IssuedCertificate login =
      MakeCert(s1, "alice", CertificatePurpose::kLogin, t0, absl::Hours(8));
  SP_ASSERT_OK_AND_ASSIGN(IssuedCertificate rec,
                          store_->RecordCertificate(login));
  EXPECT_EQ(rec.issued_at, clock_.Now());
  SP_ASSERT_OK_AND_ASSIGN(IssuedCertificate got, store_->GetCertificate(s1));
  EXPECT_EQ(got, rec);
  SP_EXPECT_CODE(store_->RecordCertificate(login), kAlreadyExists);
  SP_EXPECT_CODE(store_->GetCertificate(s2), kNotFound);

  // Forever certificates (OpenSSH valid_before = max) round-trip.
  IssuedCertificate host = MakeCert(s2, "", CertificatePurpose::kHost,
                                    absl::InfinitePast(), absl::ZeroDuration());
  host.valid_before = absl::InfiniteFuture();
  host.principals = {"web01", "web01.example.com"};
  SP_ASSERT_OK(store_->RecordCertificate(host));
  SP_ASSERT_OK_AND_ASSIGN(got, store_->GetCertificate(s2));
  EXPECT_EQ(got.valid_after, absl::InfinitePast());
  EXPECT_EQ(got.valid_before, absl::InfiniteFuture());
  EXPECT_EQ(got.principals, host.principals);

  IssuedCertificate bad = login;
  bad.serial = 0;
  SP_EXPECT_CODE(store_->RecordCertificate(bad), kInvalidArgument);
  bad = login;
  bad.serial = 99;
  bad.principals.clear();
  SP_EXPECT_CODE(store_->RecordCertificate(bad), kInvalidArgument);
  bad = login;
  bad.serial = 99;
  bad.valid_before = bad.valid_after;
  SP_EXPECT_CODE(store_->RecordCertificate(bad), kInvalidArgument);
}

TEST_P(StoreTest, CertificateAndItsAuditEventAreRecordedTogether) {
  const absl::Time t0 = clock_.Now();
  SP_ASSERT_OK_AND_ASSIGN(uint64_t s1, store_->AllocateSerial());
  SP_ASSERT_OK_AND_ASSIGN(uint64_t s2, store_->AllocateSerial());
  IssuedCertificate cert =
      MakeCert(s1, "alice", CertificatePurpose::kLogin, t0, absl::Hours(8));
  AuditEventInput issued{"cert.issued", "alice", R"({"serial":1})"};
  SP_ASSERT_OK_AND_ASSIGN(AuditHead before, store_->GetAuditHead());
  SP_ASSERT_OK_AND_ASSIGN(IssuedCertificate rec,
                          store_->RecordCertificateWithAudit(cert, issued));
  SP_ASSERT_OK_AND_ASSIGN(IssuedCertificate got, store_->GetCertificate(s1));
  EXPECT_EQ(got, rec);
  SP_ASSERT_OK_AND_ASSIGN(AuditHead after, store_->GetAuditHead());
  ASSERT_EQ(after.seq, before.seq + 1);
  SP_ASSERT_OK_AND_ASSIGN(auto events, store_->ListAuditEvents(before.seq, 10));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "cert.issued");
  EXPECT_EQ(events[0].payload_json, issued.payload_json);

  // The certificate cannot be recorded (a known serial): the event, appended
  // first in the same transaction, is rolled back.
  SP_EXPECT_CODE(store_->RecordCertificateWithAudit(cert, issued),
                 kAlreadyExists);
  SP_ASSERT_OK_AND_ASSIGN(AuditHead unchanged, store_->GetAuditHead());
  EXPECT_EQ(unchanged.seq, after.seq);
  EXPECT_EQ(unchanged.hash, after.hash);
  // The event cannot be appended: no certificate either.
  cert.serial = s2;
  SP_EXPECT_CODE(store_->RecordCertificateWithAudit(
                     cert, AuditEventInput{"", "alice", "{}"}),
                 kInvalidArgument);
  SP_EXPECT_CODE(store_->GetCertificate(s2), kNotFound);
  SP_ASSERT_OK_AND_ASSIGN(unchanged, store_->GetAuditHead());
  EXPECT_EQ(unchanged.seq, after.seq);
}

TEST_P(StoreTest, ListCertificatesFiltersAndPages) {
  const absl::Time t0 = clock_.Now();
  std::vector<uint64_t> serials;
  for (int i = 0; i < 6; ++i) {
    SP_ASSERT_OK_AND_ASSIGN(uint64_t s, store_->AllocateSerial());
    serials.push_back(s);
    const std::string user = i % 2 == 0 ? "alice" : "bob";
    const CertificatePurpose purpose =
        i < 4 ? CertificatePurpose::kLogin : CertificatePurpose::kSession;
    SP_ASSERT_OK(store_->RecordCertificate(
        MakeCert(s, user, purpose, t0 + absl::Hours(i), absl::Hours(2))));
  }
  CertificateFilter f;
  SP_ASSERT_OK_AND_ASSIGN(auto all, store_->ListCertificates(f));
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(all[i].serial, serials[i]);

  f.user = "alice";
  SP_ASSERT_OK_AND_ASSIGN(auto alice, store_->ListCertificates(f));
  EXPECT_EQ(alice.size(), 3u);
  f.purpose = CertificatePurpose::kSession;
  SP_ASSERT_OK_AND_ASSIGN(auto alice_sessions, store_->ListCertificates(f));
  ASSERT_EQ(alice_sessions.size(), 1u);
  EXPECT_EQ(alice_sessions[0].serial, serials[4]);

  CertificateFilter at;
  at.valid_at = t0 + absl::Hours(3) + absl::Minutes(30);  // certs 2 and 3
  SP_ASSERT_OK_AND_ASSIGN(auto valid, store_->ListCertificates(at));
  ASSERT_EQ(valid.size(), 2u);
  EXPECT_EQ(valid[0].serial, serials[2]);
  EXPECT_EQ(valid[1].serial, serials[3]);
  at.valid_at = t0 + absl::Hours(3);  // valid_before is exclusive
  SP_ASSERT_OK_AND_ASSIGN(valid, store_->ListCertificates(at));
  ASSERT_EQ(valid.size(), 2u);
  EXPECT_EQ(valid[0].serial, serials[2]);

  CertificateFilter page;
  page.limit = 4;
  SP_ASSERT_OK_AND_ASSIGN(auto p1, store_->ListCertificates(page));
  ASSERT_EQ(p1.size(), 4u);
  page.after_serial = p1.back().serial;
  SP_ASSERT_OK_AND_ASSIGN(auto p2, store_->ListCertificates(page));
  ASSERT_EQ(p2.size(), 2u);
  EXPECT_EQ(p2[0].serial, serials[4]);
  page.limit = 0;
  SP_EXPECT_CODE(store_->ListCertificates(page), kInvalidArgument);
}

// ReadForIssuance answers as the single calls do, in one go (one read
// transaction on SQLite, one pipeline on PostgreSQL).
TEST_P(StoreTest, ReadForIssuanceMatchesTheSingleReads) {
  User alice;
  alice.name = "alice";
  SP_ASSERT_OK(store_->CreateUser(alice));
  Role role;
  role.name = "ops";
  role.logins = {"ubuntu"};
  SP_ASSERT_OK(store_->CreateRole(role));
  SP_ASSERT_OK(store_->BindRole("alice", "ops"));
  SP_ASSERT_OK(store_->CreateHost(MakeHost("web01")));
  SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, store_->AllocateSerial());
  SP_ASSERT_OK(store_->RecordCertificate(
      MakeCert(serial, "alice", CertificatePurpose::kLogin,
               absl::FromUnixSeconds(1700000000), absl::Hours(8))));
  Revocation by_key;
  by_key.key_fingerprint = "SHA256:revoked";
  by_key.reason = "test";
  by_key.revoked_by = "admin";
  SP_ASSERT_OK(store_->Revoke(by_key));

  IssuanceReads reads;
  reads.revocations = {{serial, ""}, {7, "SHA256:revoked"}, {0, "SHA256:ok"}};
  reads.user = "alice";
  reads.roles = true;
  reads.certificate = serial;
  reads.host = "web01";
  SP_ASSERT_OK_AND_ASSIGN(IssuanceSnapshot got, store_->ReadForIssuance(reads));
  EXPECT_EQ(got.revoked, (std::vector<bool>{false, true, false}));
  ASSERT_TRUE(got.user.has_value());
  SP_ASSERT_OK_AND_ASSIGN(User single_user, store_->GetUser("alice"));
  ASSERT_TRUE(got.user->ok());
  EXPECT_EQ(**got.user, single_user);
  SP_ASSERT_OK_AND_ASSIGN(auto single_roles, store_->ListRolesForUser("alice"));
  EXPECT_EQ(got.roles, single_roles);
  ASSERT_EQ(got.roles.size(), 1u);
  ASSERT_TRUE(got.certificate.has_value() && got.certificate->ok());
  SP_ASSERT_OK_AND_ASSIGN(auto single_cert, store_->GetCertificate(serial));
  EXPECT_EQ(**got.certificate, single_cert);
  ASSERT_TRUE(got.host.has_value() && got.host->ok());
  SP_ASSERT_OK_AND_ASSIGN(Host single_host, store_->GetHost("web01"));
  EXPECT_EQ(**got.host, single_host);
  EXPECT_EQ((*got.host)->labels.size(), 3u);

  // Missing records and refused names are the fields' answers; roles are
  // read only when asked for.
  IssuanceReads missing;
  missing.user = "nobody";
  missing.certificate = serial + 1000;
  missing.host = std::string(kMaxNameBytes + 1, 'h');  // too long
  SP_ASSERT_OK_AND_ASSIGN(IssuanceSnapshot none,
                          store_->ReadForIssuance(missing));
  EXPECT_TRUE(none.revoked.empty());
  SP_EXPECT_CODE(*none.user, kNotFound);
  SP_EXPECT_CODE(*none.certificate, kNotFound);
  SP_EXPECT_CODE(*none.host, kInvalidArgument);
  SP_EXPECT_CODE(store_->GetHost(missing.host), kInvalidArgument);
  EXPECT_TRUE(none.roles.empty());
  missing.host = "db01";
  SP_ASSERT_OK_AND_ASSIGN(none, store_->ReadForIssuance(missing));
  SP_EXPECT_CODE(*none.host, kNotFound);
  // Nothing asked: nothing read.
  SP_ASSERT_OK_AND_ASSIGN(none, store_->ReadForIssuance(IssuanceReads()));
  EXPECT_FALSE(none.user.has_value() || none.host.has_value() ||
               none.certificate.has_value());
  // A bad fingerprint fails the whole call, like IsRevoked.
  IssuanceReads bad;
  bad.revocations = {{1, std::string("bad\0fp", 6)}};
  SP_EXPECT_CODE(store_->ReadForIssuance(bad), kInvalidArgument);
}

// certificate_key_revoked: the key a certificate certifies, by the
// fingerprint recorded with it, whether or not its serial is revoked.
TEST_P(StoreTest, ReadForIssuanceAsksWhetherTheCertificatesKeyIsRevoked) {
  SP_ASSERT_OK_AND_ASSIGN(uint64_t serial, store_->AllocateSerial());
  SP_ASSERT_OK(store_->RecordCertificate(
      MakeCert(serial, "bob", CertificatePurpose::kLogin,
               absl::FromUnixSeconds(1700000000), absl::Hours(8))));
  IssuanceReads reads;
  reads.certificate = serial;
  reads.certificate_key_revoked = true;
  SP_ASSERT_OK_AND_ASSIGN(IssuanceSnapshot got, store_->ReadForIssuance(reads));
  EXPECT_EQ(got.certificate_key_revoked, std::optional<bool>(false));
  Revocation other;
  other.key_fingerprint = "SHA256:key-of-alice";
  other.reason = "test";
  other.revoked_by = "admin";
  SP_ASSERT_OK(store_->Revoke(other));
  SP_ASSERT_OK_AND_ASSIGN(got, store_->ReadForIssuance(reads));
  EXPECT_EQ(got.certificate_key_revoked, std::optional<bool>(false));
  Revocation by_key = other;
  by_key.key_fingerprint = "SHA256:key-of-bob";
  SP_ASSERT_OK(store_->Revoke(by_key));
  SP_ASSERT_OK_AND_ASSIGN(got, store_->ReadForIssuance(reads));
  EXPECT_EQ(got.certificate_key_revoked, std::optional<bool>(true));
  EXPECT_TRUE(got.revoked.empty());  // the serial was not asked
  // Not asked: not read; an unknown certificate's key is not revoked.
  reads.certificate_key_revoked = false;
  SP_ASSERT_OK_AND_ASSIGN(got, store_->ReadForIssuance(reads));
  EXPECT_FALSE(got.certificate_key_revoked.has_value());
  reads.certificate_key_revoked = true;
  reads.certificate = serial + 1000;
  SP_ASSERT_OK_AND_ASSIGN(got, store_->ReadForIssuance(reads));
  EXPECT_EQ(got.certificate_key_revoked, std::optional<bool>(false));
}

TEST_P(StoreTest, CaKeyRotation) {
  CaKey k1;
  k1.fingerprint = "SHA256:ca-one";
  k1.public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 user-ca";
  SP_ASSERT_OK_AND_ASSIGN(CaKey added, store_->AddCaKey(k1));
  EXPECT_EQ(added.state, CaKeyState::kActive);
  EXPECT_EQ(added.created_at, clock_.Now());
  SP_EXPECT_CODE(store_->AddCaKey(k1), kAlreadyExists);

  CaKey k2 = k1;
  k2.fingerprint = "SHA256:ca-two";
  // Only one active key per purpose.
  const absl::Status two_active = store_->AddCaKey(k2).status();
  EXPECT_EQ(two_active.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(two_active.message().find("ca-one"), absl::string_view::npos);
  CaKey host = k1;
  host.fingerprint = "SHA256:host-ca";
  host.purpose = CaKeyPurpose::kHost;
  SP_ASSERT_OK(store_->AddCaKey(host));

  clock_.Advance(absl::Hours(24));
  SP_ASSERT_OK_AND_ASSIGN(CaKey rotated, store_->RotateCaKey(k2));
  EXPECT_EQ(rotated.state, CaKeyState::kActive);
  SP_ASSERT_OK_AND_ASSIGN(auto user_keys,
                          store_->ListCaKeys(CaKeyPurpose::kUser));
  ASSERT_EQ(user_keys.size(), 2u);
  EXPECT_EQ(user_keys[0].fingerprint, "SHA256:ca-one");
  EXPECT_EQ(user_keys[0].state, CaKeyState::kRetired);
  EXPECT_EQ(user_keys[0].retired_at, clock_.Now());
  EXPECT_EQ(user_keys[1], rotated);
  // Rotating to a key that already exists changes nothing.
  SP_EXPECT_CODE(store_->RotateCaKey(k1), kAlreadyExists);
  SP_ASSERT_OK_AND_ASSIGN(user_keys, store_->ListCaKeys(CaKeyPurpose::kUser));
  EXPECT_EQ(user_keys[1].state, CaKeyState::kActive);

  SP_ASSERT_OK_AND_ASSIGN(CaKey retired, store_->RetireCaKey("SHA256:host-ca"));
  EXPECT_EQ(retired.state, CaKeyState::kRetired);
  SP_EXPECT_CODE(store_->RetireCaKey("SHA256:host-ca"), kFailedPrecondition);
  SP_EXPECT_CODE(store_->RetireCaKey("SHA256:unknown"), kNotFound);
  SP_ASSERT_OK_AND_ASSIGN(auto all, store_->ListCaKeys(std::nullopt));
  EXPECT_EQ(all.size(), 3u);
}

// Version 8 adds the purpose 'session' (the key that signs only session
// certificates): a database at version 7 keeps its CA keys, retired and
// active, and takes an active session key beside the active user key.
TEST_P(StoreTest, CaKeysFromVersion7SurviveTheSessionPurpose) {
  const absl::Span<const migrations::Migration> all = backend_->Migrations();
  ASSERT_GE(all.size(), 8u);
  EXPECT_STREQ(all[7].name, "session_ca_keys");
  const std::string rows =
      "INSERT INTO ca_keys (fingerprint, purpose, public_key, state, "
      "created_at_us, retired_at_us) VALUES "
      "('SHA256:old', 'user', 'ssh-ed25519 AAAA old', 'retired', 1, 2), "
      "('SHA256:new', 'user', 'ssh-ed25519 AAAA new', 'active', 2, NULL), "
      "('SHA256:host', 'host', 'ssh-ed25519 AAAA host', 'active', 3, NULL);"
      "\n";
  std::unique_ptr<Store> upgraded = UpgradeFrom(7, rows);
  ASSERT_NE(upgraded, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(std::vector<CaKey> keys,
                          upgraded->ListCaKeys(std::nullopt));
  ASSERT_EQ(keys.size(), 3u);
  SP_ASSERT_OK_AND_ASSIGN(keys, upgraded->ListCaKeys(CaKeyPurpose::kUser));
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].fingerprint, "SHA256:old");
  EXPECT_EQ(keys[0].state, CaKeyState::kRetired);
  EXPECT_EQ(keys[0].retired_at, absl::FromUnixMicros(2));
  EXPECT_EQ(keys[1].state, CaKeyState::kActive);

  CaKey session;
  session.fingerprint = "SHA256:session";
  session.purpose = CaKeyPurpose::kSession;
  session.public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA1 session-ca";
  SP_ASSERT_OK(upgraded->AddCaKey(session));
  // Still one active key per purpose, the new one included.
  CaKey second = session;
  second.fingerprint = "SHA256:session-2";
  SP_EXPECT_CODE(upgraded->AddCaKey(second), kAlreadyExists);
  SP_ASSERT_OK_AND_ASSIGN(keys, upgraded->ListCaKeys(CaKeyPurpose::kSession));
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].state, CaKeyState::kActive);
  // The rebuilt table keeps its partial unique index: a second active key
  // of a purpose is refused by the database itself, not only by the store.
  EXPECT_FALSE(
      backend_
          ->ExecRawSql(
              "INSERT INTO ca_keys (fingerprint, purpose, public_key, state, "
              "created_at_us) VALUES ('SHA256:raw', 'session', 'k', 'active', "
              "1)")
          .ok());
  SP_EXPECT_OK(backend_->ExecRawSql(
      "INSERT INTO ca_keys (fingerprint, purpose, public_key, state, "
      "created_at_us, retired_at_us) VALUES ('SHA256:raw', 'session', 'k', "
      "'retired', 1, 2)"));
  // Nothing else: the column's check still refuses unknown purposes.
  EXPECT_FALSE(
      backend_
          ->ExecRawSql(
              "INSERT INTO ca_keys (fingerprint, purpose, public_key, state, "
              "created_at_us) VALUES ('SHA256:x', 'login', 'k', 'active', 1)")
          .ok());
}

// Version 9 keeps host names in lowercase: hosts stored with capitals are
// renamed with their labels, unless the lowercase name is taken (then the
// capitalised one stays, and GetHost, UpdateHost and DeleteHost find it by
// its name).
TEST_P(StoreTest, HostNamesFromVersion8AreLowercased) {
  const absl::Span<const migrations::Migration> all = backend_->Migrations();
  ASSERT_GE(all.size(), 9u);
  EXPECT_STREQ(all[8].name, "host_names_lowercase");
  const std::string rows =
      "INSERT INTO hosts (name, address, port, trust, host_key, "
      "created_at_us, updated_at_us) VALUES "
      "('Web01', '10.0.0.1', 22, 'host-ca', '', 1, 2), "
      "('DB01', '10.0.0.2', 22, 'host-ca', '', 1, 2), "
      "('db01', '10.0.0.3', 22, 'host-ca', '', 1, 2), "
      "('Mail', '10.0.0.4', 22, 'host-ca', '', 1, 2), "
      "('MAIL', '10.0.0.5', 22, 'host-ca', '', 1, 2), "
      "('plain', '10.0.0.6', 22, 'host-ca', '', 1, 2);\n"
      "INSERT INTO host_labels (host_name, key, value) VALUES "
      "('Web01', 'env', 'prod'), ('Web01', 'team', 'web');\n";
  std::unique_ptr<Store> upgraded = UpgradeFrom(8, rows);
  ASSERT_NE(upgraded, nullptr);
  SP_ASSERT_OK_AND_ASSIGN(Host web, upgraded->GetHost("WEB01"));
  EXPECT_EQ(web.name, "web01");
  EXPECT_EQ(web.address, "10.0.0.1");
  EXPECT_EQ(web.created_at, absl::FromUnixMicros(1));
  EXPECT_EQ(web.labels, (std::map<std::string, std::string>{{"env", "prod"},
                                                            {"team", "web"}}));
  // db01 was taken: DB01 stays, and is the host its exact name means;
  // another spelling means db01.
  SP_ASSERT_OK_AND_ASSIGN(Host db, upgraded->GetHost("DB01"));
  EXPECT_EQ(db.name, "DB01");
  EXPECT_EQ(db.address, "10.0.0.2");
  SP_ASSERT_OK_AND_ASSIGN(db, upgraded->GetHost("Db01"));
  EXPECT_EQ(db.address, "10.0.0.3");
  // Two spellings of one name: the smallest ("MAIL") is renamed.
  SP_ASSERT_OK_AND_ASSIGN(Host mail, upgraded->GetHost("mail"));
  EXPECT_EQ(mail.address, "10.0.0.5");
  SP_ASSERT_OK_AND_ASSIGN(mail, upgraded->GetHost("Mail"));
  EXPECT_EQ(mail.address, "10.0.0.4");
  SP_ASSERT_OK_AND_ASSIGN(std::vector<Host> hosts, upgraded->ListHosts());
  std::set<std::string> names;
  for (const Host& h : hosts) names.insert(h.name);
  EXPECT_EQ(names, (std::set<std::string>{"DB01", "Mail", "db01", "mail",
                                          "plain", "web01"}));
  // Once db01 is gone, DB01 is still found (spctl hosts show), changed
  // (hosts edit, label) and read for the gateway by its name: it could be
  // deleted but nothing else.
  SP_ASSERT_OK_AND_ASSIGN(std::string deleted, upgraded->DeleteHost("db01"));
  EXPECT_EQ(deleted, "db01");
  SP_ASSERT_OK_AND_ASSIGN(db, upgraded->GetHost("DB01"));
  EXPECT_EQ(db.name, "DB01");
  EXPECT_EQ(db.address, "10.0.0.2");
  db.address = "10.0.0.7";
  db.labels = {{"env", "old"}};
  SP_ASSERT_OK_AND_ASSIGN(Host updated,
                          upgraded->UpdateHost(db, db.updated_at));
  EXPECT_EQ(updated.name, "DB01");
  IssuanceReads reads;
  reads.host = "DB01";
  SP_ASSERT_OK_AND_ASSIGN(IssuanceSnapshot snap,
                          upgraded->ReadForIssuance(reads));
  ASSERT_TRUE(snap.host.has_value() && snap.host->ok());
  EXPECT_EQ((*snap.host)->name, "DB01");
  EXPECT_EQ((*snap.host)->address, "10.0.0.7");
  EXPECT_EQ((*snap.host)->labels,
            (std::map<std::string, std::string>{{"env", "old"}}));
  SP_EXPECT_CODE(upgraded->GetHost("db01"), kNotFound);
  SP_ASSERT_OK_AND_ASSIGN(deleted, upgraded->DeleteHost("DB01"));
  EXPECT_EQ(deleted, "DB01");
  SP_EXPECT_CODE(upgraded->GetHost("DB01"), kNotFound);
  SP_ASSERT_OK_AND_ASSIGN(deleted, upgraded->DeleteHost("Mail"));
  EXPECT_EQ(deleted, "Mail");
  SP_ASSERT_OK_AND_ASSIGN(mail, upgraded->GetHost("Mail"));
  EXPECT_EQ(mail.name, "mail");
}

}  // namespace
}  // namespace sallyport::storage::testing
